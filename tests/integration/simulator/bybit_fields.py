"""Field names of Bybit's documented v5 payloads (linear), as tests' ground truth.

Taken from the response-parameter tables of Bybit's API docs (repository
bybit-exchange/docs, commit 072c197d, 2026-07-24; pages listed in docs/bybit-protocol.md
section 8). Fields the docs mark as option-only (greeks) or spot-only (``basePrice``) are left
out: Bybit does not send them for linear. A strict client needs *every* one of these.
"""

from __future__ import annotations

TICKER_WS = frozenset({
    "symbol", "tickDirection", "price24hPcnt", "lastPrice", "prevPrice24h", "highPrice24h",
    "lowPrice24h", "prevPrice1h", "markPrice", "indexPrice", "openInterest",
    "openInterestValue", "singleOpenInterest", "singleOpenInterestValue", "turnover24h",
    "volume24h", "nextFundingTime", "fundingRate", "bid1Price", "bid1Size", "ask1Price",
    "ask1Size", "deliveryTime", "basisRate", "deliveryFeeRate", "predictedDeliveryPrice",
    "preOpenPrice", "preQty", "curPreListingPhase", "fundingIntervalHour", "fundingCap",
    "basisRateYear"})
#: ``/v5/market/tickers`` has no ``tickDirection`` but a ``basis``.
TICKER_REST = (TICKER_WS - {"tickDirection"}) | {"basis"}

_ORDER_COMMON = frozenset({
    "orderId", "orderLinkId", "parentOrderLinkId", "blockTradeId", "symbol", "price", "qty",
    "side", "isLeverage", "positionIdx", "orderStatus", "createType", "cancelType",
    "rejectReason", "avgPrice", "leavesQty", "leavesValue", "cumExecQty", "cumExecValue",
    "cumExecFee", "timeInForce", "orderType", "stopOrderType", "orderIv", "marketUnit",
    "triggerPrice", "takeProfit", "stopLoss", "tpslMode", "ocoTriggerBy", "tpLimitPrice",
    "slLimitPrice", "tpTriggerBy", "slTriggerBy", "triggerDirection", "triggerBy",
    "lastPriceOnCreated", "reduceOnly", "closeOnTrigger", "placeType", "smpType", "smpGroup",
    "smpOrderId", "createdTime", "updatedTime", "cumFeeDetail"})
#: docs/v5/websocket/private/order
ORDER_WS = _ORDER_COMMON | {"category", "brokerOrderPrice", "closedPnl", "feeCurrency",
                            "slippageToleranceType", "slippageTolerance", "rpiTakerAccess",
                            "rpiMatchedQty"}
#: docs/v5/order/open-order and docs/v5/order/order-list (the union of both tables)
ORDER_REST = _ORDER_COMMON | {"slippageToleranceType", "slippageTolerance", "rpiTakerAccess",
                              "rpiMatchedQty", "extraFees"}

_EXECUTION_COMMON = frozenset({
    "symbol", "orderId", "orderLinkId", "side", "orderPrice", "orderQty", "leavesQty",
    "createType", "orderType", "stopOrderType", "execFee", "execId", "execPrice", "execQty",
    "execType", "execValue", "execTime", "isMaker", "feeRate", "tradeIv", "markIv",
    "markPrice", "indexPrice", "underlyingPrice", "blockTradeId", "closedSize", "extraFees",
    "seq", "feeCurrency"})
#: docs/v5/websocket/private/execution
EXECUTION_WS = _EXECUTION_COMMON | {"category", "isLeverage", "execPnl"}
#: docs/v5/order/execution
EXECUTION_REST = _EXECUTION_COMMON | {"execFeeV2"}

_POSITION_COMMON = frozenset({
    "positionIdx", "riskId", "riskLimitValue", "symbol", "side", "size", "positionValue",
    "autoAddMargin", "positionStatus", "leverage", "breakEvenPrice", "markPrice", "liqPrice",
    "positionIM", "positionIMByMp", "positionMM", "positionMMByMp", "takeProfit", "stopLoss",
    "trailingStop", "sessionAvgPrice", "unrealisedPnl", "curRealisedPnl", "cumRealisedPnl",
    "adlRankIndicator", "createdTime", "updatedTime", "openTime", "seq", "isReduceOnly",
    "mmrSysUpdatedTime", "leverageSysUpdatedTime", "tpslMode", "bustPrice", "positionBalance",
    "tradeMode"})
#: docs/v5/websocket/private/position
POSITION_WS = _POSITION_COMMON | {"category", "entryPrice"}
#: docs/v5/position/position
POSITION_REST = _POSITION_COMMON | {"avgPrice"}

#: docs/v5/websocket/private/wallet and docs/v5/account/wallet-balance (same tables)
WALLET = frozenset({
    "accountType", "accountIMRate", "accountMMRate", "totalEquity", "totalWalletBalance",
    "totalMarginBalance", "totalAvailableBalance", "totalPerpUPL", "totalInitialMargin",
    "totalMaintenanceMargin", "accountIMRateByMp", "accountMMRateByMp",
    "totalInitialMarginByMp", "totalMaintenanceMarginByMp", "accountLTV", "coin"})
WALLET_COIN = frozenset({
    "coin", "equity", "usdValue", "walletBalance", "locked", "spotHedgingQty", "borrowAmount",
    "accruedInterest", "totalOrderIM", "totalPositionIM", "totalPositionMM", "unrealisedPnl",
    "cumRealisedPnl", "bonus", "collateralSwitch", "marginCollateral", "colRes", "spotBorrow",
    "free", "availableToWithdraw", "availableToBorrow"})

#: docs/v5/account/fee-rate (derivatives rows: no baseCoin; the example shows ``symbol``)
FEE_RATE = frozenset({"symbol", "takerFeeRate", "makerFeeRate"})
