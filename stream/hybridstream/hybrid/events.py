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


#: Event types that must never be coalesced away: each one is a distinct exchange fact.
LOSSLESS_TYPES = frozenset({EventType.ORDER, EventType.EXECUTION})


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
        """Key for latest-value-wins queueing; None for lossless events."""
        if self.type in LOSSLESS_TYPES:
            return None
        if self.type is EventType.WALLET:
            return ("wallet", str(self.data.get("accountType", "")))
        return ("position", self.symbol, str(self.data.get("positionIdx", 0)))

    def to_dict(self) -> dict[str, Any]:
        """The wire form (JSON lines, webhook body item, Redis stream field)."""
        return {
            "type": self.type.value,
            "source": self.source.value,
            "symbol": self.symbol,
            "seq": self.seq,
            "exchangeTime": self.exchange_time,
            "receiveTime": round(self.receive_time, 3),
            "emitTime": round(self.emit_time, 3),
            "data": self.data,
        }
