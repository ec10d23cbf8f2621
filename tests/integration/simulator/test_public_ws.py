"""Public ``/v5/public/linear`` over a real socket: acks, pong, snapshot then sparse deltas."""

from __future__ import annotations

import aiohttp
from hybridstream.simulator import Simulator, running_simulator

from .bybit_fields import TICKER_WS
from .helpers import recv_json, recv_until

SNAPSHOT_FIELDS = TICKER_WS


async def test_subscribe_ack_snapshot_then_sparse_deltas(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_public_url) as ws:
        await ws.send_json({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        ack = await recv_json(ws)
        assert ack == {"success": True, "ret_msg": "", "conn_id": ack["conn_id"], "req_id": "",
                       "op": "subscribe"}
        snap = await recv_json(ws)
        assert snap["topic"] == "tickers.BTCUSDT" and snap["type"] == "snapshot"
        assert set(snap["data"]) == SNAPSHOT_FIELDS
        assert isinstance(snap["cs"], int) and isinstance(snap["ts"], int)
        state, last_cs, without_mark = dict(snap["data"]), snap["cs"], 0
        for _ in range(30):
            delta = await recv_json(ws)
            assert delta["type"] == "delta" and delta["data"]["symbol"] == "BTCUSDT"
            assert set(delta["data"]) < SNAPSHOT_FIELDS  # only changed fields
            assert delta["cs"] > last_cs
            last_cs = delta["cs"]
            without_mark += "markPrice" not in delta["data"]
            state.update(delta["data"])
        assert without_mark > 0
        assert set(state) == SNAPSHOT_FIELDS


async def test_merged_deltas_equal_the_exchange_state_when_frozen(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_public_url) as ws:
        await ws.send_json({"op": "subscribe", "req_id": "r", "args": ["tickers.ETHUSDT"]})
        await recv_json(ws)
        state = (await recv_json(ws))["data"]
        sim.control.set_price("ETHUSDT", "2345.67")  # freezes the walk: state settles
        delta = await recv_until(ws, lambda m: m.get("data", {}).get("lastPrice") == "2345.67")
        state.update(delta["data"])
        assert state == sim.market.snapshot("ETHUSDT")


async def test_ping_gets_the_linear_pong(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_public_url) as ws:
        await ws.send_json({"req_id": "100001", "op": "ping"})
        pong = await recv_json(ws)
        assert pong == {"success": True, "ret_msg": "pong", "conn_id": pong["conn_id"],
                        "req_id": "100001", "op": "ping"}


async def test_unknown_symbol_fails_the_ack_but_valid_topics_deliver(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_public_url) as ws:
        await ws.send_json({"op": "subscribe", "req_id": "e1",
                            "args": ["tickers.NOPEUSDT", "tickers.SOLUSDT"]})
        ack = await recv_json(ws)
        assert ack["success"] is False and ack["req_id"] == "e1"
        assert ack["ret_msg"] == "error:handler not found,topic:tickers.NOPEUSDT"
        snap = await recv_json(ws)
        assert (snap["topic"], snap["type"]) == ("tickers.SOLUSDT", "snapshot")


async def test_batch_rejection_is_configurable(session: aiohttp.ClientSession) -> None:
    async with running_simulator(symbols=3, reject_batch_on_bad_topic=True) as sim, \
            session.ws_connect(sim.ws_public_url) as ws:
        await ws.send_json({"op": "subscribe", "args": ["tickers.NOPEUSDT", "tickers.BTCUSDT"]})
        ack = await recv_json(ws)
        assert ack["ret_msg"] == "error:handler not found,topic:tickers.NOPEUSDT"
        await ws.send_json({"op": "ping", "req_id": "after"})
        # Nothing was subscribed: the next frame is the pong, not a snapshot or delta.
        assert (await recv_json(ws))["ret_msg"] == "pong"
        assert sim.control.connections()[0]["topics"] == []


async def test_duplicate_subscribe_fails_and_existing_keeps_delivering(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_public_url) as ws:
        await ws.send_json({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        await recv_json(ws)
        await recv_json(ws)  # snapshot
        await ws.send_json({"op": "subscribe", "req_id": "dup", "args": ["tickers.BTCUSDT"]})
        ack = await recv_until(ws, lambda m: m.get("op") == "subscribe")
        assert ack == {"success": False,
                       "ret_msg": "error:already subscribed,topic:tickers.BTCUSDT",
                       "conn_id": ack["conn_id"], "req_id": "dup", "op": "subscribe"}
        delta = await recv_until(ws, lambda m: m.get("topic") == "tickers.BTCUSDT")
        assert delta["type"] == "delta"  # no second snapshot


async def test_unsubscribe_stops_delivery(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_public_url) as ws:
        await ws.send_json({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        await recv_json(ws)
        await ws.send_json({"op": "unsubscribe", "req_id": "3", "args": ["tickers.BTCUSDT"]})
        ack = await recv_until(ws, lambda m: m.get("op") == "unsubscribe")
        assert ack == {"success": True, "ret_msg": "", "conn_id": ack["conn_id"], "req_id": "3",
                       "op": "unsubscribe"}
        await ws.send_json({"op": "ping"})
        assert (await recv_json(ws))["ret_msg"] == "pong"
        sim.control.set_price("BTCUSDT", "12345")  # would push a delta to a subscriber
        await ws.send_json({"op": "ping", "req_id": "2"})
        assert (await recv_json(ws))["req_id"] == "2"


async def test_invalid_op(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_public_url) as ws:
        await ws.send_json({"op": "frobnicate", "req_id": "x"})
        ack = await recv_json(ws)
        assert (ack["success"], ack["ret_msg"], ack["op"]) == (False, "error:invalid op",
                                                               "frobnicate")
