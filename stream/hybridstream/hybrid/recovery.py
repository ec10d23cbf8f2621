"""Orders and executions recovered over REST after a private-socket gap (pure, no I/O).

While the private socket is down, fills and order changes still happen on the exchange and
Bybit never replays them on reconnect. The stream reads them back from
``/v5/execution/list`` and ``/v5/order/history`` + ``/v5/order/realtime``; the same fact
can arrive from both the socket and REST (around the reconnect), so every order state and
execution is keyed and emitted once: an execution by ``execId``, an order state by
``(orderId, updatedTime, orderStatus)`` (one order has several states).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

#: Facts remembered for deduplication: far more than one gap's worth of fills.
FACT_MEMORY = 50_000
#: Recovery reads back this far before the newest fact seen: clocks of the exchange's
#: matching engine and of its REST index are not the same instant.
RECOVERY_MARGIN_MS = 5_000
#: ``/v5/execution/list`` and ``/v5/order/history`` answer at most seven days back.
QUERY_WINDOW_MS = 7 * 24 * 3600 * 1000 - 60_000


def fact_key(topic: str, item: dict[str, Any]) -> tuple[str, ...] | None:
    """The identity of an order state or execution; None for other topics."""
    if topic == "execution":
        return ("execution", str(item.get("execId", "")))
    if topic == "order":
        return ("order", str(item.get("orderId", "")), str(item.get("updatedTime", "")),
                str(item.get("orderStatus", "")))
    return None


def fact_time(topic: str, item: dict[str, Any]) -> int:
    """When the exchange produced the fact (ms; 0 when unknown)."""
    raw = item.get("execTime") if topic == "execution" else item.get("updatedTime")
    try:
        return int(raw or 0)
    except (TypeError, ValueError):
        return 0


class FactLog:
    """The order states and executions already emitted (bounded, oldest forgotten first),
    and the newest exchange time among them: where the next recovery starts.

    A gap (the socket down, or nothing recovered yet since start) pins the next recovery's
    start at the newest fact seen *before* it: a reconnected socket may deliver newer fills
    long before the recovery runs (its REST reads rate limited), and starting from those
    would skip the gap's own fills (found by the chaos suite)."""

    def __init__(self, limit: int = FACT_MEMORY, started_ms: int = 0) -> None:
        self._seen: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._limit = limit
        self.newest_ms = started_ms
        self._gap_from: int | None = started_ms  # nothing recovered since start

    def open_gap(self) -> None:
        """The socket went down: keep the next recovery's start at the facts seen so far
        (an earlier gap not yet recovered keeps its own, earlier start)."""
        if self._gap_from is None:
            self._gap_from = self.newest_ms

    def close_gap(self) -> None:
        """A recovery read everything since the gap: later ones follow the newest fact."""
        self._gap_from = None

    def admit(self, topic: str, item: dict[str, Any]) -> bool:
        """Record the fact; False when it was emitted before (drop the duplicate)."""
        key = fact_key(topic, item)
        if key is None:
            return True
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        self.newest_ms = max(self.newest_ms, fact_time(topic, item))
        return True

    def recovery_start(self, now_ms: int) -> int:
        """The ``startTime`` of the next recovery read: a little before the newest fact
        seen, and never beyond Bybit's seven-day query window."""
        # An open gap's start is never after the newest fact (that one only grows).
        anchor = self.newest_ms if self._gap_from is None else self._gap_from
        return max(anchor - RECOVERY_MARGIN_MS, now_ms - QUERY_WINDOW_MS, 0)
