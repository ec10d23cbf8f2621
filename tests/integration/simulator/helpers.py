"""Client-side helpers for talking to the simulator over real sockets with deadlines."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
from hybridstream.bybit.signing import rest_headers, ws_auth_args
from hybridstream.simulator import Simulator
from yarl import URL

DEADLINE = 30.0
PRIVATE_TOPICS = ("position", "order", "execution", "wallet")


def now_ms() -> int:
    return int(time.time() * 1000)


async def recv_json(ws: aiohttp.ClientWebSocketResponse, within: float = DEADLINE) -> Any:
    """Next text frame as JSON (fails on close or after ``within`` seconds)."""
    msg = await asyncio.wait_for(ws.receive(), within)
    assert msg.type == aiohttp.WSMsgType.TEXT, f"expected text, got {msg.type} {msg.data!r}"
    return json.loads(msg.data)


async def recv_until(ws: aiohttp.ClientWebSocketResponse, predicate: Callable[[Any], bool],
                     within: float = DEADLINE) -> Any:
    """First message satisfying ``predicate``, skipping others, within ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        message = await recv_json(ws, max(0.01, deadline - loop.time()))
        if predicate(message):
            return message


async def open_private(session: aiohttp.ClientSession, sim: Simulator, index: int = 0,
                       topics: tuple[str, ...] = PRIVATE_TOPICS,
                       query: str = "") -> aiohttp.ClientWebSocketResponse:
    """A private socket, authenticated (+10 s expiry) and subscribed to ``topics``."""
    account = sim.config.accounts[index]
    ws = await session.ws_connect(sim.ws_private_url + query)
    await ws.send_json({"req_id": "auth-1", "op": "auth",
                        "args": ws_auth_args(account.api_key, account.api_secret, now_ms())})
    ack = await recv_json(ws)
    assert ack["op"] == "auth" and ack["success"] is True, ack
    if topics:
        await ws.send_json({"req_id": "sub-1", "op": "subscribe", "args": list(topics)})
        ack = await recv_json(ws)
        assert ack["op"] == "subscribe" and ack["success"] is True, ack
    return ws


async def signed_request(session: aiohttp.ClientSession, sim: Simulator, method: str,
                         path: str, params: dict[str, Any], *, index: int = 0,
                         headers: dict[str, str] | None = None,
                         ) -> tuple[dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    """A signed REST call as a Bybit client makes it; returns (JSON body, headers)."""
    account = sim.config.accounts[index]
    payload = urlencode(params) if method == "GET" else json.dumps(params)
    signed = rest_headers(account.api_key, account.api_secret, now_ms(), payload)
    signed.update(headers or {})
    url = f"{sim.rest_url}{path}"
    if method == "GET":
        # encoded=True: send the query exactly as signed (no requoting by yarl).
        request = session.get(URL(f"{url}?{payload}" if payload else url, encoded=True),
                              headers=signed)
    else:
        request = session.post(url, data=payload, headers={**signed,
                                                           "Content-Type": "application/json"})
    async with request as resp:
        assert resp.status == 200
        return await resp.json(), resp.headers


SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
QTY = {"BTCUSDT": "0.01", "ETHUSDT": "0.1", "SOLUSDT": "1"}


async def random_orders(session: aiohttp.ClientSession, sim: Simulator, count: int) -> None:
    """``count`` seeded market orders of account 0: every third via the admin path (as if
    placed in the web UI), the others signed over REST (waiting out 10006 as pybit does)."""
    rng = random.Random(5)
    key = sim.config.accounts[0].api_key
    for n in range(count):
        symbol, side = rng.choice(SYMBOLS), rng.choice(("Buy", "Sell"))
        if n % 3 == 0:
            sim.control.open_position(key, symbol, side, QTY[symbol])
        else:
            for _ in range(20):  # order/create allows 10/s: wait for the window as pybit does
                body, headers = await signed_request(session, sim, "POST", "/v5/order/create", {
                    "category": "linear", "symbol": symbol, "side": side,
                    "orderType": "Market", "qty": QTY[symbol]})
                if body["retCode"] != 10006:
                    break
                reset_ms = int(headers["X-Bapi-Limit-Reset-Timestamp"])
                await asyncio.sleep(max(0.0, reset_ms / 1000 - time.time()) + 0.01)
            assert body["retCode"] == 0, body
