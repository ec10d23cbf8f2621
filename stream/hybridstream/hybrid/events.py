"""The unified event every mode emits, whatever its source (hybrid WebSockets or REST).

Consumers see one shape: ``type`` (position.update, position.closed, order, execution,
wallet), ``source`` (hybrid | rest), the exchange's ``seq`` and three timestamps in unix ms:
``exchangeTime`` (when Bybit produced the data), ``receiveTime`` (when this process read
it) and ``emitTime`` (when a sink was handed it). Prices stay exact strings from Bybit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    POSITION_UPDATE = "position.update"
    POSITION_CLOSED = "position.closed"
    ORDER = "order"
    EXECUTION = "execution"
    WALLET = "wallet"


class Source(StrEnum):
    HYBRID = "hybrid"
    REST = "rest"


@dataclass(slots=True)
class Event:
    """One unified event; ``emit_time`` is stamped by the outbox just before the sink."""

    type: EventType
    source: Source
    symbol: str
    data: dict[str, Any]
    seq: int
    exchange_time: int
    receive_time: float
    emit_time: float = field(default=0.0)

    @property
    def coalesce_key(self) -> tuple[str, ...] | None:
        """Key for latest-value-wins queueing; None for orders and executions, which are
        distinct exchange facts and never coalesced away."""
        kind = self.type  # identity tests: an enum's hash is a Python-level call
        if kind is EventType.POSITION_UPDATE or kind is EventType.POSITION_CLOSED:
            return ("position", self.symbol, str(self.data.get("positionIdx", 0)))
        if kind is EventType.WALLET:
            return ("wallet", str(self.data.get("accountType", "")))
        return None

    def to_dict(self) -> dict[str, Any]:
        """The wire form (JSON lines, webhook body item, Redis stream field)."""
        # str() of a StrEnum is its plain value, several times cheaper than ``.value``; this
        # runs for every forwarded event, on the latency path.
        return {
            "type": str(self.type),
            "source": str(self.source),
            "symbol": self.symbol,
            "seq": self.seq,
            "exchangeTime": self.exchange_time,
            "receiveTime": to_microseconds(self.receive_time),
            "emitTime": to_microseconds(self.emit_time),
            "data": self.data,
        }


def to_microseconds(ms: float) -> float:
    """A unix-ms timestamp cut to whole microseconds (what the wire shows): the float
    closest to ``k / 1000``, so it prints with at most three decimals. Within a microsecond
    of ``round(ms, 3)``, at a third of its cost."""
    return int(ms * 1000) / 1000


def event_from_dict(wire: dict[str, Any]) -> Event:
    """The inverse of :meth:`Event.to_dict` (a spilled event read back); ``emitTime`` is
    not kept: it is stamped again when the event is finally handed to a sink."""
    return Event(EventType(wire["type"]), Source(wire["source"]), wire["symbol"], wire["data"],
                 wire["seq"], wire["exchangeTime"], wire["receiveTime"])
