"""Order/execution query rules: time windows, filters, newest-first keyset paging."""

from __future__ import annotations

from typing import Any

import pytest
from hybridstream.simulator.market import build_instruments
from hybridstream.simulator.order_queries import (
    WINDOW_MS,
    build_newest_first_page,
    build_rest_execution,
    build_rest_order,
    parse_executions_query,
    parse_open_orders_query,
    parse_order_history_query,
    parse_time_window,
    select_executions,
    select_orders,
)
from hybridstream.simulator.orders import OrderRejected

NOW = 1_700_000_000_000
INSTRUMENTS = {i.symbol: i for i in build_instruments(3, seed=1)}  # BTC, ETH, SOL


def _order(n: int, symbol: str = "BTCUSDT", status: str = "Filled",
           created: int = NOW - 1000) -> dict[str, Any]:
    return {"category": "linear", "orderId": f"o{n}", "orderLinkId": f"l{n}", "symbol": symbol,
            "orderStatus": status, "createdTime": str(created + n)}


def _execution(n: int, symbol: str = "BTCUSDT", at: int = NOW - 1000) -> dict[str, Any]:
    return {"category": "linear", "execId": f"e{n}", "orderId": f"o{n}", "orderLinkId": "",
            "symbol": symbol, "execType": "Trade", "execTime": str(at + n)}


def _ids(page: list[dict[str, Any]], key: str = "orderId") -> list[str]:
    return [r[key] for r in page]


def _error(call: Any) -> str:
    with pytest.raises(OrderRejected) as caught:
        call()
    assert caught.value.ret_code == 10001
    return caught.value.ret_msg


@pytest.mark.parametrize(("params", "window"), [
    ({}, (NOW - WINDOW_MS, NOW)),
    ({"startTime": "1000"}, (1000, 1000 + WINDOW_MS)),
    ({"endTime": str(NOW - 5)}, (NOW - 5 - WINDOW_MS, NOW - 5)),
    ({"startTime": "1000", "endTime": str(1000 + WINDOW_MS)}, (1000, 1000 + WINDOW_MS)),
])
def test_time_window_defaults_as_bybit(params: dict[str, str],
                                       window: tuple[int, int]) -> None:
    assert parse_time_window(params, NOW) == window


@pytest.mark.parametrize("params", [
    {"startTime": "1000", "endTime": str(1001 + WINDOW_MS)},  # more than 7 days
    {"startTime": "2000", "endTime": "1000"},
    {"startTime": "yesterday"},
])
def test_bad_time_window_is_10001(params: dict[str, str]) -> None:
    assert _error(lambda: parse_time_window(params, NOW)).startswith("params error:")


def test_open_orders_need_symbol_base_or_settle_coin_unless_named_by_id() -> None:
    assert "symbol or settleCoin" in _error(lambda: parse_open_orders_query({}, INSTRUMENTS))
    assert parse_open_orders_query({"orderId": "o1"}, INSTRUMENTS).symbols is None
    assert _error(lambda: parse_open_orders_query({"symbol": "NOPEUSDT"}, INSTRUMENTS))
    assert _error(lambda: parse_open_orders_query({"settleCoin": "USDT", "openOnly": "x"},
                                                  INSTRUMENTS))


def test_open_only_selects_open_or_closed_and_an_id_selects_either() -> None:
    orders = [_order(1, status="Filled"), _order(2, status="New"),
              _order(3, symbol="ETHUSDT", status="New")]
    open_btc = parse_open_orders_query({"symbol": "BTCUSDT"}, INSTRUMENTS)
    closed = parse_open_orders_query({"settleCoin": "USDT", "openOnly": "1"}, INSTRUMENTS)
    by_id = parse_open_orders_query({"orderId": "o1", "openOnly": "0"}, INSTRUMENTS)
    by_base = parse_open_orders_query({"baseCoin": "ETH"}, INSTRUMENTS)
    assert [o["orderId"] for _, o in select_orders(orders, open_btc)] == ["o2"]
    assert [o["orderId"] for _, o in select_orders(orders, closed)] == ["o1"]
    assert [o["orderId"] for _, o in select_orders(orders, by_id)] == ["o1"]
    assert [o["orderId"] for _, o in select_orders(orders, by_base)] == ["o3"]
    conditional = parse_open_orders_query({"settleCoin": "USDT", "orderFilter": "StopOrder"},
                                          INSTRUMENTS)
    assert select_orders(orders, conditional) == []


def test_order_history_is_closed_orders_created_in_the_window() -> None:
    old = _order(1, created=NOW - WINDOW_MS - 10)
    orders = [old, _order(2), _order(3, status="New"), _order(4, status="Cancelled")]
    query = parse_order_history_query({}, INSTRUMENTS, NOW)
    assert [o["orderId"] for _, o in select_orders(orders, query)] == ["o2", "o4"]
    only = parse_order_history_query({"orderStatus": "Cancelled"}, INSTRUMENTS, NOW)
    assert [o["orderId"] for _, o in select_orders(orders, only)] == ["o4"]
    by_link = parse_order_history_query({"orderLinkId": "l2"}, INSTRUMENTS, NOW)
    assert [o["orderId"] for _, o in select_orders(orders, by_link)] == ["o2"]


def test_executions_filter_by_window_symbol_and_exec_type() -> None:
    executions = [_execution(1, at=NOW - WINDOW_MS - 10), _execution(2),
                  _execution(3, symbol="SOLUSDT")]
    every = parse_executions_query({}, INSTRUMENTS, NOW)
    assert [e["execId"] for _, e in select_executions(executions, every)] == ["e2", "e3"]
    sol = parse_executions_query({"symbol": "SOLUSDT"}, INSTRUMENTS, NOW)
    assert [e["execId"] for _, e in select_executions(executions, sol)] == ["e3"]
    funding = parse_executions_query({"execType": "Funding"}, INSTRUMENTS, NOW)
    assert select_executions(executions, funding) == []
    assert _error(lambda: parse_executions_query({"execType": "Nope"}, INSTRUMENTS, NOW))


def test_pages_are_newest_first_and_the_cursor_ends_empty() -> None:
    selected = list(enumerate(_order(n) for n in range(5)))
    first, cursor = build_newest_first_page(selected, 2, "", dict)
    second, cursor2 = build_newest_first_page(selected, 2, cursor, dict)
    third, end = build_newest_first_page(selected, 2, cursor2, dict)
    assert (_ids(first), _ids(second), _ids(third)) == (["o4", "o3"], ["o2", "o1"], ["o0"])
    assert cursor and cursor2 and end == ""
    exact, none_left = build_newest_first_page(selected, 5, "", dict)
    assert len(exact) == 5 and none_left == ""


def test_the_cursor_is_stable_when_records_arrive_between_pages() -> None:
    selected = list(enumerate(_order(n) for n in range(4)))
    first, cursor = build_newest_first_page(selected, 2, "", dict)
    grown = [*selected, (4, _order(4)), (5, _order(5))]
    rest, end = build_newest_first_page(grown, 10, cursor, dict)
    assert (_ids(first), _ids(rest), end) == (["o3", "o2"], ["o1", "o0"], "")


@pytest.mark.parametrize("cursor", ["page-2", "before-", "before-x", "%20"])
def test_foreign_cursor_is_10001(cursor: str) -> None:
    assert _error(lambda: build_newest_first_page([], 10, cursor, dict)) == (
        "params error: cursor invalid")


def test_rest_views_drop_category_and_add_rest_only_fields() -> None:
    order, execution = _order(1), _execution(1)
    assert build_rest_order(order) == {**{k: v for k, v in order.items() if k != "category"},
                                       "extraFees": ""}
    assert build_rest_execution(execution) == {
        **{k: v for k, v in execution.items() if k != "category"}, "execFeeV2": ""}
    assert "category" in order  # the push item itself is untouched
