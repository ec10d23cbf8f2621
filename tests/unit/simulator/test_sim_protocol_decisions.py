"""Pure decisions of the socket handlers: subscriptions, auth, max_active_time, frames."""

from __future__ import annotations

import struct

import pytest
from hybridstream.bybit.signing import sign_ws_auth
from hybridstream.simulator.framing import MALFORMED_KINDS, build_malformed_frame, build_text_frame
from hybridstream.simulator.private_ws import assess_auth, parse_max_active_time
from hybridstream.simulator.public_ws import decide_subscription

KNOWN = {"tickers.BTCUSDT", "tickers.ETHUSDT"}


@pytest.mark.parametrize(("topics", "current", "batch", "added", "error"), [
    (["tickers.BTCUSDT"], set(), False, ["tickers.BTCUSDT"], None),
    (["tickers.BTCUSDT", "tickers.NOPE"], set(), False, ["tickers.BTCUSDT"],
     "error:handler not found,topic:tickers.NOPE"),
    (["tickers.BTCUSDT", "tickers.NOPE"], set(), True, [],
     "error:handler not found,topic:tickers.NOPE"),
    (["tickers.BTCUSDT", "tickers.ETHUSDT"], {"tickers.BTCUSDT"}, False, ["tickers.ETHUSDT"],
     "error:already subscribed,topic:tickers.BTCUSDT"),
])
def test_decide_subscription(topics: list[str], current: set[str], batch: bool,
                             added: list[str], error: str | None) -> None:
    assert decide_subscription(topics, KNOWN, current, batch) == (added, error)


SECRETS = {"K": "S"}


@pytest.mark.parametrize(("expires", "ok"), [(12_000, True), (10_500, False), (9_000, False)])
def test_assess_auth_margin(expires: int, ok: bool) -> None:
    args = ["K", expires, sign_ws_auth("S", expires)]
    assert assess_auth(args, SECRETS, now=10_000, min_margin_ms=2000) is ok


def test_assess_auth_rejects_bad_inputs() -> None:
    assert not assess_auth(["K", 99_999, "00"], SECRETS, 0, 0)
    assert not assess_auth(["X", 99_999, sign_ws_auth("S", 99_999)], SECRETS, 0, 0)
    assert not assess_auth(["K", "soon", "00"], SECRETS, 0, 0)
    assert not assess_auth(["K"], SECRETS, 0, 0)


@pytest.mark.parametrize(("value", "seconds"), [
    (None, None), ("30s", 30.0), ("1m", 60.0), ("600s", 600.0), ("10m", 600.0)])
def test_max_active_time(value: str | None, seconds: float | None) -> None:
    assert parse_max_active_time(value, 30, 600) == seconds


@pytest.mark.parametrize("value", ["29s", "11m", "30", "1h", "abc"])
def test_max_active_time_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        parse_max_active_time(value, 30, 600)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_text_frame_lengths(size: int) -> None:
    frame = build_text_frame(b"x" * size)
    assert frame[0] == 0x81 and frame[1] & 0x80 == 0  # FIN+text, unmasked
    if size < 126:
        assert frame[1] == size and len(frame) == 2 + size
    elif size < 65536:
        assert frame[1] == 126 and struct.unpack("!H", frame[2:4])[0] == size
    else:
        assert frame[1] == 127 and struct.unpack("!Q", frame[2:10])[0] == size


def test_malformed_frames() -> None:
    assert build_malformed_frame("reserved_bits")[0] & 0x40
    assert build_malformed_frame("binary")[0] & 0x0F == 0x2
    assert all(build_malformed_frame(k) for k in MALFORMED_KINDS)
    with pytest.raises(ValueError):
        build_malformed_frame("nope")
