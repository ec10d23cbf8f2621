"""A strict third-party client accepts the simulator's real frames and REST answers.

nautilus_trader (pinned, installed by hack/nautilus-venv.sh into its own cached venv; this
test installs it, it never skips) decodes Bybit messages into msgspec structs whose fields
are required, and signs and decodes its own REST calls. The frames are captured here from a
running simulator over real sockets and handed to tests/integration/simulator/
nautilus_client.py, which runs in that venv. Its structs cover what nautilus reads, not every
documented field, so each captured item is also checked against the documented field sets
(bybit_fields.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hybridstream.simulator import Simulator

from . import bybit_fields as documented
from .helpers import DEADLINE, open_private, signed_request

REPO = Path(__file__).resolve().parents[3]
CLIENT = Path(__file__).with_name("nautilus_client.py")
PRIVATE = ("order", "execution", "position", "wallet")
#: Decode one message with nautilus_client's decoders (imported from the file next to it).
_DECODE_ONE = ("import json, sys; import nautilus_client as c; "
               "topic, message = json.load(sys.stdin); "
               "c.decode_frames({topic: [json.dumps(message)]})")
PRIVATE_FIELDS = {"order": documented.ORDER_WS, "execution": documented.EXECUTION_WS,
                  "position": documented.POSITION_WS, "wallet": documented.WALLET}


@pytest.fixture(scope="module")
def nautilus_python() -> str:
    """The nautilus venv's python, created on first use (about 40 s cold, then cached)."""
    done = subprocess.run(["bash", str(REPO / "hack" / "nautilus-venv.sh")], check=True,
                          capture_output=True, text=True, timeout=900)
    return done.stdout.strip().splitlines()[-1]


async def run_python(python: str, args: list[str], stdin: Any) -> tuple[int, str, str]:
    """Run ``python args`` with JSON on stdin, without blocking the loop the simulator
    serves on (nautilus calls its REST)."""
    process = await asyncio.create_subprocess_exec(
        python, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=CLIENT.parent)
    out, err = await asyncio.wait_for(process.communicate(json.dumps(stdin).encode()), 300)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _raw_frames(ws: aiohttp.ClientWebSocketResponse, wanted: dict[str, int],
                      ) -> dict[str, list[str]]:
    """Raw text frames by topic until each topic has its ``wanted`` count."""
    frames: dict[str, list[str]] = {topic: [] for topic in wanted}
    while any(len(frames[t]) < n for t, n in wanted.items()):
        msg = await asyncio.wait_for(ws.receive(), DEADLINE)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        topic = json.loads(msg.data).get("topic", "").split(".")[0]
        if topic in frames:
            frames[topic].append(msg.data)
    return frames


async def _order(session: aiohttp.ClientSession, sim: Simulator, **fields: Any) -> str:
    body, _ = await signed_request(session, sim, "POST", "/v5/order/create",
                                   {"category": "linear", "symbol": "BTCUSDT", **fields})
    assert body["retCode"] == 0, body
    return str(body["result"]["orderId"])


def _missing(item: dict[str, Any], fields: frozenset[str]) -> set[str]:
    return set(fields) - set(item)


async def test_nautilus_decodes_every_push_and_rest_answer(
        sim: Simulator, session: aiohttp.ClientSession, nautilus_python: str) -> None:
    account = sim.config.accounts[0]
    private = await open_private(session, sim)
    public = await session.ws_connect(sim.ws_public_url)
    await public.send_json({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
    opened = await _order(session, sim, side="Buy", orderType="Market", qty="0.02")
    reduced = await _order(session, sim, side="Sell", orderType="Market", qty="0.01")
    resting = await _order(session, sim, side="Buy", orderType="Limit", qty="0.01",
                           price="1000", orderLinkId="strict-1")
    frames = await _raw_frames(private, {"order": 3, "execution": 2, "position": 2,
                                         "wallet": 2})
    frames.update(await _raw_frames(public, {"tickers": 4}))  # snapshot, then deltas
    await private.close()
    await public.close()

    code, out, err = await run_python(nautilus_python, [str(CLIENT)], {
        "frames": frames,
        "rest": {"base_url": sim.rest_url, "api_key": account.api_key,
                 "api_secret": account.api_secret, "order_id": resting}})
    assert code == 0, f"nautilus_trader refused our payloads:\n{err}"
    report = json.loads(out)

    for topic in PRIVATE:  # complete, not only what nautilus reads
        for raw in frames[topic]:
            for item in json.loads(raw)["data"]:
                assert not _missing(item, PRIVATE_FIELDS[topic]), (topic, item)
                if topic == "wallet":
                    assert not _missing(item["coin"][0], documented.WALLET_COIN)
    assert not _missing(json.loads(frames["tickers"][0])["data"], documented.TICKER_WS)

    decoded = report["frames"]
    assert {t: len(v) for t, v in decoded.items()} == {t: len(v) for t, v in frames.items()}
    assert [m["data"][0]["orderId"] for m in decoded["order"]] == [opened, reduced, resting]
    assert [m["data"][0]["orderStatus"] for m in decoded["order"]] == [
        "Filled", "Filled", "New"]
    pushed_exec_ids = [m["data"][0]["execId"] for m in decoded["execution"]]
    assert [m["data"][0]["seq"] for m in decoded["position"]] == [
        e.seq for e in sim.journal.entries(account.api_key)]

    rest = report["rest"]
    assert [r["symbol"] for r in rest["fee_rate"]] == list(sim.market.instruments)
    assert rest["fee_rate"][0]["takerFeeRate"] == sim.config.taker_fee_rate
    assert [o["orderId"] for o in rest["open_orders"]] == [resting]
    assert [o["orderId"] for o in rest["order_by_id"]] == [resting]
    assert {o["orderId"] for o in rest["order_history"]} == {opened, reduced}
    assert {e["execId"] for e in rest["executions"]} == set(pushed_exec_ids)
    assert [(p["symbol"], p["size"]) for p in rest["positions"]] == [("BTCUSDT", "0.01")]
    assert rest["wallet"][0]["coin"][0]["coin"] == "USDT"
    assert len(rest["tickers"]) == len(sim.market.instruments)


async def test_a_missing_field_is_refused_by_nautilus(
        sim: Simulator, session: aiohttp.ClientSession, nautilus_python: str) -> None:
    """The control: without the field the strict client requires, decoding fails."""
    private = await open_private(session, sim, topics=("execution", "wallet"))
    await _order(session, sim, side="Buy", orderType="Market", qty="0.01")
    frames = await _raw_frames(private, {"execution": 1, "wallet": 1})
    await private.close()
    execution, wallet = json.loads(frames["execution"][0]), json.loads(frames["wallet"][0])
    del execution["data"][0]["isLeverage"]
    del wallet["data"][0]["coin"][0]["availableToBorrow"]
    for topic, message in (("execution", execution), ("wallet", wallet)):
        code, _, err = await run_python(nautilus_python, ["-c", _DECODE_ONE],
                                        [topic, message])
        assert code != 0 and "missing required field" in err.lower(), (topic, err[-2000:])



async def test_rest_lists_carry_every_documented_field(
        sim: Simulator, session: aiohttp.ClientSession) -> None:
    """The REST entries nautilus does not fully read, checked against the docs' tables."""
    await _order(session, sim, side="Sell", orderType="Market", qty="0.01")
    await _order(session, sim, side="Buy", orderType="Limit", qty="0.01", price="1000")
    lists = {}
    for path, params in (("/v5/order/realtime", {"settleCoin": "USDT"}),
                         ("/v5/order/history", {}), ("/v5/execution/list", {}),
                         ("/v5/position/list", {"symbol": "BTCUSDT"}),
                         ("/v5/account/fee-rate", {"symbol": "BTCUSDT"})):
        body, _ = await signed_request(session, sim, "GET", path,
                                       {"category": "linear", **params})
        assert body["retCode"] == 0, body
        lists[path] = body["result"]["list"]
    body, _ = await signed_request(session, sim, "GET", "/v5/account/wallet-balance",
                                   {"accountType": "UNIFIED"})
    wallet = body["result"]["list"][0]
    async with session.get(f"{sim.rest_url}/v5/market/tickers",
                           params={"category": "linear"}) as resp:
        ticker = (await resp.json())["result"]["list"][0]
    expected = {"/v5/order/realtime": documented.ORDER_REST,
                "/v5/order/history": documented.ORDER_REST,
                "/v5/execution/list": documented.EXECUTION_REST,
                "/v5/position/list": documented.POSITION_REST,
                "/v5/account/fee-rate": documented.FEE_RATE}
    for path, fields in expected.items():
        assert lists[path], path
        for item in lists[path]:
            assert not _missing(item, fields), (path, item)
    assert not _missing(wallet, documented.WALLET)
    assert not _missing(wallet["coin"][0], documented.WALLET_COIN)
    assert not _missing(ticker, documented.TICKER_REST)
