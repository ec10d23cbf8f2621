"""Events as history rows (pure): the identity each table is keyed by, "" as NULL, and
events that cannot be stored refused; ``--since`` parsing of the history CLI."""

from __future__ import annotations

import argparse
from decimal import Decimal

import pytest
from hybridstream.history.command import format_table, parse_since
from hybridstream.history.connect import redact_url
from hybridstream.history.rows import MalformedEvent, build_rows


def test_rows_carry_the_exchange_identity():
    rows = build_rows([
        {"type": "order", "source": "rest", "symbol": "BTCUSDT", "seq": 0,
         "data": {"orderId": "o1", "orderStatus": "Filled", "updatedTime": "20",
                  "createdTime": "10", "cumExecQty": "0.02", "price": ""}},
        {"type": "position.closed", "source": "hybrid", "symbol": "BTCUSDT", "seq": 9,
         "exchangeTime": 30, "data": {"positionIdx": 1, "size": "0", "markPrice": "1.5"}},
    ])
    order = rows.orders[0]
    assert (order[0], order[4], order[5], order[7], order[9], order[10], order[11]) == (
        "o1", "Filled", 2, None, Decimal("0.02"), 10, 20)
    assert rows.order_history == [("o1", "Filled", 20, Decimal("0.02"), "rest")]
    position = rows.positions[0]
    assert position[:4] == ("BTCUSDT", 1, 9, True) and position[7] == Decimal("1.5")


@pytest.mark.parametrize("event", [
    {"type": "execution", "data": {"orderId": "o", "execTime": "1"}},
    {"type": "order", "data": {"orderId": "o", "orderStatus": "New", "updatedTime": "x"}},
    {"type": "wallet", "data": {}},
    {"type": "trade", "data": {}},
])
def test_events_without_their_identity_are_refused(event):
    with pytest.raises(MalformedEvent):
        build_rows([event])


def test_since_accepts_durations_instants_and_unix_ms():
    now = 1_000_000.0
    assert parse_since("30m", now) == (now - 1800) * 1000
    assert parse_since("2h", now) == (now - 7200) * 1000
    assert parse_since("1700000000000", now) == 1_700_000_000_000
    assert parse_since("2023-11-14T22:13:20Z", now) == 1_700_000_000_000
    assert parse_since("2023-11-14T22:13:20", now) == 1_700_000_000_000  # UTC
    with pytest.raises(argparse.ArgumentTypeError):
        parse_since("yesterday", now)


def test_urls_are_shown_without_their_password():
    assert redact_url("postgresql://hs:s3cret@db:5432/x") == "postgresql://hs:***@db:5432/x"
    assert redact_url("postgresql://db/x") == "postgresql://db/x"


def test_table_format():
    assert format_table([{"a": "1", "b": None}], ("a", "b")).splitlines() == ["a  b", "1"]
