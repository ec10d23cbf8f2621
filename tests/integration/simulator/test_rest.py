"""REST over real HTTP: envelopes, signature checks on the raw query, errors, limits,
positions and orders (one-way and hedge)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from hybridstream.bybit.signing import rest_headers
from hybridstream.simulator import Simulator, running_simulator

from .helpers import now_ms, signed_request

ONE_WAY, HEDGE = 0, 1


async def _order(session: aiohttp.ClientSession, sim: Simulator, index: int,
                 **fields: Any) -> dict[str, Any]:
    body, _ = await signed_request(session, sim, "POST", "/v5/order/create",
                                   {"category": "linear", "orderType": "Market", **fields},
                                   index=index)
    return body


async def _positions(session: aiohttp.ClientSession, sim: Simulator, index: int,
                     **params: Any) -> list[dict[str, Any]]:
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list",
                                   {"category": "linear", **params}, index=index)
    assert body["retCode"] == 0, body
    return body["result"]["list"]


async def test_market_time_envelope(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{sim.rest_url}/v5/market/time") as resp:
        body = await resp.json()
    assert set(body) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
    assert (body["retCode"], body["retMsg"], body["retExtInfo"]) == (0, "OK", {})
    assert body["result"]["timeNano"].startswith(body["result"]["timeSecond"])


async def test_tickers_and_instruments_agree_with_the_feed(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{sim.rest_url}/v5/market/tickers",
                           params={"category": "linear"}) as resp:
        tickers = (await resp.json())["result"]
    async with session.get(f"{sim.rest_url}/v5/market/instruments-info",
                           params={"category": "linear"}) as resp:
        instruments = (await resp.json())["result"]
    symbols = list(sim.market.instruments)
    assert [t["symbol"] for t in tickers["list"]] == symbols
    assert [i["symbol"] for i in instruments["list"]] == symbols
    assert {"lastPrice", "markPrice", "indexPrice", "bid1Price"} <= set(tickers["list"][0])
    async with session.get(f"{sim.rest_url}/v5/market/tickers",
                           params={"category": "linear", "symbol": "NOPEUSDT"}) as resp:
        assert (await resp.json())["retCode"] == 10001


async def test_position_list_needs_symbol_or_settle_coin(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list",
                                   {"category": "linear"})
    assert body["retCode"] == 10001 and body["result"] == {}


async def test_position_list_shapes_and_pagination(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    key = sim.config.accounts[ONE_WAY].api_key
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        sim.control.open_position(key, symbol, "Buy", "1" if symbol == "SOLUSDT" else "0.01")
    flat = await _positions(session, sim, ONE_WAY, symbol="XRPUSDT")
    assert [(p["symbol"], p["size"], p["side"]) for p in flat] == [("XRPUSDT", "0", "")]
    body, headers = await signed_request(session, sim, "GET", "/v5/position/list",
                                         {"category": "linear", "settleCoin": "USDT",
                                          "limit": 2})
    result = body["result"]
    assert result["category"] == "linear" and len(result["list"]) == 2
    assert result["nextPageCursor"]
    item = result["list"][0]
    assert "avgPrice" in item and "category" not in item and "entryPrice" not in item
    assert {"X-Bapi-Limit", "X-Bapi-Limit-Status", "X-Bapi-Limit-Reset-Timestamp"} <= set(headers)
    rest = await _positions(session, sim, ONE_WAY, settleCoin="USDT", limit=2,
                            cursor=result["nextPageCursor"])
    symbols = [p["symbol"] for p in result["list"] + rest]
    assert sorted(symbols) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


async def test_signature_is_checked_on_the_raw_unsorted_query(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    acc = sim.config.accounts[0]
    query = "symbol=BTCUSDT&category=linear"  # not sorted, as ccxt may send it
    headers = rest_headers(acc.api_key, acc.api_secret, now_ms(), query)
    async with session.get(f"{sim.rest_url}/v5/position/list?{query}", headers=headers) as resp:
        assert (await resp.json())["retCode"] == 0
    resorted = "category=linear&symbol=BTCUSDT"  # signed one way, sent another: must fail
    async with session.get(f"{sim.rest_url}/v5/position/list?{resorted}",
                           headers=headers) as resp:
        body = await resp.json()
    assert body["retCode"] == 10004
    assert body["retMsg"].startswith("Error sign, please check your signature generation")
    assert acc.api_secret not in body["retMsg"]


@pytest.mark.parametrize(("override", "code", "msg"), [
    ({"X-BAPI-API-KEY": "NOSUCHKEY"}, 10003, "API key is invalid."),
    ({"X-BAPI-TIMESTAMP": "1600000000000"}, 10002,
     "invalid request, please check your server timestamp or recv_window param. "
     "req_timestamp[1600000000000],server_timestamp["),
    ({"X-BAPI-SIGN": "0" * 64}, 10004, "Error sign, please check your signature"),
])
async def test_auth_errors(sim: Simulator, session: aiohttp.ClientSession,
                           override: dict[str, str], code: int, msg: str) -> None:
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list",
                                   {"category": "linear", "symbol": "BTCUSDT"},
                                   headers=override)
    assert body["retCode"] == code and body["retMsg"].startswith(msg)
    assert body["result"] == {} and body["retExtInfo"] == {}


async def test_rate_limit_10006_with_headers(session: aiohttp.ClientSession) -> None:
    async with running_simulator(symbols=2, rest_limits={"/v5/position/list": 2}) as sim:
        params = {"category": "linear", "symbol": "BTCUSDT"}
        seen = []
        for _ in range(50):  # bounded: 2/s must be exceeded long before this ends
            body, headers = await signed_request(session, sim, "GET", "/v5/position/list",
                                                 params)
            seen.append((body["retCode"], headers["X-Bapi-Limit-Status"]))
            assert headers["X-Bapi-Limit"] == "2"
            assert int(headers["X-Bapi-Limit-Reset-Timestamp"]) > now_ms() - 2000
            if body["retCode"] == 10006:
                assert body["retMsg"] == "Too many visits" and body["result"] == {}
                break
        assert seen[-1] == (10006, "0")
        assert {status for code, status in seen if code == 0} <= {"0", "1"}


async def test_one_way_open_add_reduce_flip_close(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    steps = [("Buy", "0.02", "Buy", "0.02"), ("Buy", "0.01", "Buy", "0.03"),
             ("Sell", "0.01", "Buy", "0.02"), ("Sell", "0.05", "Sell", "0.03"),
             ("Buy", "0.03", "", "0")]
    for side, qty, want_side, want_size in steps:
        body = await _order(session, sim, ONE_WAY, symbol="BTCUSDT", side=side, qty=qty)
        assert body["retCode"] == 0 and body["result"]["orderId"], body
        [pos] = await _positions(session, sim, ONE_WAY, symbol="BTCUSDT")
        assert (pos["side"], pos["size"], pos["positionIdx"]) == (want_side, want_size, 0)
    journal = sim.control.journal_entries(sim.config.accounts[ONE_WAY].api_key)
    assert [(e["side"], e["size"]) for e in journal] == [(s[2], s[3]) for s in steps]


async def test_hedge_mode_long_and_short_slots(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    await _order(session, sim, HEDGE, symbol="ETHUSDT", side="Buy", qty="1", positionIdx=1)
    await _order(session, sim, HEDGE, symbol="ETHUSDT", side="Sell", qty="2", positionIdx=2)
    slots = await _positions(session, sim, HEDGE, symbol="ETHUSDT")
    assert [(p["positionIdx"], p["side"], p["size"]) for p in slots] == [
        (1, "Buy", "1"), (2, "Sell", "2")]
    body = await _order(session, sim, HEDGE, symbol="ETHUSDT", side="Buy", qty="5",
                        positionIdx=2)  # closes the short only, capped at its size
    assert body["retCode"] == 0
    slots = await _positions(session, sim, HEDGE, symbol="ETHUSDT")
    assert [(p["positionIdx"], p["side"], p["size"]) for p in slots] == [
        (1, "Buy", "1"), (2, "", "0")]


async def test_order_rejections(sim: Simulator, session: aiohttp.ClientSession) -> None:
    body = await _order(session, sim, ONE_WAY, symbol="BTCUSDT", side="Buy", qty="0.01",
                        positionIdx=1)
    assert (body["retCode"], body["retMsg"]) == (10001, "position idx not match position mode")
    body = await _order(session, sim, HEDGE, symbol="BTCUSDT", side="Sell", qty="0.01",
                        positionIdx=1)  # closing an empty long
    assert body["retCode"] == 110017
    body = await _order(session, sim, ONE_WAY, symbol="NOPEUSDT", side="Buy", qty="1")
    assert body["retCode"] == 10001
    assert sim.journal.entries() == []


async def test_wallet_balance(sim: Simulator, session: aiohttp.ClientSession) -> None:
    body, _ = await signed_request(session, sim, "GET", "/v5/account/wallet-balance",
                                   {"accountType": "UNIFIED"})
    [wallet] = body["result"]["list"]
    assert wallet["accountType"] == "UNIFIED" and wallet["totalWalletBalance"] == "100000"


async def test_ip_limit_answers_http_403(session: aiohttp.ClientSession) -> None:
    async with running_simulator(symbols=2, rest_ip_limit_per_5s=3) as sim:
        statuses = []
        for _ in range(40):  # bounded: 3 per 5 s window must be exceeded long before this
            async with session.get(f"{sim.rest_url}/v5/market/time") as resp:
                statuses.append(resp.status)
                if resp.status == 403:
                    assert await resp.text() == "access too frequent"
                    break
        assert statuses[-1] == 403 and set(statuses[:-1]) == {200}
        async with session.ws_connect(sim.ws_public_url) as ws:  # sockets are not counted
            await ws.send_json({"op": "ping"})
            assert (await ws.receive_json(timeout=30))["ret_msg"] == "pong"
