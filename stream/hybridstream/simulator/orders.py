"""Order requests: parsing and validation of ``POST /v5/order/create`` parameters (pure).

Errors carry Bybit's ``retCode`` so REST can answer with the documented envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from hybridstream.bybit.rest_envelope import RetCode
from hybridstream.simulator.market import Instrument

#: Bybit's answer when positionIdx does not fit the account's position mode.
POSITION_IDX_MISMATCH_MSG = "position idx not match position mode"
REDUCE_ONLY_REJECT_CODE = 110017
REDUCE_ONLY_REJECT_MSG = "current position is zero, cannot fix reduce-only order qty"


class OrderRejected(Exception):
    """An order Bybit would refuse, with its ``retCode`` and ``retMsg``."""

    def __init__(self, ret_code: int, ret_msg: str) -> None:
        super().__init__(ret_msg)
        self.ret_code = ret_code
        self.ret_msg = ret_msg


@dataclass(frozen=True)
class OrderRequest:
    """A validated order."""

    symbol: str
    side: str
    order_type: str
    qty: Decimal
    price: Decimal | None
    position_idx: int
    reduce_only: bool
    order_link_id: str
    time_in_force: str


def _decimal(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise OrderRejected(RetCode.PARAMS_ERROR, f"params error: {name} invalid") from None
    if not number.is_finite() or number <= 0:
        raise OrderRejected(RetCode.PARAMS_ERROR, f"params error: {name} invalid")
    return number


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def parse_order_request(params: dict[str, Any], instruments: dict[str, Instrument],
                        hedge_mode: bool) -> OrderRequest:
    """Validate order/create parameters as Bybit does (linear only)."""
    if params.get("category") != "linear":
        raise OrderRejected(RetCode.PARAMS_ERROR, "params error: category invalid")
    symbol = str(params.get("symbol", ""))
    if symbol not in instruments:
        raise OrderRejected(RetCode.PARAMS_ERROR, "params error: symbol invalid")
    side = params.get("side")
    if side not in ("Buy", "Sell"):
        raise OrderRejected(RetCode.PARAMS_ERROR, "params error: side invalid")
    order_type = params.get("orderType")
    if order_type not in ("Market", "Limit"):
        raise OrderRejected(RetCode.PARAMS_ERROR, "params error: orderType invalid")
    qty = _decimal(params.get("qty"), "qty")
    step = Decimal(instruments[symbol].qty_step)
    if qty % step != 0:
        raise OrderRejected(RetCode.PARAMS_ERROR, "params error: qty invalid")
    price = _decimal(params.get("price"), "price") if order_type == "Limit" else None
    try:
        position_idx = int(params.get("positionIdx", 0))
    except (TypeError, ValueError):
        raise OrderRejected(RetCode.PARAMS_ERROR, POSITION_IDX_MISMATCH_MSG) from None
    if (position_idx in (1, 2)) != hedge_mode or position_idx not in (0, 1, 2):
        raise OrderRejected(RetCode.PARAMS_ERROR, POSITION_IDX_MISMATCH_MSG)
    default_tif = "IOC" if order_type == "Market" else "GTC"
    return OrderRequest(symbol, side, order_type, qty, price, position_idx,
                        _flag(params.get("reduceOnly")), str(params.get("orderLinkId", "")),
                        str(params.get("timeInForce", default_tif)))


def decide_reduce_only(req: OrderRequest) -> bool:
    """Hedge slots only grow on their own side (idx 1 Buy, idx 2 Sell); the other side closes."""
    if req.position_idx == 1:
        return req.reduce_only or req.side == "Sell"
    if req.position_idx == 2:
        return req.reduce_only or req.side == "Buy"
    return req.reduce_only
