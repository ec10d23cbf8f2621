"""The ground-truth journal: every emitted position update, in order, with its seq."""

from __future__ import annotations

import aiohttp
from hybridstream.simulator import Simulator

from tests.plugins.waiting import eventually

from .helpers import open_private, random_orders, recv_json, signed_request


async def test_client_saw_exactly_the_journal(sim: Simulator,
                                              session: aiohttp.ClientSession) -> None:
    key = sim.config.accounts[0].api_key
    ws = await open_private(session, sim, topics=("position",))
    await random_orders(session, sim, 30)
    seen: list[dict] = []
    while len(seen) < len(sim.journal):
        seen.extend((await recv_json(ws))["data"])
    journal = sim.control.journal_entries(key)
    assert len(journal) == 30
    assert [p["seq"] for p in seen] == [e["seq"] for e in journal]
    assert [(p["symbol"], p["side"], p["size"], p["entryPrice"]) for p in seen] == [
        (e["symbol"], e["side"], e["size"], e["avg_price"]) for e in journal]
    seqs = [e["seq"] for e in journal]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    await ws.close()


async def test_admin_journal_and_filters_match_in_process(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    await random_orders(session, sim, 9)
    everything = await sim.admin.journal()
    assert everything == sim.control.journal_entries()
    cut = everything[4]["seq"]
    assert await sim.admin.journal(since_seq=cut) == everything[5:]
    btc = await sim.admin.journal(symbol="BTCUSDT")
    assert btc == [e for e in everything if e["symbol"] == "BTCUSDT"]
    assert await sim.admin.journal(account="nobody") == []


async def test_ground_truth_positions_are_the_last_journal_state(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    key = sim.config.accounts[0].api_key
    await random_orders(session, sim, 15)
    last = {}
    for entry in sim.control.journal_entries(key):
        last[(entry["symbol"], entry["position_idx"])] = entry
    truth = await sim.admin.positions(key)
    assert {(p["symbol"], p["positionIdx"]): (p["side"], p["size"], p["avgPrice"], p["seq"])
            for p in truth} == {
        slot: (e["side"], e["size"], e["avg_price"], e["seq"]) for slot, e in last.items()}


async def test_updates_during_a_disconnect_are_in_the_journal_and_rest(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    """What a client must do after a reconnect (re-seed from REST) is checkable here."""
    key = sim.config.accounts[0].api_key
    ws = await open_private(session, sim, topics=("position",))
    sim.control.open_position(key, "BTCUSDT", "Buy", "0.02")
    before = (await recv_json(ws))["data"][0]["seq"]
    await sim.control.drop_connections(kind="private", mode="reset")
    await eventually(lambda: sim.control.connections() == [])
    sim.control.open_position(key, "ETHUSDT", "Sell", "0.3")  # nobody connected
    sim.control.close_position(key, "BTCUSDT")
    missed = sim.control.journal_entries(key, since_seq=before)
    assert [(e["symbol"], e["size"]) for e in missed] == [("ETHUSDT", "0.3"), ("BTCUSDT", "0")]
    body, _ = await signed_request(session, sim, "GET", "/v5/position/list",
                                   {"category": "linear", "settleCoin": "USDT"})
    assert [(p["symbol"], p["side"], p["size"], p["seq"]) for p in body["result"]["list"]] == [
        ("ETHUSDT", "Sell", "0.3", missed[0]["seq"])]
