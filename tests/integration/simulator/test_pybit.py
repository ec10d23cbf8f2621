"""Unmodified pybit 5.17.0 against the simulator; only URLs change.

pybit builds ``https://api.{domain}.{tld}`` and ``wss://stream...`` URLs itself. Without
touching its code: the HTTP session's ``endpoint`` attribute is read on every call, and the
WebSocket class reads the module constants ``PUBLIC_WSS``/``PRIVATE_WSS`` at construction,
so the tests set those (monkeypatch) to the simulator's URLs. pybit is synchronous and
threaded, so every call runs in a worker thread and results come back through queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import AsyncIterator, Callable
from typing import Any

import pybit.unified_trading as ut
import pytest
from hybridstream.simulator import Simulator
from pybit.exceptions import InvalidRequestError

from tests.plugins.waiting import eventually

from .helpers import DEADLINE

ONE_WAY, HEDGE = 0, 1


def make_http(sim: Simulator, index: int = ONE_WAY) -> ut.HTTP:
    account = sim.config.accounts[index]
    session = ut.HTTP(api_key=account.api_key, api_secret=account.api_secret, max_retries=1)
    session.endpoint = sim.rest_url
    return session


#: A WAN-like round trip for pybit's sockets. pybit's ``subscribe()`` sends the request and
#: only then records its ``req_id``; a loopback ack can beat that, pybit's reader thread
#: raises ``KeyError`` on the unknown ``req_id`` and pybit drops the connection. Against Bybit
#: the network round trip hides that race, so the tests model one instead of hitting it.
PYBIT_RTT_MS = 25


@pytest.fixture
def pybit_urls(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ut, "PUBLIC_WSS", sim.ws_public_url.replace("/linear",
                                                                     "/{CHANNEL_TYPE}"))
    monkeypatch.setattr(ut, "PRIVATE_WSS", sim.ws_private_url)
    sim.control.set_delay("all", PYBIT_RTT_MS)


async def call(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run a blocking pybit call off the event loop (the simulator lives on it)."""
    return await asyncio.to_thread(fn, **kwargs)


@contextlib.asynccontextmanager
async def pybit_socket(**kwargs: Any) -> AsyncIterator[ut.WebSocket]:
    """A pybit WebSocket (its constructor connects and blocks), exited on the way out."""
    ws = await call(ut.WebSocket, testnet=False, **kwargs)
    try:
        yield ws
    finally:
        await call(ws.exit)


async def next_item(q: queue.Queue[Any], predicate: Callable[[Any], bool]) -> Any:
    """First callback payload matching ``predicate`` (the reader thread fills ``q``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while True:
        remaining = deadline - loop.time()
        assert remaining > 0, "pybit never delivered the expected message"
        try:
            item = await asyncio.to_thread(q.get, timeout=min(remaining, 1.0))
        except queue.Empty:
            continue
        if predicate(item):
            return item


async def test_http_market_and_positions(sim: Simulator) -> None:
    http = make_http(sim)
    server_time = await call(http.get_server_time)
    assert server_time["retCode"] == 0 and int(server_time["result"]["timeSecond"]) > 0
    sim.control.set_price("BTCUSDT", "50123.4")  # frozen, so REST must show exactly this
    tickers = await call(http.get_tickers, category="linear", symbol="BTCUSDT")
    [row] = tickers["result"]["list"]
    assert (row["symbol"], row["lastPrice"], row["markPrice"]) == (
        "BTCUSDT", "50123.40", "50123.40")
    flat = await call(http.get_positions, category="linear", symbol="BTCUSDT")
    assert flat["result"]["list"][0]["size"] == "0"


async def test_http_orders_one_way_and_hedge(sim: Simulator) -> None:
    http = make_http(sim)
    created = await call(http.place_order, category="linear", symbol="SOLUSDT", side="Buy",
                         orderType="Market", qty="2")
    assert created["retCode"] == 0 and created["result"]["orderId"]
    listed = await call(http.get_positions, category="linear", settleCoin="USDT")
    assert [(p["symbol"], p["side"], p["size"]) for p in listed["result"]["list"]] == [
        ("SOLUSDT", "Buy", "2")]
    hedge = make_http(sim, HEDGE)
    await call(hedge.place_order, category="linear", symbol="BTCUSDT", side="Sell",
               orderType="Market", qty="0.01", positionIdx=2)
    slots = await call(hedge.get_positions, category="linear", symbol="BTCUSDT")
    assert [(p["positionIdx"], p["side"]) for p in slots["result"]["list"]] == [
        (1, ""), (2, "Sell")]


async def test_http_error_is_raised_as_pybit_does(sim: Simulator) -> None:
    http = make_http(sim)
    with pytest.raises(InvalidRequestError) as info:
        await call(http.place_order, category="linear", symbol="BTCUSDT", side="Buy",
                   orderType="Market", qty="0.01", positionIdx=1)
    assert info.value.status_code == 10001
    assert "position idx not match position mode" in info.value.message


async def test_http_rate_limit_is_retried_after_the_reset_header(sim: Simulator) -> None:
    http = make_http(sim)
    http.max_retries = 3
    sim.control.rate_limit(count=1)  # pybit sleeps until X-Bapi-Limit-Reset-Timestamp
    result = await call(http.get_positions, category="linear", symbol="ETHUSDT")
    assert result["retCode"] == 0
    assert sim.faults.rate_limit_remaining == 0


@pytest.mark.usefixtures("pybit_urls")
async def test_public_ticker_stream(sim: Simulator) -> None:
    async with pybit_socket(channel_type="linear") as ws:
        got: queue.Queue[dict[str, Any]] = queue.Queue()
        await call(ws.ticker_stream, symbol="ETHUSDT", callback=got.put)
        first = await next_item(got, lambda m: True)
        assert first["topic"] == "tickers.ETHUSDT"
        sim.control.set_price("ETHUSDT", "1999.99")
        merged = await next_item(got, lambda m: m["data"].get("lastPrice") == "1999.99")
        # pybit merges deltas onto the snapshot: its view equals the exchange's.
        assert merged["data"] == sim.market.snapshot("ETHUSDT")


@pytest.mark.usefixtures("pybit_urls")
async def test_private_position_stream(sim: Simulator) -> None:
    account = sim.config.accounts[ONE_WAY]
    async with pybit_socket(channel_type="private", api_key=account.api_key,
                            api_secret=account.api_secret, private_auth_expire=10) as ws:
        await eventually(lambda: ws.auth)
        got: queue.Queue[dict[str, Any]] = queue.Queue()
        await call(ws.position_stream, callback=got.put)
        await eventually(lambda: any("position" in c["topics"]
                                   for c in sim.control.connections()))
        sim.control.open_position(account.api_key, "LINKUSDT", "Buy", "3")
        push = await next_item(got, lambda m: True)
        assert push["topic"] == "position"
        assert (push["data"][0]["symbol"], push["data"][0]["size"]) == ("LINKUSDT", "3")


@pytest.mark.usefixtures("pybit_urls")
async def test_pybit_default_one_second_expiry_is_refused(sim: Simulator) -> None:
    """pybit's default ``expires`` = now + 1 s gets "Params Error" (pybit#152/#300)."""
    account = sim.config.accounts[ONE_WAY]
    async with pybit_socket(channel_type="private", api_key=account.api_key,
                            api_secret=account.api_secret, restart_on_error=False) as ws:
        await eventually(lambda: ws.exited)  # pybit raises on the failed auth and exits
        assert ws.auth is False
