"""Every fault of the admin API, observed from a real client socket."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from hybridstream.simulator import Simulator

from tests.plugins.waiting import eventually

from .helpers import now_ms, open_private, recv_json, recv_until, signed_request

GONE = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


async def _subscribed_public(session: aiohttp.ClientSession, sim: Simulator,
                             *symbols: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(sim.ws_public_url)
    await ws.send_json({"op": "subscribe", "args": [f"tickers.{s}" for s in symbols]})
    assert (await recv_json(ws))["success"] is True
    return ws


@pytest.mark.parametrize("code", [1000, 1001])
async def test_drop_clean_sends_a_close_frame(sim: Simulator, session: aiohttp.ClientSession,
                                              code: int) -> None:
    ws = await session.ws_connect(sim.ws_public_url)
    await eventually(lambda: len(sim.control.connections()) == 1)
    assert await sim.admin.drop(kind="public", mode="clean", code=code) == 1
    msg = await ws.receive(timeout=30)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == code
    await eventually(lambda: sim.control.connections() == [])


@pytest.mark.parametrize("mode", ["reset", "no_close_frame"])
async def test_abrupt_drops_give_no_close_frame(sim: Simulator, session: aiohttp.ClientSession,
                                                mode: str) -> None:
    ws = await _subscribed_public(session, sim, "BTCUSDT")
    assert await sim.control.drop_connections(kind="public", mode=mode) == 1
    while True:  # frames already in flight may still arrive before the cut
        msg = await ws.receive(timeout=30)
        if msg.type in GONE:
            break
    assert msg.type != aiohttp.WSMsgType.CLOSE  # no close frame was sent
    assert ws.close_code in (None, 1006)


async def test_drop_targets_one_account_only(sim: Simulator,
                                             session: aiohttp.ClientSession) -> None:
    mine = await open_private(session, sim, index=0, topics=())
    other = await open_private(session, sim, index=1, topics=())
    public = await session.ws_connect(sim.ws_public_url)
    dropped = await sim.control.drop_connections(account=sim.config.accounts[0].api_key,
                                                 mode="reset")
    assert dropped == 1
    assert (await mine.receive(timeout=30)).type in GONE
    for ws in (other, public):
        await ws.send_json({"op": "ping", "req_id": "alive"})
        assert (await recv_json(ws))["req_id"] == "alive"


async def test_stall_withholds_a_symbol_then_delivers_a_merged_delta(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    ws = await _subscribed_public(session, sim, "BTCUSDT", "ETHUSDT")
    sim.control.stall(["BTCUSDT"])
    sim.control.set_price("BTCUSDT", "33333.3")  # unstalled, this would push at once
    eth_ticks = 0
    while eth_ticks < 5:  # five ETH ticks later, still nothing for BTC
        msg = await recv_json(ws)
        if msg["type"] == "delta":
            assert msg["topic"] != "tickers.BTCUSDT", "stalled topic delivered"
            eth_ticks += msg["topic"] == "tickers.ETHUSDT"
    sim.control.unstall()
    resumed = await recv_until(ws, lambda m: m.get("topic") == "tickers.BTCUSDT")
    assert resumed["type"] == "delta"
    assert resumed["data"]["lastPrice"] == resumed["data"]["markPrice"] == "33333.30"
    await ws.close()


async def test_stall_all(sim: Simulator, session: aiohttp.ClientSession) -> None:
    ws = await _subscribed_public(session, sim, "BTCUSDT")
    await recv_json(ws)  # snapshot
    await sim.admin.call("stall")
    await ws.send_json({"op": "ping", "req_id": "a"})
    await recv_until(ws, lambda m: m.get("req_id") == "a")  # deltas queued before may precede
    await ws.send_json({"op": "ping", "req_id": "b"})
    for _ in range(3):  # pongs only while stalled, even across several ticks
        assert (await recv_json(ws)).get("ret_msg") == "pong"
        await asyncio.sleep(0.2)
        await ws.send_json({"op": "ping", "req_id": "c"})
    await ws.close()


async def test_delay_holds_every_frame_back(sim: Simulator,
                                            session: aiohttp.ClientSession) -> None:
    ws = await session.ws_connect(sim.ws_public_url)
    sim.control.set_delay("public", 800)
    started = time.monotonic()
    await ws.send_json({"op": "ping", "req_id": "late"})
    assert (await recv_json(ws))["req_id"] == "late"
    assert time.monotonic() - started >= 0.75  # a lower bound: cannot flake under load
    sim.control.set_delay("all", 0)
    await ws.close()


async def test_delay_holds_ticker_pushes_back(sim: Simulator,
                                              session: aiohttp.ClientSession) -> None:
    """Ticker fan-out writes straight to the socket when nothing is queued; a delay fault
    must still hold every push back."""
    ws = await _subscribed_public(session, sim, "BTCUSDT")
    assert (await recv_json(ws))["type"] == "snapshot"
    sim.control.set_delay("public", 800)
    began = now_ms()
    # Pushes written before the delay began may still be in flight: skip them.
    delta = await recv_until(ws, lambda m: m.get("type") == "delta" and m["ts"] > began)
    sim.control.set_delay("all", 0)
    assert now_ms() - delta["ts"] >= 750  # a lower bound: cannot flake under load
    await ws.close()


async def test_reject_auth_then_recover(sim: Simulator, session: aiohttp.ClientSession) -> None:
    await sim.admin.call("reject-auth", count=1)
    with pytest.raises(AssertionError, match="Params Error"):
        await open_private(session, sim, topics=())
    ws = await open_private(session, sim, topics=("position",))  # the next one succeeds
    await ws.close()


async def test_forced_rate_limit(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.control.rate_limit(count=2)
    params = {"category": "linear", "symbol": "BTCUSDT"}
    for _ in range(2):
        body, headers = await signed_request(session, sim, "GET", "/v5/position/list", params)
        assert (body["retCode"], body["retMsg"]) == (10006, "Too many visits")
        assert headers["X-Bapi-Limit-Status"] == "0"
        assert int(headers["X-Bapi-Limit-Reset-Timestamp"]) > 0
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list", params)
    assert body["retCode"] == 0


async def test_rate_limit_for_a_period_then_clear(sim: Simulator,
                                                  session: aiohttp.ClientSession) -> None:
    sim.control.rate_limit(seconds=600)
    params = {"category": "linear", "symbol": "BTCUSDT"}
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list", params)
    assert body["retCode"] == 10006
    sim.control.clear_faults()
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list", params)
    assert body["retCode"] == 0


async def test_malformed_json_and_binary_frames_keep_the_socket(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    ws = await session.ws_connect(sim.ws_public_url)
    await eventually(lambda: len(sim.control.connections()) == 1)
    assert sim.control.send_malformed("invalid_json") == 1
    msg = await ws.receive(timeout=30)
    assert msg.type == aiohttp.WSMsgType.TEXT
    with pytest.raises(json.JSONDecodeError):
        json.loads(msg.data)
    await sim.admin.call("malformed", kind="binary", conn_kind="public")
    assert (await ws.receive(timeout=30)).type == aiohttp.WSMsgType.BINARY
    await ws.send_json({"op": "ping", "req_id": "still-here"})
    assert (await recv_json(ws))["req_id"] == "still-here"
    await ws.close()


@pytest.mark.parametrize("kind", ["invalid_utf8", "reserved_bits"])
async def test_protocol_violations_fail_the_client_connection(
        sim: Simulator, session: aiohttp.ClientSession, kind: str) -> None:
    ws = await session.ws_connect(sim.ws_public_url)
    await eventually(lambda: len(sim.control.connections()) == 1)
    sim.control.send_malformed(kind)
    msg = await ws.receive(timeout=30)
    assert msg.type in GONE  # the client library rejects the frame


async def test_restart_drops_everything_and_keeps_state(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    key = sim.config.accounts[0].api_key
    sim.control.open_position(key, "BTCUSDT", "Buy", "0.01")
    port = sim.port
    public = await _subscribed_public(session, sim, "BTCUSDT")
    private = await open_private(session, sim, topics=("position",))
    await sim.admin.call("restart", down_seconds=0.5)
    for ws in (public, private):
        while (await ws.receive(timeout=30)).type not in GONE:
            pass
    await eventually(lambda: sim.restarts == 1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:  # reconnect as a client would, until the simulator is back
        try:
            again = await open_private(session, sim, topics=("position",))
            break
        except (aiohttp.ClientError, OSError):
            assert loop.time() < deadline, "simulator did not come back"
            await asyncio.sleep(0.2)
    assert sim.port == port
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list",
                                   {"category": "linear", "symbol": "BTCUSDT"})
    assert body["result"]["list"][0]["size"] == "0.01"  # state kept across the restart
    await again.close()


async def test_admin_api_requires_the_token(sim: Simulator,
                                            session: aiohttp.ClientSession) -> None:
    url = f"{sim.admin_url}/admin/positions"
    key = sim.config.accounts[0].api_key
    async with session.get(url, params={"account": key}) as resp:
        assert resp.status == 401
    async with session.get(url, params={"account": key},
                           headers={"Authorization": "Bearer wrong"}) as resp:
        assert resp.status == 401
    auth = {"Authorization": f"Bearer {sim.config.admin_token}"}
    async with session.get(url, params={"account": key}, headers=auth) as resp:
        assert resp.status == 200 and (await resp.json())["result"] == []
    async with session.get(f"{sim.admin_url}/admin/nope", headers=auth) as resp:
        assert resp.status == 404
    async with session.get(f"{sim.admin_url}/admin/drop", headers=auth) as resp:
        assert resp.status == 405
    async with session.post(f"{sim.admin_url}/admin/open-position", headers=auth,
                            json={"account": key, "symbol": "BTCUSDT"}) as resp:
        assert resp.status == 400
    async with session.post(f"{sim.admin_url}/admin/open-position", headers=auth,
                            json={"account": "NOPE", "symbol": "BTCUSDT", "side": "Buy",
                                  "qty": "1"}) as resp:
        assert resp.status == 404


async def test_private_topic_stall_holds_pushes_then_delivers_in_order(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    key = sim.config.accounts[0].api_key
    ws = await open_private(session, sim, topics=("position", "wallet"))
    await sim.admin.call("stall", topics=["position"])
    sim.control.open_position(key, "BTCUSDT", "Buy", "0.01")
    sim.control.open_position(key, "BTCUSDT", "Buy", "0.02")
    wallets = [await recv_json(ws) for _ in range(2)]  # wallet is not stalled
    assert [w["topic"] for w in wallets] == ["wallet", "wallet"]
    await ws.send_json({"op": "ping", "req_id": "held"})
    assert (await recv_json(ws))["op"] == "pong"  # no position push got through
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list",
                                   {"category": "linear", "symbol": "BTCUSDT"})
    assert body["result"]["list"][0]["size"] == "0.03"  # REST already knows
    sim.control.unstall(topics=["position"])
    held = [await recv_json(ws) for _ in range(2)]
    assert [p["data"][0]["size"] for p in held] == ["0.01", "0.03"]
    assert [p["data"][0]["seq"] for p in held] == [e.seq for e in sim.journal.entries(key)]
    with pytest.raises(ValueError, match="unknown private topics"):
        sim.control.stall(topics=["tickers"])
    await ws.close()


async def test_scripted_prices_are_pushed_in_order_then_held(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    """``script-prices`` (admin API) plays a price path, one step per interval, with the
    random walk frozen; every step reaches a subscriber as a delta, in order."""
    ws = await _subscribed_public(session, sim, "ETHUSDT")
    await recv_until(ws, lambda m: m.get("type") == "snapshot")
    path = ["2001.00", "2002.50", "1999.75", "2000.10"]
    await sim.admin.call("script-prices", symbol="ETHUSDT", prices=path, interval_ms=50)
    # The walk may still move the mark once before the script's first step freezes it.
    first = await recv_until(ws, lambda m: m.get("data", {}).get("markPrice") == path[0])
    marks = [first["data"]["markPrice"]]
    while len(marks) < len(path):
        push = await recv_until(ws, lambda m: "markPrice" in m.get("data", {}))
        marks.append(push["data"]["markPrice"])
    assert marks == path
    await asyncio.sleep(0.5)  # the script is over: the last price stays
    assert sim.market.snapshot("ETHUSDT")["markPrice"] == path[-1]
