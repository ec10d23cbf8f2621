"""Public market REST payloads: tickers and instruments-info (pure builders).

ccxt's ``load_markets`` reads ``instruments-info`` for every category; the list here is the
simulator's own symbols so REST, WebSocket and ccxt's market map always agree.
"""

from __future__ import annotations

from typing import Any

from hybridstream.simulator.market import Instrument

#: REST-only ticker fields (the rest are the WebSocket snapshot's).
_REST_TICKER_EXTRAS = {"basis": ""}


def build_rest_ticker(fields: dict[str, str]) -> dict[str, str]:
    """A ``/v5/market/tickers`` linear row from the live ticker fields (no tickDirection)."""
    row = {k: v for k, v in fields.items() if k != "tickDirection"}
    row.update(_REST_TICKER_EXTRAS)
    return row


def build_instrument_info(inst: Instrument) -> dict[str, Any]:
    """A ``/v5/market/instruments-info`` linear perpetual row."""
    return {
        "symbol": inst.symbol, "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": inst.base_coin, "quoteCoin": "USDT", "launchTime": "1585526400000",
        "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": str(inst.decimals),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00",
                           "leverageStep": "0.01"},
        "priceFilter": {"minPrice": inst.tick_size,
                        "maxPrice": inst.format_price(10 ** (inst.decimals + 7)),
                        "tickSize": inst.tick_size},
        "lotSizeFilter": {"maxOrderQty": "1000000", "minOrderQty": inst.min_qty,
                          "qtyStep": inst.qty_step, "postOnlyMaxOrderQty": "1000000",
                          "maxMktOrderQty": "100000", "minNotionalValue": "5"},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT",
        "copyTrading": "both", "upperFundingRate": "0.005", "lowerFundingRate": "-0.005",
        "isPreListing": False, "preListingInfo": None, "displayName": "",
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
    }


def build_page(items: list[Any], limit: int, cursor: str) -> tuple[list[Any], str]:
    """Cursor pagination; returns (page, next cursor or "").

    The cursor ``"page-<offset>"`` uses unreserved characters only, so no client's URL
    re-encoding can make the signed query differ from the one received."""
    offset = int(cursor.removeprefix("page-")) if cursor.startswith("page-") else 0
    page = items[offset:offset + limit]
    nxt = f"page-{offset + limit}" if offset + limit < len(items) else ""
    return page, nxt


def build_coin_info(coin: str) -> dict[str, Any]:
    """A ``/v5/asset/coin/query-info`` row (ccxt's ``fetch_currencies`` reads it)."""
    return {
        "name": coin, "coin": coin, "remainAmount": "1000000",
        "chains": [{"chainType": coin, "confirmation": "6", "withdrawFee": "0",
                    "depositMin": "0", "withdrawMin": "0", "chain": coin, "chainDeposit": "1",
                    "chainWithdraw": "1", "minAccuracy": "8", "withdrawPercentageFee": "0"}],
    }
