"""De-duplication for consumers of the unified event stream (active-active replicas).

Every pod of a mode forwards its whole bucket range, and legacy and hybrid overlap during a
handover, so a consumer sees some events more than once. Events are idempotent snapshots
carrying the exchange's identity, so dropping repeats is exact:

* positions: by ``(symbol, positionIdx)`` keep the newest ``(seq, exchangeTime)``; an event
  at or below it is a repeat or stale. Mark-price updates share the position's ``seq`` but
  carry the ticker's ``ts`` as ``exchangeTime``, which two hybrid pods see identically
  because they read the same ticker frame; a close at the same point as an update passes.
* order: ``(orderId, orderStatus, updatedTime, cumExecQty)``; execution: ``execId``;
  wallet: ``(accountType, exchangeTime)``.

Memory is bounded: one entry per position, other identities in an LRU of ``capacity``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class EventDeduplicator:
    """``accept(event) -> bool``: True the first time an event identity is seen."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._newest: dict[tuple[str, int], tuple[int, int, str]] = {}

    def accept(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` (the wire dict) is new; records it if so."""
        kind = event["type"]
        data = event.get("data", {})
        if kind.startswith("position."):
            return self._accept_position(event, data)
        if kind == "order":
            ident: tuple[Any, ...] = ("o", data.get("orderId"), data.get("orderStatus"),
                                      data.get("updatedTime"), data.get("cumExecQty"))
        elif kind == "execution":
            ident = ("e", data.get("execId"))
        else:
            ident = ("w", data.get("accountType"), event.get("exchangeTime"))
        if ident in self._seen:
            self._seen.move_to_end(ident)
            return False
        self._seen[ident] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def _accept_position(self, event: dict[str, Any], data: dict[str, Any]) -> bool:
        key = (event["symbol"], int(data.get("positionIdx", 0)))
        mark = (int(event["seq"]), int(event.get("exchangeTime") or 0), event["type"])
        newest = self._newest.get(key)
        if newest is not None and (mark[:2] < newest[:2] or mark == newest
                                   or (mark[:2] == newest[:2] and mark[2] != "position.closed")):
            return False
        self._newest[key] = mark
        return True
