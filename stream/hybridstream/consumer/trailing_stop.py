"""A trailing stop that follows the unified event stream (legacy REST poller or hybrid,
or both during a handover), pure: feed it the wire events, it says when a stop activates
and when it triggers (docs/consumers.md#trailing-stop).

Per position, ``activation_price`` and ``callback`` (a price distance, as Bybit's
``trailingStop``): a long (``side`` Buy) activates once the mark reaches the activation
price or above, then trails the highest mark since; it triggers when the mark falls to
``highest - callback``. A short mirrors it (activates at or below, trails the lowest mark,
triggers at ``lowest + callback``). A stop fires each phase once; the position closing (or
flipping side) re-arms it.

Events first pass an :class:`EventDeduplicator`: the active-active overlap repeats them,
and a lagging replica's stale mark after a newer one could otherwise trigger a stop the
market never reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from hybridstream.consumer.dedup import EventDeduplicator


class Phase(StrEnum):
    ARMED = "armed"
    ACTIVE = "active"
    TRIGGERED = "triggered"


@dataclass(frozen=True)
class StopSpec:
    symbol: str
    activation_price: Decimal
    callback: Decimal
    position_idx: int = 0

    def __post_init__(self) -> None:
        if self.callback <= 0:
            raise ValueError("callback must be a positive price distance")


@dataclass(frozen=True)
class Firing:
    """A stop activated or triggered, on the event that made it (``exchange_time`` and
    ``source`` of that event)."""

    kind: Phase
    symbol: str
    position_idx: int
    side: str
    mark_price: Decimal
    stop_price: Decimal
    exchange_time: int
    source: str


@dataclass
class _State:
    phase: Phase = Phase.ARMED
    side: str = ""
    extreme: Decimal = Decimal(0)  # the highest (long) or lowest (short) mark since active


def _mark(data: dict[str, Any]) -> Decimal | None:
    try:
        return Decimal(str(data["markPrice"]))
    except (KeyError, InvalidOperation):
        return None


class TrailingStopConsumer:
    """``feed(event) -> [Firing]``; one instance per stream followed."""

    def __init__(self, stops: Iterable[StopSpec] = (),
                 dedup: EventDeduplicator | None = None) -> None:
        self._dedup = dedup or EventDeduplicator()
        self._specs: dict[tuple[str, int], StopSpec] = {}
        self._states: dict[tuple[str, int], _State] = {}
        for spec in stops:
            self.arm(spec)

    def arm(self, spec: StopSpec) -> None:
        """Set (or replace) the stop of a position; it starts armed."""
        key = (spec.symbol, spec.position_idx)
        self._specs[key] = spec
        self._states[key] = _State()

    def phase(self, symbol: str, position_idx: int = 0) -> Phase:
        return self._states[(symbol, position_idx)].phase

    def feed(self, event: dict[str, Any]) -> list[Firing]:
        if not self._dedup.accept(event) or not event["type"].startswith("position."):
            return []
        data = event.get("data", {})
        key = (event["symbol"], int(data.get("positionIdx", 0)))
        spec = self._specs.get(key)
        if spec is None:
            return []
        state = self._states[key]
        side = data.get("side", "")
        if event["type"] == "position.closed" or side not in ("Buy", "Sell"):
            self._states[key] = _State()  # flat: the next position re-arms
            return []
        if state.side and side != state.side:  # flipped: a new position
            state = self._states[key] = _State()
        state.side = side
        mark = _mark(data)
        if mark is None or state.phase is Phase.TRIGGERED:
            return []
        fired = self._advance(spec, state, side == "Buy", mark)
        if fired is None:
            return []
        return [Firing(fired, spec.symbol, spec.position_idx, side, mark,
                       self._stop_price(spec, state, side == "Buy"),
                       int(event.get("exchangeTime") or 0), str(event.get("source", "")))]

    @staticmethod
    def _stop_price(spec: StopSpec, state: _State, long: bool) -> Decimal:
        return state.extreme - spec.callback if long else state.extreme + spec.callback

    def _advance(self, spec: StopSpec, state: _State, long: bool, mark: Decimal) -> Phase | None:
        if state.phase is Phase.ARMED:
            reached = mark >= spec.activation_price if long else mark <= spec.activation_price
            if not reached:
                return None
            state.phase, state.extreme = Phase.ACTIVE, mark
            return Phase.ACTIVE
        state.extreme = max(state.extreme, mark) if long else min(state.extreme, mark)
        stop = self._stop_price(spec, state, long)
        if (mark <= stop) if long else (mark >= stop):
            state.phase = Phase.TRIGGERED
            return Phase.TRIGGERED
        return None
