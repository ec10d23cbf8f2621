"""Position arithmetic and position/wallet payload builders (pure).

``decide_fill`` is the whole trading rule set of the simulator: open, add, reduce, close and
(one-way mode only) flip, with the realised PnL of the closed part. Builders render the
WebSocket ``position`` item (``entryPrice``, ``category``) and the REST ``position/list``
item (``avgPrice``, no ``category``) from one place so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
_Q8 = Decimal("0.00000001")


def format_decimal(value: Decimal) -> str:
    """Plain (never exponent) string with at most 8 decimals and no trailing zeros."""
    text = format(value.quantize(_Q8).normalize(), "f")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Position:
    """One position slot: ``(symbol, positionIdx)``; ``side`` is "" when flat."""

    symbol: str
    position_idx: int
    side: str = ""
    size: Decimal = ZERO
    avg_price: Decimal = ZERO
    leverage: str = "10"
    cum_realised_pnl: Decimal = ZERO
    cur_realised_pnl: Decimal = ZERO
    created_ms: int = 0
    updated_ms: int = 0
    opened_ms: int = 0  # when the current open position started (Bybit's openTime)
    seq: int = -1  # Bybit: -1 until the position has traded


@dataclass(frozen=True)
class FillOutcome:
    """What one fill does to a position."""

    position: Position
    closed_size: Decimal
    realised_pnl: Decimal


def _signed(side: str, size: Decimal) -> Decimal:
    return size if side == "Buy" else -size


def decide_fill(pos: Position, side: str, qty: Decimal, price: Decimal,
                reduce_only: bool = False) -> FillOutcome:
    """Apply a fill of ``qty`` at ``price`` on ``side`` to ``pos`` (fees are the caller's).

    Hedge slots (idx 1 long, 2 short) never flip: a reducing fill beyond the size is capped,
    as Bybit truncates reduce-only quantities. One-way (idx 0) nets and may flip unless
    ``reduce_only``."""
    current = _signed(pos.side, pos.size)
    delta = _signed(side, qty)
    hedge = pos.position_idx in (1, 2)
    if current == 0 or (current > 0) == (delta > 0):
        if reduce_only:
            return FillOutcome(pos, ZERO, ZERO)
        new_size = pos.size + qty
        avg = (pos.avg_price * pos.size + price * qty) / new_size
        return FillOutcome(replace(pos, side=side, size=new_size, avg_price=avg), ZERO, ZERO)
    closed = min(pos.size, qty)
    direction = 1 if current > 0 else -1
    pnl = (price - pos.avg_price) * closed * direction
    remainder = qty - closed
    if remainder > 0 and not hedge and not reduce_only:
        flipped = replace(pos, side=side, size=remainder, avg_price=price)
        return FillOutcome(flipped, closed, pnl)
    left = pos.size - closed
    if left == 0:
        return FillOutcome(replace(pos, side="", size=ZERO, avg_price=ZERO), closed, pnl)
    return FillOutcome(replace(pos, size=left), closed, pnl)


def assess_unrealised_pnl(pos: Position, mark: Decimal) -> Decimal:
    """Mark-to-market PnL of the open size."""
    direction = 1 if pos.side == "Buy" else -1
    return (mark - pos.avg_price) * pos.size * direction if pos.size else ZERO


def _common_fields(pos: Position, mark: Decimal) -> dict[str, Any]:
    value = pos.avg_price * pos.size
    margin = value / Decimal(pos.leverage)
    return {
        "positionIdx": pos.position_idx, "tradeMode": 0, "riskId": 1,
        "riskLimitValue": "2000000", "symbol": pos.symbol, "side": pos.side,
        "size": format_decimal(pos.size), "leverage": pos.leverage,
        "breakEvenPrice": format_decimal(pos.avg_price), "positionValue": format_decimal(value),
        "positionBalance": format_decimal(margin), "markPrice": format_decimal(mark),
        "positionIM": format_decimal(margin), "positionMM": format_decimal(margin / 10),
        "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
        "unrealisedPnl": format_decimal(assess_unrealised_pnl(pos, mark)),
        "curRealisedPnl": format_decimal(pos.cur_realised_pnl),
        "cumRealisedPnl": format_decimal(pos.cum_realised_pnl),
        "sessionAvgPrice": "0", "createdTime": str(pos.created_ms),
        "updatedTime": str(pos.updated_ms), "tpslMode": "Full", "liqPrice": "", "bustPrice": "",
        "positionStatus": "Normal", "adlRankIndicator": 2 if pos.size else 0,
        "autoAddMargin": 0, "leverageSysUpdatedTime": "", "mmrSysUpdatedTime": "",
        "seq": pos.seq, "isReduceOnly": False, "openTime": pos.opened_ms if pos.size else 0,
        "positionIMByMp": format_decimal(margin), "positionMMByMp": format_decimal(margin / 10),
    }


def build_ws_position(pos: Position, mark: Decimal) -> dict[str, Any]:
    """Item of the private ``position`` topic (``entryPrice``, ``category``)."""
    fields = _common_fields(pos, mark)
    fields["entryPrice"] = format_decimal(pos.avg_price)
    fields["category"] = "linear"
    return fields


def build_rest_position(pos: Position, mark: Decimal) -> dict[str, Any]:
    """Item of ``GET /v5/position/list`` (``avgPrice``, no ``category``)."""
    fields = _common_fields(pos, mark)
    fields["avgPrice"] = format_decimal(pos.avg_price)
    return fields


def build_wallet(balance: Decimal, cum_realised: Decimal, upl: Decimal,
                 position_im: Decimal) -> dict[str, Any]:
    """A UNIFIED account with one USDT coin (``wallet`` topic item and wallet-balance row)."""
    equity = balance + upl
    available = equity - position_im
    return {
        "accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0",
        "accountLTV": "0", "totalEquity": format_decimal(equity),
        "totalWalletBalance": format_decimal(balance),
        "totalMarginBalance": format_decimal(equity),
        "totalAvailableBalance": format_decimal(available),
        "totalPerpUPL": format_decimal(upl), "totalInitialMargin": format_decimal(position_im),
        "totalMaintenanceMargin": format_decimal(position_im / 10),
        "accountIMRateByMp": "0", "accountMMRateByMp": "0",
        "totalInitialMarginByMp": format_decimal(position_im),
        "totalMaintenanceMarginByMp": format_decimal(position_im / 10),
        "coin": [{
            "coin": "USDT", "equity": format_decimal(equity), "usdValue": format_decimal(equity),
            # Deprecated by Bybit for UNIFIED: always "" (strict clients still require them).
            "walletBalance": format_decimal(balance), "availableToWithdraw": "",
            "availableToBorrow": "", "free": "", "spotBorrow": "0", "colRes": "0",
            "borrowAmount": "0", "accruedInterest": "0", "totalOrderIM": "0",
            "totalPositionIM": format_decimal(position_im),
            "totalPositionMM": format_decimal(position_im / 10),
            "unrealisedPnl": format_decimal(upl), "cumRealisedPnl": format_decimal(cum_realised),
            "bonus": "0", "collateralSwitch": True, "marginCollateral": True, "locked": "0",
            "spotHedgingQty": "0",
        }],
    }
