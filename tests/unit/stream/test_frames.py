"""Frame classification against the shapes in docs/bybit-protocol.md."""

from __future__ import annotations

import json

import pytest
from hybridstream.hybrid.frames import (
    CommandAck,
    FrameError,
    Pong,
    PrivateFrame,
    TickerFrame,
    UnknownFrame,
    parse_duplicate_topic,
    parse_frame,
)

LINEAR_PONG = {"success": True, "ret_msg": "pong", "conn_id": "465772b1", "req_id": "",
               "op": "ping"}
PRIVATE_PONG = {"req_id": "test", "op": "pong", "args": ["1675418560633"], "conn_id": "cfc"}
OPTION_PONG = {"args": ["1672916271846"], "op": "pong"}


@pytest.mark.parametrize("msg", [LINEAR_PONG, PRIVATE_PONG, OPTION_PONG])
def test_both_pong_shapes_are_pongs(msg: dict) -> None:
    assert parse_frame(json.dumps(msg)) == Pong()


@pytest.mark.parametrize(("msg", "expected"), [
    ({"success": True, "ret_msg": "", "op": "auth", "conn_id": "c"},
     CommandAck("auth", True, "", "")),
    ({"conn_id": "c", "op": "auth", "ret_msg": "Params Error", "success": False},
     CommandAck("auth", False, "Params Error", "")),
    ({"success": False, "ret_msg": "error:already subscribed,topic:tickers.BTCUSDT",
      "conn_id": "c", "req_id": "7", "op": "subscribe"},
     CommandAck("subscribe", False, "error:already subscribed,topic:tickers.BTCUSDT", "7")),
])
def test_command_acks(msg: dict, expected: CommandAck) -> None:
    assert parse_frame(json.dumps(msg)) == expected


def test_ticker_delta_keeps_only_given_fields() -> None:
    msg = {"topic": "tickers.NKNUSDT", "type": "delta",
           "data": {"symbol": "NKNUSDT", "ask1Price": "0.13942", "ask1Size": "3691"},
           "cs": 93597554249, "ts": 1709202840989}
    frame = parse_frame(json.dumps(msg))
    assert frame == TickerFrame("NKNUSDT", False, msg["data"], 93597554249, 1709202840989)


def test_private_topic_is_normalised() -> None:
    msg = {"id": "1", "topic": "position.linear", "creationTime": 5, "data": [{"symbol": "X"}]}
    assert parse_frame(json.dumps(msg)) == PrivateFrame("position", 5, [{"symbol": "X"}])


@pytest.mark.parametrize("raw", [
    "not json", "[1, 2]", '{"topic": "tickers.X", "type": "delta", "data": [], "ts": 1}',
    '{"topic": "tickers.X", "type": "weird", "data": {}, "ts": 1}',
    '{"topic": "tickers.X", "type": "delta", "data": {}}',
    '{"topic": "position", "data": {"not": "a list"}}', b"\xff\xfe",
])
def test_malformed_frames_raise_frame_error(raw: str | bytes) -> None:
    with pytest.raises(FrameError):
        parse_frame(raw)


def test_unknown_but_valid_frames_are_kept() -> None:
    assert isinstance(parse_frame('{"topic": "kline.1.BTCUSDT", "data": []}'), UnknownFrame)


def test_duplicate_topic_extraction() -> None:
    assert parse_duplicate_topic("error:already subscribed,topic:tickers.BTCUSDT") == \
        "tickers.BTCUSDT"
    assert parse_duplicate_topic("error:handler not found,topic:x") is None
