"""Private ``/v5/private`` over a real socket: auth rules, pong, pushes, idle cut-off."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from hybridstream.bybit.signing import sign_ws_auth
from hybridstream.simulator import Simulator, running_simulator

from .helpers import now_ms, open_private, recv_json, recv_until

PARAMS_ERROR = "Params Error"


async def _auth(ws: aiohttp.ClientWebSocketResponse, key: str, secret: str,
                expires: int) -> dict:
    await ws.send_json({"op": "auth", "args": [key, expires, sign_ws_auth(secret, expires)]})
    return await recv_json(ws)


async def test_subscribe_before_auth_is_not_authorized(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_private_url) as ws:
        await ws.send_json({"req_id": "s1", "op": "subscribe", "args": ["position"]})
        ack = await recv_json(ws)
        assert ack == {"success": False, "ret_msg": "Request not authorized", "op": "subscribe",
                       "conn_id": ack["conn_id"], "req_id": "s1"}


async def test_auth_success_shape(sim: Simulator, session: aiohttp.ClientSession) -> None:
    acc = sim.config.accounts[0]
    async with session.ws_connect(sim.ws_private_url) as ws:
        ack = await _auth(ws, acc.api_key, acc.api_secret, now_ms() + 10_000)
        assert ack == {"success": True, "ret_msg": "", "op": "auth", "conn_id": ack["conn_id"]}


@pytest.mark.parametrize("case", ["bad_signature", "unknown_key", "expired", "too_close"])
async def test_auth_failures_are_params_error(sim: Simulator, session: aiohttp.ClientSession,
                                              case: str) -> None:
    acc = sim.config.accounts[0]
    key, secret, expires = acc.api_key, acc.api_secret, now_ms() + 10_000
    if case == "bad_signature":
        secret = "not-the-secret"
    elif case == "unknown_key":
        key = "NOSUCHKEY"
    elif case == "expired":
        expires = now_ms() - 5_000
    else:
        expires = now_ms() + 500  # pybit's default +1 s margin is this fragile (pybit#152)
    async with session.ws_connect(sim.ws_private_url) as ws:
        ack = await _auth(ws, key, secret, expires)
        assert ack == {"conn_id": ack["conn_id"], "op": "auth", "ret_msg": PARAMS_ERROR,
                       "success": False}
        await ws.send_json({"op": "subscribe", "args": ["position"]})
        assert (await recv_json(ws))["ret_msg"] == "Request not authorized"


async def test_private_pong_shape(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_private_url) as ws:
        before = now_ms()
        await ws.send_json({"req_id": "test", "op": "ping"})
        pong = await recv_json(ws)
        assert pong == {"req_id": "test", "op": "pong", "args": pong["args"],
                        "conn_id": pong["conn_id"]}
        assert int(pong["args"][0]) >= before - 1000


async def test_no_snapshot_on_subscribe(sim: Simulator, session: aiohttp.ClientSession) -> None:
    key = sim.config.accounts[0].api_key
    sim.control.open_position(key, "BTCUSDT", "Buy", "0.01")  # state exists before subscribing
    ws = await open_private(session, sim)
    await ws.send_json({"op": "ping", "req_id": "p"})
    assert (await recv_json(ws))["op"] == "pong"  # the first frame after the ack
    await ws.close()


async def test_unknown_and_duplicate_private_topics(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    ws = await open_private(session, sim, topics=("position",))
    await ws.send_json({"op": "subscribe", "args": ["position", "greeks.nope"]})
    ack = await recv_json(ws)
    assert ack["success"] is False
    assert ack["ret_msg"] == "error:already subscribed,topic:position"
    await ws.close()


async def test_fill_pushes_order_execution_position_wallet_in_order(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    key = sim.config.accounts[0].api_key
    ws = await open_private(session, sim)
    sim.control.open_position(key, "ETHUSDT", "Buy", "0.5")
    pushes = [await recv_json(ws) for _ in range(4)]
    assert [p["topic"] for p in pushes] == ["order", "execution", "position", "wallet"]
    for push in pushes:
        assert list(push) == ["id", "topic", "creationTime", "data"]
        assert isinstance(push["id"], str) and isinstance(push["creationTime"], int)
    order, execution, position, wallet = (p["data"][0] for p in pushes)
    assert order["orderStatus"] == "Filled" and order["cumExecQty"] == "0.5"
    assert execution["orderId"] == order["orderId"] and execution["execQty"] == "0.5"
    assert position["seq"] == execution["seq"]
    assert position["entryPrice"] == execution["execPrice"] == order["avgPrice"]
    assert (position["symbol"], position["side"], position["size"], position["positionIdx"],
            position["category"]) == ("ETHUSDT", "Buy", "0.5", 0, "linear")
    assert wallet["accountType"] == "UNIFIED" and wallet["coin"][0]["coin"] == "USDT"
    assert sim.journal.entries(key)[-1].seq == position["seq"]
    await ws.close()


async def test_linear_suffixed_topics_also_deliver(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    key = sim.config.accounts[0].api_key
    ws = await open_private(session, sim, topics=("position.linear",))
    sim.control.open_position(key, "SOLUSDT", "Sell", "1")
    push = await recv_json(ws)
    assert push["topic"] == "position.linear" and push["data"][0]["side"] == "Sell"
    await ws.close()


async def test_pushes_only_reach_the_owning_account(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    other = await open_private(session, sim, index=1, topics=("position",))
    sim.control.open_position(sim.config.accounts[0].api_key, "BTCUSDT", "Buy", "0.01")
    await other.send_json({"op": "ping", "req_id": "p"})
    assert (await recv_json(other))["op"] == "pong"
    await other.close()


async def test_idle_socket_is_cut_without_close_frame(session: aiohttp.ClientSession) -> None:
    async with running_simulator(symbols=2, private_idle_timeout_s=1.0,
                                 idle_check_interval_s=0.5) as sim:
        ws = await open_private(session, sim, topics=())
        msg = await ws.receive(timeout=30)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE,
                            aiohttp.WSMsgType.ERROR)
        assert ws.close_code in (None, 1006)  # no close frame from the server


async def test_pings_keep_an_idle_socket_alive_within_max_active_time(
        session: aiohttp.ClientSession) -> None:
    async with running_simulator(symbols=2, max_active_time_min_s=3,
                                 idle_check_interval_s=0.5) as sim:
        ws = await open_private(session, sim, topics=(), query="?max_active_time=3s")
        for n in range(10):  # ~5 s of pings every 0.5 s: longer than max_active_time
            await ws.send_json({"op": "ping", "req_id": str(n)})
            assert (await recv_json(ws))["req_id"] == str(n)
            await asyncio.sleep(0.5)  # pacing between pings, shorter than the idle limit
        msg = await ws.receive(timeout=30)  # now idle: cut
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE,
                            aiohttp.WSMsgType.ERROR)


async def test_bad_max_active_time_is_refused(sim: Simulator,
                                              session: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await session.ws_connect(sim.ws_private_url + "?max_active_time=5s")
    assert info.value.status == 400


async def test_wallet_push_reflects_the_fee(sim: Simulator,
                                           session: aiohttp.ClientSession) -> None:
    ws = await open_private(session, sim, topics=("wallet",))
    sim.control.open_position(sim.config.accounts[0].api_key, "XRPUSDT", "Buy", "10")
    wallet = await recv_until(ws, lambda m: m.get("topic") == "wallet")
    assert float(wallet["data"][0]["totalWalletBalance"]) < 100000  # the taker fee was paid
    await ws.close()
