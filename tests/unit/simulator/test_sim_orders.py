"""Order parameter validation with Bybit's codes."""

from __future__ import annotations

from typing import Any

import pytest
from hybridstream.simulator.market import build_instruments
from hybridstream.simulator.orders import (
    POSITION_IDX_MISMATCH_MSG,
    OrderRejected,
    decide_reduce_only,
    parse_order_request,
)

INSTRUMENTS = {i.symbol: i for i in build_instruments(3, 1)}
BASE = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
        "qty": "0.01"}


def test_market_order_defaults() -> None:
    req = parse_order_request(BASE, INSTRUMENTS, hedge_mode=False)
    assert (req.position_idx, req.time_in_force, req.price, req.reduce_only) == (
        0, "IOC", None, False)


@pytest.mark.parametrize(("change", "msg"), [
    ({"category": "spot"}, "category"), ({"symbol": "NOPEUSDT"}, "symbol"),
    ({"side": "buy"}, "side"), ({"orderType": "Stop"}, "orderType"),
    ({"qty": "0"}, "qty"), ({"qty": "abc"}, "qty"), ({"qty": "0.0001"}, "qty"),
    ({"orderType": "Limit"}, "price"), ({"positionIdx": 1}, POSITION_IDX_MISMATCH_MSG),
])
def test_rejections_are_params_errors(change: dict[str, Any], msg: str) -> None:
    with pytest.raises(OrderRejected) as info:
        parse_order_request({**BASE, **change}, INSTRUMENTS, hedge_mode=False)
    assert info.value.ret_code == 10001
    assert msg in info.value.ret_msg


def test_hedge_mode_needs_idx_1_or_2() -> None:
    with pytest.raises(OrderRejected):
        parse_order_request(BASE, INSTRUMENTS, hedge_mode=True)
    req = parse_order_request({**BASE, "positionIdx": "2", "side": "Buy"}, INSTRUMENTS, True)
    assert decide_reduce_only(req)  # a Buy on the short slot closes it
    req = parse_order_request({**BASE, "positionIdx": 1, "reduceOnly": "true"}, INSTRUMENTS,
                              True)
    assert req.reduce_only and decide_reduce_only(req)
