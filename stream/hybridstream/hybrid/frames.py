"""Classify raw Bybit v5 WebSocket frames into typed messages (pure).

One parser for both sockets, because Bybit's shapes overlap in awkward ways: the linear
public pong is ``{"op": "ping", "ret_msg": "pong"}`` while the private pong is
``{"op": "pong"}`` (docs/bybit-protocol.md §4), and command acks differ per socket (§3).
Decoding uses orjson: JSON decoding was the largest single cost per ticker frame
(bench/results/stream.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

#: Topics of the private socket we consume; ``position.linear`` etc. are the same stream.
PRIVATE_TOPICS = ("position", "order", "execution", "wallet")
TICKER_PREFIX = "tickers."
_TICKER_PREFIX_LEN = len(TICKER_PREFIX)


class FrameError(ValueError):
    """A frame that is not JSON or lacks the fields its shape requires."""


@dataclass(frozen=True, slots=True)
class Pong:
    """A heartbeat answer (either Bybit shape)."""


@dataclass(frozen=True, slots=True)
class CommandAck:
    """Answer to ``auth``, ``subscribe`` or ``unsubscribe``."""

    op: str
    success: bool
    ret_msg: str
    req_id: str


class TickerFrame(NamedTuple):
    """A ``tickers.{symbol}`` push: a full snapshot or a delta of changed fields.

    A NamedTuple, not a frozen dataclass like the rarer frames: it is built once per
    ticker push, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per
    field) cost more than merging the push into the book.
    """

    symbol: str
    snapshot: bool
    data: dict[str, Any]
    cs: int
    ts: int


@dataclass(frozen=True, slots=True)
class PrivateFrame:
    """A private topic push: ``topic`` normalised (``position.linear`` -> ``position``)."""

    topic: str
    creation_time: int
    data: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    """Valid JSON we have no use for (kept so callers can count it)."""

    raw: dict[str, Any]


Frame = Pong | CommandAck | TickerFrame | PrivateFrame | UnknownFrame


def parse_frame(text: str | bytes) -> Frame:
    """Parse one text frame; raises :class:`FrameError` on malformed input."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"not JSON: {exc.__class__.__name__}") from None
    if not isinstance(msg, dict):
        raise FrameError("frame is not a JSON object")
    topic = msg.get("topic")
    if isinstance(topic, str) and topic.startswith(TICKER_PREFIX):
        return _ticker(topic, msg)  # the hot path (nearly every frame), one call shorter
    return parse_message(msg)


def parse_message(msg: dict[str, Any]) -> Frame:
    """Classify an already-decoded frame."""
    topic = msg.get("topic")
    if isinstance(topic, str):
        if topic.startswith(TICKER_PREFIX):
            return _ticker(topic, msg)
        base = topic.split(".", 1)[0]
        if base in PRIVATE_TOPICS:
            return _private(base, msg)
        return UnknownFrame(msg)
    op = msg.get("op")
    # Both pong shapes: private/option ``op == "pong"``, linear/spot ``ret_msg == "pong"``.
    if op == "pong" or msg.get("ret_msg") == "pong":
        return Pong()
    if isinstance(op, str) and "success" in msg:
        return CommandAck(
            op=op,
            success=msg.get("success") is True,
            ret_msg=str(msg.get("ret_msg") or ""),
            req_id=str(msg.get("req_id") or ""),
        )
    return UnknownFrame(msg)


def _ticker(topic: str, msg: dict[str, Any]) -> TickerFrame:
    data, kind, cs, ts = msg.get("data"), msg.get("type"), msg.get("cs") or 0, msg.get("ts")
    if not isinstance(data, dict):
        raise FrameError(f"{topic}: data is not an object")
    snapshot = kind == "snapshot"
    if not snapshot and kind != "delta":
        raise FrameError(f"{topic}: unknown type")
    if type(ts) is not int or type(cs) is not int:  # Bybit sends ints; coerce the rest
        try:
            cs, ts = int(cs), int(ts)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FrameError(f"{topic}: bad ts/cs") from None
    return TickerFrame(topic[_TICKER_PREFIX_LEN:], snapshot, data, cs, ts)


def _private(topic: str, msg: dict[str, Any]) -> PrivateFrame:
    data = msg.get("data")
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise FrameError(f"{topic}: data is not a list of objects")
    try:
        created = int(msg.get("creationTime") or 0)
    except (TypeError, ValueError):
        raise FrameError(f"{topic}: bad creationTime") from None
    return PrivateFrame(topic, created, data)


def parse_duplicate_topic(ret_msg: str) -> str | None:
    """The topic of an ``error:already subscribed,topic:X`` ack (Bybit, observed), else None.

    The existing subscription keeps delivering, so this failure means "subscribed".
    """
    marker = "already subscribed,topic:"
    idx = ret_msg.find(marker)
    return ret_msg[idx + len(marker):].strip() if idx >= 0 else None
