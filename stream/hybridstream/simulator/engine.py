"""Accounts and the order engine: fills market orders and emits the private pushes.

A fill produces, in Bybit's order, ``order`` -> ``execution`` -> ``position`` -> ``wallet``
pushes sharing one ``seq`` (execution and position), and one journal entry. Positions change
only here, so the journal is the ground truth of every position update ever emitted.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from hybridstream.simulator.clock import now_ms
from hybridstream.simulator.config import AccountConfig, SimulatorConfig
from hybridstream.simulator.journal import Journal, JournalEntry
from hybridstream.simulator.market import Market
from hybridstream.simulator.orders import (
    REDUCE_ONLY_REJECT_CODE,
    REDUCE_ONLY_REJECT_MSG,
    OrderRejected,
    OrderRequest,
    decide_reduce_only,
    parse_order_request,
)
from hybridstream.simulator.positions import (
    ZERO,
    Position,
    assess_unrealised_pnl,
    build_rest_position,
    build_wallet,
    build_ws_position,
    decide_fill,
    format_decimal,
)

#: ``publish(api_key, topic, data)``: hand a private push to the private WebSocket hub.
Publisher = Callable[[str, str, list[dict[str, Any]]], None]


@dataclass
class Account:
    """One API key's state."""

    config: AccountConfig
    uid: int
    balance: Decimal
    cum_realised: Decimal = ZERO
    positions: dict[tuple[str, int], Position] = field(default_factory=dict)
    #: Latest ``order`` push per orderId, in creation order (REST order queries read it).
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Every ``execution`` push item, oldest first (REST ``/v5/execution/list`` reads it).
    executions: list[dict[str, Any]] = field(default_factory=list)


class Engine:
    """Accounts, positions and order handling."""

    def __init__(self, config: SimulatorConfig, market: Market, journal: Journal,
                 publish: Publisher) -> None:
        self.market = market
        self.journal = journal
        self.publish = publish
        self.taker_fee_rate = Decimal(config.taker_fee_rate)
        self.maker_fee_rate = Decimal(config.maker_fee_rate)
        self._leverage = config.default_leverage
        self._seq = itertools.count(8_000_000_001)
        self.accounts: dict[str, Account] = {}
        for n, acc in enumerate(config.accounts):
            self.accounts[acc.api_key] = Account(acc, acc.uid or 1_000_001 + n,
                                                 Decimal(acc.wallet_balance))

    def slots(self, account: Account, symbol: str) -> list[Position]:
        """The symbol's position slots for the account's mode (flat ones included)."""
        idxs = (1, 2) if account.config.hedge_mode else (0,)
        return [account.positions.get((symbol, i)) or Position(symbol, i, leverage=self._leverage)
                for i in idxs]

    def list_positions(self, api_key: str, symbol: str | None = None) -> list[Position]:
        """Positions of ``symbol`` (even flat), or all open ones when ``symbol`` is None."""
        account = self.accounts[api_key]
        if symbol is not None:
            return self.slots(account, symbol)
        return sorted((p for p in account.positions.values() if p.size > 0),
                      key=lambda p: (p.symbol, p.position_idx))

    def rest_position(self, pos: Position) -> dict[str, Any]:
        """``pos`` as a ``/v5/position/list`` item at the current mark price."""
        return build_rest_position(pos, self.market.mark_price(pos.symbol))

    def wallet(self, api_key: str) -> dict[str, Any]:
        """The account's UNIFIED wallet with unrealised PnL at current mark prices."""
        account = self.accounts[api_key]
        upl = im = ZERO
        for pos in account.positions.values():
            if pos.size:
                upl += assess_unrealised_pnl(pos, self.market.mark_price(pos.symbol))
                im += pos.avg_price * pos.size / Decimal(pos.leverage)
        return build_wallet(account.balance, account.cum_realised, upl, im)

    def place_order(self, api_key: str, params: dict[str, Any]) -> dict[str, str]:
        """``POST /v5/order/create``: validate, then fill (Market or crossing Limit) or rest."""
        account = self.accounts[api_key]
        req = parse_order_request(params, self.market.instruments, account.config.hedge_mode)
        order_id = str(uuid.uuid4())
        fill_price = self.market.fill_price(req.symbol, req.side)
        crosses = req.price is None or (
            req.price >= fill_price if req.side == "Buy" else req.price <= fill_price)
        if not crosses:
            self._emit_order(account, req, order_id, status="New", exec_qty=ZERO, price=ZERO,
                             fee=ZERO, closed_pnl=ZERO)
            return {"orderId": order_id, "orderLinkId": req.order_link_id}
        self._fill(account, req, order_id, fill_price)
        return {"orderId": order_id, "orderLinkId": req.order_link_id}

    def _fill(self, account: Account, req: OrderRequest, order_id: str, price: Decimal) -> None:
        key = (req.symbol, req.position_idx)
        before = self.slots(account, req.symbol)[0 if req.position_idx in (0, 1) else -1]
        reduce_only = decide_reduce_only(req)
        outcome = decide_fill(before, req.side, req.qty, price, reduce_only)
        exec_qty = outcome.closed_size if reduce_only else req.qty
        if exec_qty == 0:
            raise OrderRejected(REDUCE_ONLY_REJECT_CODE, REDUCE_ONLY_REJECT_MSG)
        now = now_ms()
        fee = price * exec_qty * self.taker_fee_rate
        realised = outcome.realised_pnl - fee
        seq = next(self._seq)
        after = replace(outcome.position, cum_realised_pnl=before.cum_realised_pnl + realised,
                        cur_realised_pnl=realised, created_ms=before.created_ms or now,
                        updated_ms=now, seq=seq, opened_ms=before.opened_ms
                        if before.size and outcome.position.side == before.side else now)
        account.positions[key] = after
        account.balance += realised
        account.cum_realised += realised
        self._emit_order(account, req, order_id, status="Filled", exec_qty=exec_qty,
                         price=price, fee=fee,
                         closed_pnl=realised if outcome.closed_size else ZERO)
        execution = self._execution_item(req, order_id, qty=exec_qty, price=price, fee=fee,
                                         closed=outcome.closed_size,
                                         pnl=outcome.realised_pnl, seq=seq)
        account.executions.append(execution)
        self.publish(account.config.api_key, "execution", [execution])
        mark = self.market.mark_price(req.symbol)
        self.publish(account.config.api_key, "position", [build_ws_position(after, mark)])
        self.journal.append(JournalEntry(
            seq=seq, account=account.config.api_key, symbol=req.symbol,
            position_idx=req.position_idx, side=after.side, size=format_decimal(after.size),
            avg_price=format_decimal(after.avg_price), updated_ms=now, cause=order_id))
        self.publish(account.config.api_key, "wallet", [self.wallet(account.config.api_key)])

    def _emit_order(self, account: Account, req: OrderRequest, order_id: str, *, status: str,
                    exec_qty: Decimal, price: Decimal, fee: Decimal, closed_pnl: Decimal) -> None:
        # Every field of Bybit's order push (docs/bybit-protocol.md section 8); "" where a
        # field does not apply to a plain linear order, as Bybit sends it.
        now = str(now_ms())
        value = exec_qty * price
        leaves = req.qty - exec_qty if status == "New" else ZERO
        limit_price = req.price if req.price is not None else price
        item = {
            "category": "linear", "symbol": req.symbol, "orderId": order_id,
            "orderLinkId": req.order_link_id, "parentOrderLinkId": "", "blockTradeId": "",
            "side": req.side, "positionIdx": req.position_idx, "orderStatus": status,
            "cancelType": "UNKNOWN", "rejectReason": "EC_NoError",
            "timeInForce": req.time_in_force, "isLeverage": "",
            "price": format_decimal(limit_price), "brokerOrderPrice": "",
            "qty": format_decimal(req.qty), "avgPrice": format_decimal(price) if exec_qty else "",
            "leavesQty": format_decimal(leaves),
            "leavesValue": format_decimal(leaves * limit_price),
            "cumExecQty": format_decimal(exec_qty), "cumExecValue": format_decimal(value),
            "cumExecFee": format_decimal(fee), "cumFeeDetail": {"USDT": format_decimal(fee)},
            "closedPnl": format_decimal(closed_pnl), "orderType": req.order_type,
            "stopOrderType": "", "ocoTriggerBy": "", "orderIv": "", "triggerPrice": "",
            "takeProfit": "", "stopLoss": "", "triggerBy": "", "tpTriggerBy": "",
            "slTriggerBy": "", "triggerDirection": 0, "placeType": "",
            "lastPriceOnCreated": self.market.tickers[req.symbol].fields["lastPrice"],
            "closeOnTrigger": False, "reduceOnly": req.reduce_only, "smpGroup": 0,
            "smpType": "None", "smpOrderId": "", "slLimitPrice": "0", "tpLimitPrice": "0",
            "tpslMode": "UNKNOWN", "createType": "CreateByUser", "marketUnit": "",
            "slippageToleranceType": "UNKNOWN", "slippageTolerance": "",
            "rpiTakerAccess": False, "rpiMatchedQty": "0",
            "createdTime": now, "updatedTime": now, "feeCurrency": "",
        }
        account.orders[order_id] = item
        self.publish(account.config.api_key, "order", [item])

    def _execution_item(self, req: OrderRequest, order_id: str, *, qty: Decimal,
                        price: Decimal, fee: Decimal, closed: Decimal, pnl: Decimal,
                        seq: int) -> dict[str, Any]:
        fields = self.market.tickers[req.symbol].fields
        return {
            "category": "linear", "symbol": req.symbol, "isLeverage": "0",
            "execId": str(uuid.uuid4()),
            "execPrice": format_decimal(price), "execQty": format_decimal(qty),
            "execFee": format_decimal(fee), "execType": "Trade", "execTime": str(now_ms()),
            "execValue": format_decimal(price * qty),
            "feeRate": format_decimal(self.taker_fee_rate),
            "orderId": order_id, "orderLinkId": req.order_link_id, "side": req.side,
            "orderType": req.order_type, "orderPrice": format_decimal(req.price or price),
            "orderQty": format_decimal(req.qty), "isMaker": False,
            "markPrice": fields["markPrice"], "indexPrice": fields["indexPrice"],
            "leavesQty": "0", "closedSize": format_decimal(closed), "seq": seq,
            "execPnl": format_decimal(pnl), "feeCurrency": "USDT", "stopOrderType": "UNKNOWN",
            "createType": "CreateByUser", "blockTradeId": "", "tradeIv": "", "markIv": "",
            "underlyingPrice": "", "marketUnit": "", "extraFees": "",
        }

    def open_position(self, api_key: str, symbol: str, side: str, qty: str,
                      position_idx: int | None = None) -> dict[str, str]:
        """Admin: a market order as if placed elsewhere (web UI); same pushes as REST."""
        hedge = self.accounts[api_key].config.hedge_mode
        idx = position_idx if position_idx is not None else (
            (1 if side == "Buy" else 2) if hedge else 0)
        return self.place_order(api_key, {"category": "linear", "symbol": symbol, "side": side,
                                          "orderType": "Market", "qty": qty,
                                          "positionIdx": idx})

    def close_position(self, api_key: str, symbol: str,
                       position_idx: int | None = None) -> list[dict[str, str]]:
        """Admin: flatten the symbol's open slots (or one slot) with reduce-only market orders."""
        account = self.accounts[api_key]
        results = []
        for pos in self.slots(account, symbol):
            if pos.size == 0 or position_idx not in (None, pos.position_idx):
                continue
            results.append(self.place_order(api_key, {
                "category": "linear", "symbol": symbol,
                "side": "Sell" if pos.side == "Buy" else "Buy", "orderType": "Market",
                "qty": format_decimal(pos.size), "positionIdx": pos.position_idx,
                "reduceOnly": True}))
        return results
