"""Per-connection bounded send queues: a client that stops reading costs bounded memory,
its ticker pushes are dropped and counted, other clients are unaffected."""

from __future__ import annotations

import aiohttp
from hybridstream.simulator import running_simulator

from tests.plugins.waiting import eventually

from .helpers import recv_json, recv_until

QUEUE_BYTES = 256 * 1024


async def test_slow_consumer_is_bounded_and_others_keep_flowing(
        session: aiohttp.ClientSession) -> None:
    async with running_simulator(symbols=300, ticker_interval_ms=20,
                                 send_queue_max_bytes=QUEUE_BYTES) as sim:
        topics = [f"tickers.{s}" for s in sim.market.instruments]
        stuck = await session.ws_connect(sim.ws_public_url, max_msg_size=0)
        await stuck.send_json({"op": "subscribe", "args": topics})
        healthy = await session.ws_connect(sim.ws_public_url)
        await healthy.send_json({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        assert (await recv_json(healthy))["success"] is True

        def stuck_stats() -> dict:
            return next(c for c in sim.control.connections() if len(c["topics"]) == 300)

        # The stuck client never reads: the kernel buffers fill, then our queue, then drops.
        await eventually(lambda: stuck_stats()["dropped"] > 0, within=90)
        assert stuck_stats()["queued_bytes"] <= QUEUE_BYTES
        assert sim.control.stats()["dropped"] >= stuck_stats()["dropped"]
        healthy_stats = next(c for c in sim.control.connections() if c["topics"] == [
            "tickers.BTCUSDT"])
        assert healthy_stats["dropped"] == 0
        await healthy.send_json({"op": "ping", "req_id": "alive"})
        assert (await recv_until(healthy, lambda m: m.get("req_id") == "alive"))["op"] == "ping"
        await stuck.close()
        await healthy.close()
