"""Signed account/order/execution REST a trading client calls at start-up and to recover:
``/v5/account/fee-rate``, ``/v5/order/realtime``, ``/v5/order/history``,
``/v5/execution/list``, over real HTTP, checked against the pushes and the journal."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from hybridstream.simulator import Simulator
from hybridstream.simulator.order_queries import WINDOW_MS

from tests.plugins.waiting import eventually

from .helpers import open_private, random_orders, recv_json, signed_request

SEVEN_DAYS_AND_A_MS = WINDOW_MS + 1


async def _get(session: aiohttp.ClientSession, sim: Simulator, path: str,
               **params: Any) -> dict[str, Any]:
    body, _ = await signed_request(session, sim, "GET", path, {"category": "linear", **params})
    return body


async def _all_pages(session: aiohttp.ClientSession, sim: Simulator, path: str, limit: int,
                     cursor: str = "", **params: Any) -> list[dict[str, Any]]:
    """Every page from ``cursor`` on, as a client walks them: until ``nextPageCursor`` is ""."""
    items: list[dict[str, Any]] = []
    while True:
        body = await _get(session, sim, path, limit=limit, **params,
                          **({"cursor": cursor} if cursor else {}))
        assert body["retCode"] == 0, body
        assert len(body["result"]["list"]) <= limit
        items.extend(body["result"]["list"])
        cursor = body["result"]["nextPageCursor"]
        if not cursor:
            return items


async def _limit_order(session: aiohttp.ClientSession, sim: Simulator, link: str) -> str:
    body, _ = await signed_request(session, sim, "POST", "/v5/order/create", {
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
        "qty": "0.01", "price": "1000", "orderLinkId": link})
    assert body["retCode"] == 0, body
    return str(body["result"]["orderId"])


async def test_fee_rate(sim: Simulator, session: aiohttp.ClientSession) -> None:
    body = await _get(session, sim, "/v5/account/fee-rate")
    assert body["retCode"] == 0
    assert body["result"]["list"] == [
        {"symbol": s, "takerFeeRate": "0.00055", "makerFeeRate": "0.0002"}
        for s in sim.market.instruments]
    one = await _get(session, sim, "/v5/account/fee-rate", symbol="ETHUSDT")
    assert [r["symbol"] for r in one["result"]["list"]] == ["ETHUSDT"]
    assert (await _get(session, sim, "/v5/account/fee-rate", symbol="NOPEUSDT"))[
        "retCode"] == 10001
    spot, _ = await signed_request(session, sim, "GET", "/v5/account/fee-rate",
                                   {"category": "spot"})
    assert (spot["retCode"], spot["result"]) == (0, {"list": []})
    missing, _ = await signed_request(session, sim, "GET", "/v5/account/fee-rate", {})
    assert missing["retCode"] == 10001
    async with session.get(f"{sim.rest_url}/v5/account/fee-rate",
                           params={"category": "linear"}) as resp:
        assert (resp.status, (await resp.json())["retCode"]) == (200, 10003)


async def test_open_orders_page_newest_first_without_duplicates(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    ids = [await _limit_order(session, sim, f"rest-{n}") for n in range(5)]
    first = await _get(session, sim, "/v5/order/realtime", symbol="BTCUSDT", limit=2)
    result = first["result"]
    assert result["category"] == "linear"
    assert [o["orderId"] for o in result["list"]] == ids[:2:-1]
    assert {o["orderStatus"] for o in result["list"]} == {"New"}
    newer = await _limit_order(session, sim, "rest-late")  # arrives while a client pages
    rest = await _all_pages(session, sim, "/v5/order/realtime", 2, symbol="BTCUSDT",
                            cursor=result["nextPageCursor"])
    assert [o["orderId"] for o in rest] == ids[2::-1]
    everything = await _all_pages(session, sim, "/v5/order/realtime", 50, settleCoin="USDT")
    assert [o["orderId"] for o in everything] == [newer, *ids[::-1]]
    by_link = await _get(session, sim, "/v5/order/realtime", orderLinkId="rest-3")
    assert [o["orderId"] for o in by_link["result"]["list"]] == [ids[3]]


@pytest.mark.parametrize("params", [
    {}, {"symbol": "NOPEUSDT"}, {"settleCoin": "USDT", "limit": 51},
    {"settleCoin": "USDT", "limit": 0}, {"settleCoin": "USDT", "cursor": "page-1"},
    {"settleCoin": "USDT", "openOnly": 7},
])
async def test_open_orders_bad_params_are_10001(sim: Simulator,
                                                session: aiohttp.ClientSession,
                                                params: dict[str, Any]) -> None:
    body = await _get(session, sim, "/v5/order/realtime", **params)
    assert body["retCode"] == 10001 and body["retMsg"], body
    assert body["result"] == {}


@pytest.mark.parametrize(("path", "params"), [
    ("/v5/order/history", {"startTime": 1, "endTime": 1 + SEVEN_DAYS_AND_A_MS}),
    ("/v5/order/history", {"limit": 51}),
    ("/v5/execution/list", {"startTime": 5000, "endTime": 4000}),
    ("/v5/execution/list", {"limit": 101}),
    ("/v5/execution/list", {"execType": "Nope"}),
])
async def test_history_bad_params_are_10001(sim: Simulator, session: aiohttp.ClientSession,
                                            path: str, params: dict[str, Any]) -> None:
    assert (await _get(session, sim, path, **params))["retCode"] == 10001


async def test_recovery_lists_are_the_pushes_and_the_journal(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    """What a recovery after a private-socket gap would read is exactly what was (or would
    have been) pushed, and matches the journal fill for fill."""
    key = sim.config.accounts[0].api_key
    since = int(time.time() * 1000) - 1
    ws = await open_private(session, sim, topics=("order", "execution"))
    resting = await _limit_order(session, sim, "resting")
    await random_orders(session, sim, 12)
    pushed: dict[str, list[dict[str, Any]]] = {"order": [], "execution": []}
    while len(pushed["execution"]) < 12 or len(pushed["order"]) < 13:
        push = await recv_json(ws)
        pushed[push["topic"]].extend(push["data"])
    await sim.control.drop_connections(kind="private", mode="reset")
    await eventually(lambda: sim.control.connections() == [])
    sim.control.open_position(key, "BTCUSDT", "Sell", "0.01")  # during the gap

    executions = await _all_pages(session, sim, "/v5/execution/list", 5, startTime=since)
    history = await _all_pages(session, sim, "/v5/order/history", 4, startTime=since)
    open_orders = await _all_pages(session, sim, "/v5/order/realtime", 50, settleCoin="USDT")
    journal = sim.control.journal_entries(key)
    assert len(journal) == 13

    # Newest first, one entry per fill, in the journal's (seq) order.
    assert [e["seq"] for e in executions] == [j["seq"] for j in journal][::-1]
    assert [e["orderId"] for e in executions] == [j["cause"] for j in journal][::-1]
    assert [o["orderId"] for o in history] == [j["cause"] for j in journal][::-1]
    assert {o["orderStatus"] for o in history} == {"Filled"}
    assert [o["orderId"] for o in open_orders] == [resting]

    # While connected, REST entries are the pushed items (REST drops the item's category).
    def rest_view(item: dict[str, Any], extra: str) -> dict[str, Any]:
        return {**{k: v for k, v in item.items() if k != "category"}, extra: ""}
    assert executions[1:][::-1] == [rest_view(e, "execFeeV2") for e in pushed["execution"]]
    orders_by_id = {o["orderId"]: o for o in (*history, *open_orders)}
    assert [orders_by_id[p["orderId"]] for p in pushed["order"]] == [
        rest_view(p, "extraFees") for p in pushed["order"]]

    by_order = await _get(session, sim, "/v5/execution/list", orderId=journal[0]["cause"])
    assert [e["seq"] for e in by_order["result"]["list"]] == [journal[0]["seq"]]
    funding = await _get(session, sim, "/v5/execution/list", execType="Funding")
    assert funding["result"]["list"] == []
    before = await _get(session, sim, "/v5/execution/list", endTime=since)
    assert before["result"] == {"category": "linear", "list": [], "nextPageCursor": ""}
