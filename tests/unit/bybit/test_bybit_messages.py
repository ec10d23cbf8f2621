"""Message shapes against the examples in docs/bybit-protocol.md."""

from __future__ import annotations

import pytest
from hybridstream.bybit.messages import (
    build_already_subscribed_msg,
    build_handler_not_found_msg,
    build_linear_pong,
    build_private_op_ack,
    build_private_pong,
    build_private_push,
    build_public_op_ack,
    build_ticker_message,
    is_pong,
    parse_topic,
)
from hybridstream.bybit.rest_envelope import (
    RetCode,
    assess_timestamp,
    build_envelope,
    build_sign_error_msg,
    build_timestamp_error_msg,
)


def test_linear_ack_always_has_req_id() -> None:
    assert build_public_op_ack("subscribe", "c1", None) == {
        "success": True, "ret_msg": "", "conn_id": "c1", "req_id": "", "op": "subscribe"}
    assert build_public_op_ack("unsubscribe", "c1", "3")["req_id"] == "3"


def test_private_ack_echoes_req_id_only_when_sent() -> None:
    assert build_private_op_ack("subscribe", "c2", None) == {
        "success": True, "ret_msg": "", "op": "subscribe", "conn_id": "c2"}
    assert build_private_op_ack("auth", "c2", "10001", False, "Params Error") == {
        "success": False, "ret_msg": "Params Error", "op": "auth", "conn_id": "c2",
        "req_id": "10001"}


def test_pongs() -> None:
    linear = build_linear_pong("c", None)
    assert linear == {"success": True, "ret_msg": "pong", "conn_id": "c", "req_id": "",
                      "op": "ping"}
    private = build_private_pong("c", "test", 1675418560633)
    assert private == {"req_id": "test", "op": "pong", "args": ["1675418560633"],
                       "conn_id": "c"}
    assert is_pong(linear) and is_pong(private)
    assert not is_pong({"op": "subscribe", "ret_msg": ""})


def test_error_strings() -> None:
    assert (build_handler_not_found_msg("orderbook.50.NOPEUSDT")
            == "error:handler not found,topic:orderbook.50.NOPEUSDT")
    assert (build_already_subscribed_msg("kline.1.BTCUSDT")
            == "error:already subscribed,topic:kline.1.BTCUSDT")


def test_envelopes() -> None:
    ticker = build_ticker_message("NKNUSDT", "delta", {"symbol": "NKNUSDT"}, 9, 17)
    assert ticker == {"topic": "tickers.NKNUSDT", "type": "delta",
                      "data": {"symbol": "NKNUSDT"}, "cs": 9, "ts": 17}
    push = build_private_push("id1", "position", 5, [{"a": 1}])
    assert list(push) == ["id", "topic", "creationTime", "data"]


@pytest.mark.parametrize(("topic", "parsed"), [
    ("tickers.BTCUSDT", ("tickers", "BTCUSDT")),
    ("position", ("position", None)),
    ("position.linear", ("position.linear", None)),
])
def test_parse_topic(topic: str, parsed: tuple[str, str | None]) -> None:
    assert parse_topic(topic) == parsed


def test_rest_envelope_and_messages() -> None:
    assert build_envelope(None, 5) == {"retCode": 0, "retMsg": "OK", "result": {},
                                       "retExtInfo": {}, "time": 5}
    assert build_envelope(None, 5, RetCode.SIGN_ERROR, "x")["retCode"] == 10004
    assert build_timestamp_error_msg("1", 2, 5000) == (
        "invalid request, please check your server timestamp or recv_window param. "
        "req_timestamp[1],server_timestamp[2],recv_window[5000]")
    assert build_sign_error_msg("abc").endswith("origin_string[abc]")


@pytest.mark.parametrize(("ts", "ok"), [
    (10_000 - 5000, True), (10_000 - 5001, False), (10_999, True), (11_000, False)])
def test_timestamp_window(ts: int, ok: bool) -> None:
    assert assess_timestamp(ts, 10_000, 5000) is ok
