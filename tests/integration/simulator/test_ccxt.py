"""Unmodified ccxt 4.5.90 (async + pro) against the simulator; only ``urls['api']`` changes.

Covers what ccxt does on its own during setup (load_markets reads coin info and every
category's instruments; create_order checks the account type first) and the calls we rely
on: fetch_positions, watch_ticker, watch_positions, create_order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import ccxt.pro as ccxtpro
import pytest
from hybridstream.simulator import Simulator

from tests.plugins.waiting import eventually

from .helpers import DEADLINE


def point_ccxt_at(exchange: ccxtpro.bybit, sim: Simulator) -> None:
    """The documented way to retarget ccxt: override its URL table."""
    api = exchange.urls["api"]
    for key in ("spot", "futures", "v2", "public", "private"):
        api[key] = sim.rest_url
    api["ws"]["public"]["linear"] = sim.ws_public_url
    api["ws"]["private"]["contract"] = sim.ws_private_url
    api["ws"]["private"]["spot"]["unified"] = sim.ws_private_url


@pytest.fixture
async def exchange(sim: Simulator) -> AsyncIterator[ccxtpro.bybit]:
    account = sim.config.accounts[0]
    ex = ccxtpro.bybit({"apiKey": account.api_key, "secret": account.api_secret,
                        "enableRateLimit": False})
    point_ccxt_at(ex, sim)
    try:
        yield ex
    finally:
        await ex.close()


def _subscribed(sim: Simulator, topic: str) -> bool:
    return any(topic in c["topics"] for c in sim.control.connections())


def _waiting_for_positions(exchange: ccxtpro.bybit) -> bool:
    """ccxt registered its ``positions`` future: a push from now on resolves it."""
    return any("positions" in client.futures for client in exchange.clients.values())


async def test_load_markets_matches_the_simulator_symbols(
        sim: Simulator, exchange: ccxtpro.bybit) -> None:
    markets = await exchange.load_markets()
    swaps = sorted(m["id"] for m in markets.values() if m["swap"] and m["linear"])
    assert swaps == sorted(sim.market.instruments)
    btc = markets["BTC/USDT:USDT"]
    assert btc["precision"]["price"] == 0.1 and btc["limits"]["amount"]["min"] == 0.001


async def test_create_order_and_fetch_positions(sim: Simulator,
                                                exchange: ccxtpro.bybit) -> None:
    assert await exchange.fetch_positions() == []
    order = await exchange.create_order("ETH/USDT:USDT", "market", "sell", 0.3)
    assert order["id"] == list(sim.engine.accounts[sim.config.accounts[0].api_key].orders)[-1]
    [position] = await exchange.fetch_positions()
    assert (position["symbol"], position["side"], position["contracts"]) == (
        "ETH/USDT:USDT", "short", 0.3)
    assert position["entryPrice"] == float(sim.journal.entries()[-1].avg_price)


async def test_watch_ticker_snapshot_then_merged_deltas(sim: Simulator,
                                                        exchange: ccxtpro.bybit) -> None:
    first = await asyncio.wait_for(exchange.watch_ticker("BTC/USDT:USDT"), DEADLINE)
    assert first["symbol"] == "BTC/USDT:USDT" and first["last"] > 0
    sim.control.set_price("BTCUSDT", "43210.5")
    # ccxt merges every push into its ticker cache (what watch_ticker returns) from its own
    # reader task; a watch future exists only between calls, and the frozen price is pushed
    # once, so the delta is looked for in the cache rather than in one more watch.
    await eventually(lambda: exchange.tickers["BTC/USDT:USDT"]["last"] == 43210.5)
    ticker = exchange.tickers["BTC/USDT:USDT"]
    assert ticker["markPrice"] == 43210.5 and ticker["bid"] is not None


async def test_watch_positions_sees_open_and_close(sim: Simulator,
                                                   exchange: ccxtpro.bybit) -> None:
    key = sim.config.accounts[0].api_key
    assert await asyncio.wait_for(exchange.watch_positions(), DEADLINE) == []  # REST seed
    update = asyncio.create_task(exchange.watch_positions())
    await eventually(lambda: _subscribed(sim, "position") and _waiting_for_positions(exchange))
    await exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    [opened] = await asyncio.wait_for(update, DEADLINE)
    assert (opened["symbol"], opened["side"], opened["contracts"]) == (
        "BTC/USDT:USDT", "long", 0.01)
    update = asyncio.create_task(exchange.watch_positions())
    await eventually(lambda: _waiting_for_positions(exchange))  # else the push could be missed
    sim.control.close_position(key, "BTCUSDT")
    [closed] = await asyncio.wait_for(update, DEADLINE)
    assert closed["contracts"] == 0
    assert closed["info"]["seq"] == sim.journal.last_seq()
