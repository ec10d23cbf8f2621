"""REST authentication order, rate-limit windows and pagination."""

from __future__ import annotations

from hybridstream.bybit.signing import sign_rest
from hybridstream.simulator.rest_auth import RateLimiter, assess_signed_request
from hybridstream.simulator.rest_market import build_page

SECRETS = {"KEY": "SECRET"}
NOW = 1_700_000_000_000


def _headers(ts: int = NOW, payload: str = "a=1", key: str = "KEY", secret: str = "SECRET",
             window: int = 5000) -> dict[str, str]:
    return {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": str(ts),
            "X-BAPI-RECV-WINDOW": str(window),
            "X-BAPI-SIGN": sign_rest(secret, ts, key, window, payload)}


def test_valid_request() -> None:
    assert assess_signed_request(_headers(), "a=1", SECRETS, NOW) == ("KEY", None)


def test_unknown_key_is_10003() -> None:
    _, failure = assess_signed_request(_headers(key="NOPE"), "a=1", SECRETS, NOW)
    assert failure is not None and (failure.ret_code, failure.ret_msg) == (
        10003, "API key is invalid.")


def test_stale_timestamp_is_10002_with_bybit_message() -> None:
    _, failure = assess_signed_request(_headers(ts=NOW - 6000), "a=1", SECRETS, NOW)
    assert failure is not None and failure.ret_code == 10002
    assert failure.ret_msg == (
        "invalid request, please check your server timestamp or recv_window param. "
        f"req_timestamp[{NOW - 6000}],server_timestamp[{NOW}],recv_window[5000]")


def test_wrong_signature_is_10004_echoing_the_origin_string() -> None:
    _, failure = assess_signed_request(_headers(payload="a=2"), "a=1", SECRETS, NOW)
    assert failure is not None and failure.ret_code == 10004
    assert failure.ret_msg.endswith(f"origin_string[{NOW}KEY5000a=1]")
    assert "SECRET" not in failure.ret_msg


def test_rate_limiter_window_and_headers() -> None:
    limiter = RateLimiter({"/p": 2}, 50)
    first = limiter.check("u", "/p", NOW + 10)
    assert first.allowed and first.headers() == {
        "X-Bapi-Limit": "2", "X-Bapi-Limit-Status": "1",
        "X-Bapi-Limit-Reset-Timestamp": str(NOW + 1000)}
    assert limiter.check("u", "/p", NOW + 20).allowed
    refused = limiter.check("u", "/p", NOW + 30)
    assert not refused.allowed and refused.remaining == 0
    assert limiter.check("other", "/p", NOW + 30).allowed
    assert limiter.check("u", "/p", NOW + 1000).allowed
    assert not limiter.check("u", "/q", NOW, forced=True).allowed


def test_pages() -> None:
    items = list(range(45))
    page, cursor = build_page(items, 20, "")
    assert page == list(range(20)) and cursor == "page-20"
    page, cursor = build_page(items, 20, cursor)
    page, cursor = build_page(items, 20, cursor)
    assert page == list(range(40, 45)) and cursor == ""
