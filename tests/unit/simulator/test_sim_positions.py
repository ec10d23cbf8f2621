"""``decide_fill``: open, add, reduce, close, flip (one-way) and capped reduce (hedge)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hybridstream.simulator.positions import (
    Position,
    build_rest_position,
    build_ws_position,
    decide_fill,
    format_decimal,
)

FLAT0 = Position("BTCUSDT", 0)


@pytest.mark.parametrize(("pos", "side", "qty", "price", "reduce", "want", "closed", "pnl"), [
    (FLAT0, "Buy", "1", "100", False, ("Buy", "1", "100"), "0", "0"),
    (Position("BTCUSDT", 0, "Buy", D(1), D(100)), "Buy", "1", "200", False,
     ("Buy", "2", "150"), "0", "0"),
    (Position("BTCUSDT", 0, "Buy", D(2), D(100)), "Sell", "1", "110", False,
     ("Buy", "1", "100"), "1", "10"),
    (Position("BTCUSDT", 0, "Buy", D(2), D(100)), "Sell", "2", "90", False,
     ("", "0", "0"), "2", "-20"),
    (Position("BTCUSDT", 0, "Buy", D(1), D(100)), "Sell", "3", "90", False,
     ("Sell", "2", "90"), "1", "-10"),
    (Position("BTCUSDT", 0, "Sell", D(1), D(100)), "Buy", "3", "90", True,
     ("", "0", "0"), "1", "10"),
    (Position("BTCUSDT", 1, "Buy", D(1), D(100)), "Sell", "5", "120", True,
     ("", "0", "0"), "1", "20"),
    (Position("BTCUSDT", 2, "Sell", D(2), D(100)), "Buy", "1", "120", True,
     ("Sell", "1", "100"), "1", "-20"),
    (Position("BTCUSDT", 2), "Sell", "1", "50", False, ("Sell", "1", "50"), "0", "0"),
])
def test_decide_fill(pos: Position, side: str, qty: str, price: str, reduce: bool,  # noqa: PLR0917
                     want: tuple[str, str, str], closed: str, pnl: str) -> None:
    out = decide_fill(pos, side, D(qty), D(price), reduce)
    assert (out.position.side, out.position.size, out.position.avg_price) == (
        want[0], D(want[1]), D(want[2]))
    assert out.closed_size == D(closed)
    assert out.realised_pnl == D(pnl)
    assert out.position.position_idx == pos.position_idx


def test_reduce_only_on_flat_does_nothing() -> None:
    out = decide_fill(FLAT0, "Sell", D(1), D(10), reduce_only=True)
    assert out.position == FLAT0 and out.closed_size == 0


def test_ws_and_rest_items_differ_only_where_bybit_does() -> None:
    pos = Position("ETHUSDT", 0, "Buy", D("0.5"), D("3000"), seq=7)
    ws = build_ws_position(pos, D("3100"))
    rest = build_rest_position(pos, D("3100"))
    assert ws["entryPrice"] == rest["avgPrice"] == "3000"
    assert ws["category"] == "linear" and "category" not in rest
    assert "avgPrice" not in ws and "entryPrice" not in rest
    assert ws["unrealisedPnl"] == "50" and ws["seq"] == 7


def test_flat_position_keeps_symbol_and_idx() -> None:
    ws = build_ws_position(Position("ETHUSDT", 2), D("1"))
    assert (ws["symbol"], ws["positionIdx"], ws["side"], ws["size"], ws["seq"]) == (
        "ETHUSDT", 2, "", "0", -1)


@pytest.mark.parametrize(("value", "text"), [
    ("1.50000", "1.5"), ("0", "0"), ("-0.000", "0"), ("1E+3", "1000"),
    ("0.123456789", "0.12345679")])
def test_format_decimal(value: str, text: str) -> None:
    assert format_decimal(D(value)) == text
