"""Unified events (the wire dicts every sink gets) as rows of the history tables, pure.

Every row carries the exchange's identity as its key, so writing the same event again (a
replay from the spill, the overlap of active-active replicas, a fill recovered over REST
after a disconnect) meets the row already there instead of adding one (docs/history.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

#: How far along its life an order status is: among two snapshots of an order with the
#: same ``updatedTime`` and ``cumExecQty``, the later status wins.
STATUS_RANK = {"Created": 0, "Untriggered": 0, "New": 0, "Triggered": 1, "PartiallyFilled": 1,
               "Filled": 2, "Cancelled": 2, "PartiallyFilledCanceled": 2, "Rejected": 2,
               "Deactivated": 2}


class MalformedEvent(ValueError):
    """An event that lacks the identity its table is keyed by: no write can take it."""


@dataclass
class Rows:
    """The rows of one batch, by table, in the batch's order."""

    orders: list[tuple[Any, ...]] = field(default_factory=list)
    order_history: list[tuple[Any, ...]] = field(default_factory=list)
    executions: list[tuple[Any, ...]] = field(default_factory=list)
    positions: list[tuple[Any, ...]] = field(default_factory=list)
    wallets: list[tuple[Any, ...]] = field(default_factory=list)


def number(value: Any) -> Decimal | None:
    """Bybit's decimal strings; "" (a field that does not apply) is NULL."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _required(data: dict[str, Any], name: str, kind: str) -> Any:
    value = data.get(name)
    if value is None or value == "":
        raise MalformedEvent(f"{kind} event without {name}")
    return value


def _millis(value: Any, kind: str, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MalformedEvent(f"{kind} event with a non-numeric {name}") from None


def build_rows(batch: Iterable[dict[str, Any]]) -> Rows:
    """Map a batch of wire events to rows; raises :class:`MalformedEvent` for one that
    cannot be stored (the sink rejects the batch, the pipeline isolates that event)."""
    rows = Rows()
    for event in batch:
        kind = event.get("type", "")
        data = event.get("data") or {}
        source = str(event.get("source", ""))
        blob = json.dumps(data, separators=(",", ":"))
        if kind == "order":
            order_id = str(_required(data, "orderId", kind))
            status = str(_required(data, "orderStatus", kind))
            updated = _millis(_required(data, "updatedTime", kind), kind, "updatedTime")
            cum_qty = number(data.get("cumExecQty")) or Decimal(0)
            rows.orders.append((
                order_id, str(data.get("symbol") or event.get("symbol", "")),
                data.get("side") or None, data.get("orderType") or None, status,
                STATUS_RANK.get(status, 1), number(data.get("qty")), number(data.get("price")),
                number(data.get("avgPrice")), cum_qty,
                _millis(data.get("createdTime") or updated, kind, "createdTime"), updated,
                source, blob))
            rows.order_history.append((order_id, status, updated, cum_qty, source))
        elif kind == "execution":
            rows.executions.append((
                str(_required(data, "execId", kind)), str(_required(data, "orderId", kind)),
                str(data.get("symbol") or event.get("symbol", "")), data.get("side") or None,
                number(data.get("execPrice")), number(data.get("execQty")),
                number(data.get("execFee")),
                _millis(_required(data, "execTime", kind), kind, "execTime"), source, blob))
        elif kind.startswith("position."):
            symbol = str(event.get("symbol") or _required(data, "symbol", kind))
            rows.positions.append((
                symbol, int(data.get("positionIdx", 0)), _millis(event.get("seq"), kind, "seq"),
                kind == "position.closed", data.get("side") or None, number(data.get("size")),
                number(data.get("entryPrice")), number(data.get("markPrice")),
                _millis(event.get("exchangeTime") or 0, kind, "exchangeTime"), source, blob))
        elif kind == "wallet":
            rows.wallets.append((
                str(_required(data, "accountType", kind)),
                _millis(event.get("exchangeTime") or 0, kind, "exchangeTime"),
                number(data.get("totalEquity")), source, blob))
        else:
            raise MalformedEvent(f"unknown event type {kind!r}")
    return rows
