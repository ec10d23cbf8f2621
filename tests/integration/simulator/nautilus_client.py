"""Runs inside nautilus_trader's own venv (hack/nautilus-venv.sh), never under pytest.

Reads from stdin the raw text frames a test captured from the simulator's sockets and the
simulator's REST address and key; decodes every frame with nautilus_trader's msgspec structs
(the ones its Bybit adapter uses: every field they declare without a default is required, so
a missing field raises), then drives nautilus_trader's own signed HTTP client through the
start-up and recovery calls. Prints what it decoded as JSON; any failure exits non-zero.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import msgspec
from nautilus_trader.adapters.bybit.common.enums import BybitProductType
from nautilus_trader.adapters.bybit.http.account import BybitAccountHttpAPI
from nautilus_trader.adapters.bybit.http.client import BybitHttpClient
from nautilus_trader.adapters.bybit.http.market import BybitMarketHttpAPI
from nautilus_trader.adapters.bybit.schemas.ws import (
    BybitWsAccountExecutionMsg,
    BybitWsAccountOrderMsg,
    BybitWsAccountPositionMsg,
    BybitWsAccountWalletMsg,
    BybitWsTickerLinearMsg,
)
from nautilus_trader.common.component import LiveClock

DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "order": msgspec.json.Decoder(BybitWsAccountOrderMsg),
    "execution": msgspec.json.Decoder(BybitWsAccountExecutionMsg),
    "position": msgspec.json.Decoder(BybitWsAccountPositionMsg),
    "wallet": msgspec.json.Decoder(BybitWsAccountWalletMsg),
    "tickers": msgspec.json.Decoder(BybitWsTickerLinearMsg),
}


def decode_frames(frames: dict[str, list[str]]) -> dict[str, list[Any]]:
    """Every frame through its decoder; returns the decoded messages' builtins per topic."""
    return {topic: [msgspec.to_builtins(DECODERS[topic].decode(raw)) for raw in raws]
            for topic, raws in frames.items()}


async def call_rest(base_url: str, api_key: str, api_secret: str,
                    order_id: str) -> dict[str, Any]:
    """What a nautilus Bybit execution client asks at start-up and to reconcile."""
    clock = LiveClock()
    client = BybitHttpClient(clock=clock, api_key=api_key, api_secret=api_secret,
                             base_url=base_url)
    account = BybitAccountHttpAPI(client=client, clock=clock)
    market = BybitMarketHttpAPI(client=client, clock=clock)
    linear = BybitProductType.LINEAR
    calls = {
        "fee_rate": account.fetch_fee_rate(linear),
        "wallet": account.query_wallet_balance(),
        "positions": account.query_position_info(linear),
        "open_orders": account.query_open_orders(linear),
        "order_history": account.query_order_history(linear, open_only=False),
        "executions": account.query_trade_history(linear),
        "order_by_id": account.query_order(linear, None, None, order_id),
        "tickers": market.fetch_tickers(linear),
    }
    out: dict[str, Any] = {}
    for name, call in calls.items():
        result = await call
        if name == "wallet":  # (list, server time)
            result = result[0]
        out[name] = msgspec.to_builtins(result)
    return out


def main() -> None:
    request = json.load(sys.stdin)
    report = {"frames": decode_frames(request["frames"]),
              "rest": asyncio.run(call_rest(**request["rest"]))}
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
