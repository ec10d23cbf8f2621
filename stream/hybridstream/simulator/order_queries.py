"""Order and execution queries (``/v5/order/realtime``, ``/v5/order/history``,
``/v5/execution/list``): parameter rules, filters and paging (pure).

The records are the exact ``order``/``execution`` push items the engine sent, so REST and
the private WebSocket cannot disagree. Pages are newest first with a keyset cursor (the
stable index of the last item returned): fills that happen while a client pages through a
gap shift nothing, which an offset cursor would (a recovery would then see duplicates or
skip records).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hybridstream.bybit.rest_envelope import RetCode
from hybridstream.simulator.market import Instrument
from hybridstream.simulator.orders import OrderRejected

#: Bybit's default window when neither startTime nor endTime is given, and its maximum.
WINDOW_MS = 7 * 24 * 3600 * 1000
OPEN_STATUSES = frozenset({"Created", "New", "PartiallyFilled", "Untriggered"})
_CURSOR_PREFIX = "before-"
#: ``orderFilter`` values; ours are all plain orders (``Order``), never conditional ones.
_ORDER_FILTERS = frozenset({"Order", "StopOrder", "tpslOrder", "OcoOrder",
                            "BidirectionalTpslOrder"})
_EXEC_TYPES = frozenset({"Trade", "AdlTrade", "Funding", "BustTrade", "Delivery", "Settle",
                         "BlockTrade", "MovePosition", "FutureSpread", "UNKNOWN"})

Record = dict[str, Any]
#: Which statuses a query wants: ``OPEN_STATUSES``, any other one, or all.
State = Literal["open", "closed", "any"]


def _params_error(detail: str) -> OrderRejected:
    return OrderRejected(RetCode.PARAMS_ERROR, f"params error: {detail}")


@dataclass(frozen=True)
class RecordQuery:
    """What a list request selects; ``None`` means "any"."""

    symbols: frozenset[str] | None
    order_id: str | None
    order_link_id: str | None
    state: State = "any"
    order_status: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    exec_type: str | None = None
    plain_orders: bool = True  # False when orderFilter asks for conditional orders only


def parse_time_window(params: Mapping[str, str], now: int) -> tuple[int, int]:
    """``startTime``/``endTime`` as Bybit reads them: 7 days by default, at most 7 days."""
    try:
        start = int(params["startTime"]) if params.get("startTime") else None
        end = int(params["endTime"]) if params.get("endTime") else None
    except ValueError:
        raise _params_error("startTime or endTime invalid") from None
    if start is None:
        end = now if end is None else end
        return end - WINDOW_MS, end
    if end is None:
        return start, start + WINDOW_MS
    if end < start or end - start > WINDOW_MS:
        raise _params_error("the time range between startTime and endTime cannot exceed "
                            "7 days and endTime must not be before startTime")
    return start, end


def _symbols(params: Mapping[str, str], instruments: Mapping[str, Instrument],
             ) -> frozenset[str] | None:
    symbol, base, settle = params.get("symbol"), params.get("baseCoin"), params.get("settleCoin")
    if symbol:
        if symbol not in instruments:
            raise _params_error("symbol invalid")
        return frozenset({symbol})
    if base:
        return frozenset(s for s, i in instruments.items() if i.base_coin == base)
    if settle:  # every simulated instrument settles in USDT
        return frozenset(instruments) if settle == "USDT" else frozenset()
    return None


def _order_filter(params: Mapping[str, str]) -> bool:
    value = params.get("orderFilter")
    if value and value not in _ORDER_FILTERS:
        raise _params_error("orderFilter invalid")
    return value in (None, "", "Order")


def parse_open_orders_query(params: Mapping[str, str],
                            instruments: Mapping[str, Instrument]) -> RecordQuery:
    """``/v5/order/realtime``: open orders, or (``openOnly=1``) recent closed ones.

    Linear needs ``symbol``, ``baseCoin`` or ``settleCoin`` unless the order is named by
    ``orderId``/``orderLinkId``, which also makes ``openOnly`` irrelevant (Bybit's rules)."""
    order_id, link_id = params.get("orderId") or None, params.get("orderLinkId") or None
    symbols = _symbols(params, instruments)
    by_id = order_id is not None or link_id is not None
    if symbols is None and not by_id:
        raise OrderRejected(RetCode.PARAMS_ERROR, "Missing some parameters that must be "
                            "filled in, symbol or settleCoin or baseCoin")
    open_only = params.get("openOnly") or "0"
    if open_only not in ("0", "1", "2"):
        raise _params_error("openOnly invalid")
    state: State = "any" if by_id else ("open" if open_only == "0" else "closed")
    return RecordQuery(symbols, order_id, link_id, state, plain_orders=_order_filter(params))


def parse_order_history_query(params: Mapping[str, str], instruments: Mapping[str, Instrument],
                              now: int) -> RecordQuery:
    """``/v5/order/history``: closed orders created in the time window (``orderStatus``
    narrows it)."""
    start, end = parse_time_window(params, now)
    return RecordQuery(_symbols(params, instruments), params.get("orderId") or None,
                       params.get("orderLinkId") or None, "closed",
                       params.get("orderStatus") or None, start, end,
                       plain_orders=_order_filter(params))


def parse_executions_query(params: Mapping[str, str], instruments: Mapping[str, Instrument],
                           now: int) -> RecordQuery:
    """``/v5/execution/list``: fills whose ``execTime`` is in the window."""
    start, end = parse_time_window(params, now)
    exec_type = params.get("execType") or None
    if exec_type is not None and exec_type not in _EXEC_TYPES:
        raise _params_error("execType invalid")
    return RecordQuery(_symbols(params, instruments), params.get("orderId") or None,
                       params.get("orderLinkId") or None, start_ms=start, end_ms=end,
                       exec_type=exec_type)


def _status_ok(query: RecordQuery, status: str) -> bool:
    if query.order_status is not None and status != query.order_status:
        return False
    if query.state == "any":
        return True
    return (status in OPEN_STATUSES) == (query.state == "open")


def _matches(query: RecordQuery, record: Record, time_field: str) -> bool:
    if query.order_id is not None and record["orderId"] != query.order_id:
        return False
    if query.order_link_id is not None and record["orderLinkId"] != query.order_link_id:
        return False
    if query.symbols is not None and record["symbol"] not in query.symbols:
        return False
    if query.start_ms is not None and query.end_ms is not None:
        at = int(record[time_field])
        if not query.start_ms <= at <= query.end_ms:
            return False
    return query.exec_type is None or record.get("execType") == query.exec_type


def select_orders(orders: Sequence[Record], query: RecordQuery) -> list[tuple[int, Record]]:
    """``(index, order)`` pairs matching ``query``, oldest first (index = creation order)."""
    if not query.plain_orders:
        return []
    return [(i, o) for i, o in enumerate(orders)
            if _status_ok(query, o["orderStatus"]) and _matches(query, o, "createdTime")]


def select_executions(executions: Sequence[Record],
                      query: RecordQuery) -> list[tuple[int, Record]]:
    """``(index, execution)`` pairs matching ``query``, oldest first."""
    return [(i, e) for i, e in enumerate(executions) if _matches(query, e, "execTime")]


def build_newest_first_page(selected: Sequence[tuple[int, Record]], limit: int, cursor: str,
                            view: Callable[[Record], Record]) -> tuple[list[Record], str]:
    """One page, newest first, of ``view(record)``; returns (page, next cursor or "").

    The cursor ``before-<index>`` uses unreserved characters only, so no client's URL
    re-encoding changes the signed query."""
    bound: int | None = None
    if cursor:
        digits = cursor.removeprefix(_CURSOR_PREFIX)
        if not cursor.startswith(_CURSOR_PREFIX) or not digits.isdigit():
            raise _params_error("cursor invalid")
        bound = int(digits)
    remaining = [(i, r) for i, r in reversed(selected) if bound is None or i < bound]
    page = remaining[:limit]
    nxt = f"{_CURSOR_PREFIX}{page[-1][0]}" if len(remaining) > limit else ""
    return [view(r) for _, r in page], nxt


def build_rest_order(item: Record) -> Record:
    """An order list entry: the push item without ``category`` (REST carries it once, at the
    top), plus the REST-only ``extraFees`` ("" outside India/Indonesia/EU spot)."""
    row = {k: v for k, v in item.items() if k != "category"}
    row["extraFees"] = ""
    return row


def build_rest_execution(item: Record) -> Record:
    """An execution list entry: the push item without ``category``, plus ``execFeeV2``
    (only set for spread trades)."""
    row = {k: v for k, v in item.items() if k != "category"}
    row["execFeeV2"] = ""
    return row
