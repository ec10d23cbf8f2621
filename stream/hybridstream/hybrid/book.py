"""The hybrid book: open positions merged with live ticker state (pure, no I/O).

Bybit's private ``position`` topic only speaks when a trade happens (pybit#239), so a
position's ``markPrice`` freezes. The book keeps the per-symbol ticker state (snapshot, then
deltas merged by shallow overwrite, replaced on a new snapshot: docs/bybit-protocol.md §5) and
re-emits every open position of a symbol when its mark price changes. Positions are keyed
``(symbol, positionIdx)`` because hedge mode has two per symbol; prices stay exact strings
(arithmetic in ``Decimal``).

Seeding from REST after every (re)connect races with WebSocket pushes, so the book tracks a
per-position update counter: a REST snapshot never closes or rewinds a position that the
socket changed after the snapshot was requested (``begin_seed`` / ``apply_seed``). Orders
and executions recovered over REST after a gap (``apply_recovered``) and pushed by the
socket go through one :class:`FactLog`, so each is emitted once.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from hybridstream.hybrid.events import Event, EventType, Source
from hybridstream.hybrid.frames import PrivateFrame, TickerFrame
from hybridstream.hybrid.recovery import FactLog, fact_time

PositionKey = tuple[str, int]

#: Position fields we forward (Bybit names; REST ``avgPrice`` is renamed ``entryPrice``).
POSITION_FIELDS = (
    "symbol", "positionIdx", "side", "size", "entryPrice", "markPrice", "positionValue",
    "leverage", "unrealisedPnl", "cumRealisedPnl", "takeProfit", "stopLoss", "trailingStop",
    "liqPrice", "positionStatus", "createdTime", "updatedTime", "seq",
)
_TOPIC_EVENTS = {"order": EventType.ORDER, "execution": EventType.EXECUTION,
                 "wallet": EventType.WALLET}
_ZERO = Decimal(0)


def build_position(item: dict[str, Any]) -> dict[str, Any]:
    """Normalise a WS ``position`` item or a REST ``/v5/position/list`` item."""
    pos = {k: item[k] for k in POSITION_FIELDS if k in item}
    if "entryPrice" not in pos and "avgPrice" in item:
        pos["entryPrice"] = item["avgPrice"]
    pos["positionIdx"] = int(item.get("positionIdx", 0))
    pos["seq"] = int(item.get("seq", -1))
    return pos


def is_flat(pos: dict[str, Any]) -> bool:
    """A flat position has size 0 (Bybit keeps symbol and positionIdx, ``side`` is "")."""
    try:
        return Decimal(str(pos.get("size", "0"))) == _ZERO
    except InvalidOperation:
        return False


def build_unrealised_pnl(pos: dict[str, Any], mark: str) -> str | None:
    """``(mark - entry) * size``, negated for shorts; None when a field is not numeric."""
    try:
        diff = (Decimal(mark) - Decimal(str(pos["entryPrice"]))) * Decimal(str(pos["size"]))
    except (KeyError, InvalidOperation):
        return None
    return str(-diff if pos.get("side") == "Sell" else diff)


class HybridBook:
    """Positions + ticker state; every ``on_*``/``apply_*`` returns the events to emit."""

    def __init__(self, source: Source = Source.HYBRID, started_ms: int = 0) -> None:
        self.source = source
        self.facts = FactLog(started_ms=started_ms)
        self.positions: dict[PositionKey, dict[str, Any]] = {}
        self.tickers: dict[str, dict[str, Any]] = {}
        self._by_symbol: dict[str, set[int]] = {}
        self._touched: dict[PositionKey, int] = {}
        self._counter = 0

    # -- views ---------------------------------------------------------------------------
    def desired_symbols(self) -> frozenset[str]:
        """Symbols that need a ticker subscription: those with an open position."""
        return frozenset(self._by_symbol)

    def mark_price(self, symbol: str) -> str | None:
        """Latest merged ticker mark price, if the symbol has ticker state."""
        state = self.tickers.get(symbol)
        return None if state is None else state.get("markPrice")

    # -- tickers ---------------------------------------------------------------------------
    def on_ticker(self, frame: TickerFrame, now_ms: float) -> list[Event]:
        """Merge a ticker frame; emit open positions of the symbol if the mark changed."""
        symbol, data = frame.symbol, frame.data
        state = self.tickers.get(symbol)
        if frame.snapshot or state is None:
            # A delta with no prior snapshot (lost on reconnect) still carries valid fields.
            previous = None if state is None else state.get("markPrice")
            state = dict(data)
            self.tickers[symbol] = state
            mark = state.get("markPrice")
        else:
            mark = data.get("markPrice")
            if mark is None:  # most deltas: the mark did not change, nothing to emit
                state.update(data)
                return []
            previous = state.get("markPrice")
            state.update(data)
        if mark is None or mark == previous:
            return []
        return self._remark(symbol, mark, frame.ts, now_ms, self.source)

    def apply_rest_marks(self, prices: dict[str, str], exchange_time: int,
                         now_ms: float) -> list[Event]:
        """Mark prices polled over REST while the public socket is down: open positions whose
        mark moved are re-emitted (``source: rest``)."""
        events: list[Event] = []
        for symbol in sorted(self._by_symbol):
            mark = prices.get(symbol)
            if mark is None or mark == self.mark_price(symbol):
                continue
            self.tickers.setdefault(symbol, {})["markPrice"] = mark
            events.extend(self._remark(symbol, mark, exchange_time, now_ms, Source.REST))
        return events

    def _remark(self, symbol: str, mark: str, exchange_time: int, now_ms: float,
                source: Source) -> list[Event]:
        """Every open position of ``symbol`` at a new mark price (and its PnL)."""
        events = []
        for idx in self._by_symbol.get(symbol, ()):
            pos = self.positions[(symbol, idx)]
            pos["markPrice"] = mark
            pnl = build_unrealised_pnl(pos, mark)
            if pnl is not None:
                pos["unrealisedPnl"] = pnl
            events.append(self._position_event(EventType.POSITION_UPDATE, pos, exchange_time,
                                               now_ms, source))
        return events

    def drop_ticker(self, symbol: str) -> None:
        """Forget a symbol's ticker state (unsubscribed: a resubscribe sends a snapshot)."""
        self.tickers.pop(symbol, None)

    def reset_tickers(self) -> None:
        """Forget all ticker state (public socket reconnected)."""
        self.tickers.clear()

    # -- private topics ---------------------------------------------------------------------
    def on_private(self, frame: PrivateFrame, now_ms: float) -> list[Event]:
        """Apply a private push: positions update the book, the rest pass through."""
        if frame.topic != "position":
            return [self._fact_event(frame.topic, item, frame.creation_time, now_ms,
                                     self.source)
                    for item in frame.data if self.facts.admit(frame.topic, item)]
        events: list[Event] = []
        for item in frame.data:
            self._counter += 1
            pos = build_position(item)
            key = (str(pos.get("symbol", "")), pos["positionIdx"])
            self._touched[key] = self._counter
            exchange_time = int(pos.get("updatedTime") or frame.creation_time or 0)
            events.extend(self._apply_position(key, pos, exchange_time, now_ms))
        return events

    def apply_recovered(self, facts: Iterable[tuple[str, dict[str, Any]]],
                        now_ms: float) -> list[Event]:
        """Order states and executions read back over REST (``(topic, item)``): those not
        emitted yet, oldest first, marked ``source: rest``."""
        ordered = sorted(facts, key=lambda fact: fact_time(*fact))
        return [self._fact_event(topic, item, 0, now_ms, Source.REST)
                for topic, item in ordered if self.facts.admit(topic, item)]

    # -- REST seeding ------------------------------------------------------------------------
    def begin_seed(self) -> int:
        """Mark the moment a REST snapshot is requested; pass the token to ``apply_seed``."""
        return self._counter

    def apply_seed(self, token: int, items: Iterable[dict[str, Any]], exchange_time: int,
                   now_ms: float, *, changes_only: bool = False) -> list[Event]:
        """Reconcile with a REST snapshot of open positions (``settleCoin`` list: size > 0).

        Positions missing from the snapshot are closed, unless the socket touched them after
        ``token``; a snapshot older than what the socket delivered (lower ``seq``) is ignored.
        ``changes_only`` (the REST fallback's repeated polls): a position the book already
        holds at the same ``seq`` is not emitted again.
        """
        events: list[Event] = []
        seen: set[PositionKey] = set()
        for item in items:
            pos = build_position(item)
            key = (str(pos.get("symbol", "")), pos["positionIdx"])
            seen.add(key)
            if self._touched.get(key, 0) > token:
                continue
            current = self.positions.get(key)
            if current is not None and (current["seq"] > pos["seq"] or (
                    changes_only and current["seq"] == pos["seq"])):
                continue
            events.extend(self._apply_position(key, pos, exchange_time, now_ms))
        for key in [k for k in self.positions if k not in seen]:
            if self._touched.get(key, 0) <= token:
                flat = dict(self.positions[key], size="0", side="")
                events.extend(self._apply_position(key, flat, exchange_time, now_ms))
        return events

    # -- internals --------------------------------------------------------------------------
    def _apply_position(self, key: PositionKey, pos: dict[str, Any], exchange_time: int,
                        now_ms: float) -> list[Event]:
        symbol, idx = key
        if is_flat(pos):
            if self.positions.pop(key, None) is None:
                return []  # flat and unknown: nothing was open (e.g. a REST echo)
            idxs = self._by_symbol[symbol]
            idxs.discard(idx)
            if not idxs:
                del self._by_symbol[symbol]
            return [self._position_event(EventType.POSITION_CLOSED, pos, exchange_time, now_ms)]
        mark = self.mark_price(symbol)
        if mark is not None:
            # The ticker is fresher than the mark Bybit stamped at trade time.
            pos["markPrice"] = mark
            pnl = build_unrealised_pnl(pos, mark)
            if pnl is not None:
                pos["unrealisedPnl"] = pnl
        self.positions[key] = pos
        self._by_symbol.setdefault(symbol, set()).add(idx)
        return [self._position_event(EventType.POSITION_UPDATE, pos, exchange_time, now_ms)]

    def _position_event(self, kind: EventType, pos: dict[str, Any], exchange_time: int,
                        now_ms: float, source: Source | None = None) -> Event:
        return Event(kind, source or self.source, str(pos.get("symbol", "")), dict(pos),
                     pos["seq"], exchange_time, now_ms)

    @staticmethod
    def _fact_event(topic: str, item: dict[str, Any], fallback_time: int, now_ms: float,
                    source: Source) -> Event:
        stamp = item.get("execTime") or item.get("updatedTime") or fallback_time or 0
        return Event(_TOPIC_EVENTS[topic], source, str(item.get("symbol", "")), item,
                     int(item.get("seq", 0) or 0), int(stamp), now_ms)
