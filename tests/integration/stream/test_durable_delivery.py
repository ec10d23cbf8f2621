"""Durable delivery against real receivers (docs/delivery.md): a Redis stopped for ~20 s
while orders and executions flow, a webhook that answers 503 for a while, a spill too small
for the outage, and a SIGTERM with the sink down followed by a restart. Every check is on
outcomes, with bounded waits; the numbers seen are printed (``pytest -s``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import redis
from hybridstream.service.app import StreamService
from hybridstream.simulator.app import running_simulator

from tests.plugins.waiting import eventually

from .conftest import RedisServer
from .harness import WebhookReceiver, build_settings
from .journal_checks import assess_journal, assess_trades, trade
from .processes import build_env, stream_process

OUTAGE_SECONDS = 20


async def readyz(port: int) -> int:
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}/readyz") as resp:
        return resp.status


async def answers(port: int, want: int) -> bool:
    """The child process's ``/readyz`` answers ``want``."""
    return await readyz(port) == want


def dropped(service: StreamService) -> dict[tuple[str, str], float]:
    """``hybridstream_events_dropped_total`` by (type, reason), non-zero series only."""
    found = {}
    for family in service.metrics.registry.collect():
        if family.name == "hybridstream_events_dropped":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.value:
                    found[(sample.labels["type"], sample.labels["reason"])] = sample.value
    return found


async def test_redis_outage_loses_no_event_and_keeps_per_symbol_order(
        redis_server: RedisServer, tmp_path: Path) -> None:
    async with running_simulator(symbols=4) as sim:
        settings = build_settings(sim, HYBRID_SINK="redis", HYBRID_SINK_URL=redis_server.url,
                                  HYBRID_REDIS_STREAM="hs:outage", HYBRID_QUEUE_SIZE=50,
                                  HYBRID_SPILL_DIR=str(tmp_path / "spill"),
                                  HYBRID_SINK_BACKOFF_CAP=1)
        symbols = list(sim.market.instruments)
        placed: dict[str, list[str]] = defaultdict(list)
        async with StreamService(settings) as service:
            await eventually(service.is_ready, "ready")
            trade(sim, placed, symbols, 4)  # positions open: their mark ticks flow too
            redis_server.stop()
            await eventually(lambda: not service.is_ready(), "not ready while Redis is down")
            assert await readyz(service.http_port) == 503
            peak = {"inMemory": 0, "spilled": 0, "spilledBytes": 0}
            outage_end = time.monotonic() + OUTAGE_SECONDS
            sent = 4
            while time.monotonic() < outage_end:  # orders and executions while down
                trade(sim, placed, symbols, 1, start=sent)
                sent += 1
                queue = service.status()["queue"]
                peak = {k: max(v, queue[k]) for k, v in peak.items()}
                await asyncio.sleep(0.25)
            assert not service.is_ready() and not service.status()["sink"]["up"]
            assert await readyz(service.http_port) == 503
            redis_server.start()
            recovered = time.monotonic()
            client = redis.Redis.from_url(redis_server.url)

            def forwarded() -> list[dict[str, Any]]:
                return [json.loads(f[b"event"]) for _, f in client.xrange("hs:outage")]

            await eventually(lambda: not assess_trades(placed, forwarded()),
                             "every order and execution in Redis", within=120)
            drain_seconds = time.monotonic() - recovered
            await eventually(service.is_ready, "ready again after Redis recovered")
            retries = service.metrics.registry.get_sample_value(
                "hybridstream_sink_retries_total")
            events = forwarded()
            status = service.status()
            problems = assess_journal(sim, events)
            client.close()
    print(f"\nredis outage {OUTAGE_SECONDS} s: {sent} orders, peak {peak}, {retries:.0f} "
          f"retries, drained {drain_seconds:.2f} s after recovery, {len(events)} events")
    assert not problems, problems
    assert peak["spilled"] > 0, "the outage never reached the spill"
    assert retries and retries > 0 and status["sink"]["up"]
    assert not dropped(service)


async def test_webhook_answering_503_for_a_while_then_200_gets_everything() -> None:
    async with WebhookReceiver(status=503) as receiver, running_simulator(symbols=3) as sim:
        settings = build_settings(sim, HYBRID_SINK="webhook", HYBRID_SINK_URL=receiver.url,
                                  HYBRID_SINK_BACKOFF_CAP=0.5)
        symbols = list(sim.market.instruments)
        placed: dict[str, list[str]] = defaultdict(list)
        async with StreamService(settings) as service:
            await eventually(lambda: service.hybrid is not None and service.hybrid.ready,
                             "stream up")
            trade(sim, placed, symbols, 9)
            await eventually(lambda: receiver.answers.get(503, 0) >= 3, "503 answered")
            assert not service.is_ready() and await readyz(service.http_port) == 503
            receiver.status = 200
            await eventually(lambda: not assess_trades(placed, receiver.events),
                             "every order and execution at the webhook")
            await eventually(service.is_ready, "ready again")
            problems = assess_journal(sim, receiver.events)
    assert not problems, problems
    assert not dropped(service)


async def test_a_full_spill_drops_position_snapshots_never_orders(tmp_path: Path) -> None:
    """A 64 KiB spill while the webhook is down, with position marks ticking on six symbols
    and orders placed: superseded snapshots are dropped and counted; no order, execution or
    wallet event is; the newest state of every position still arrives."""
    async with WebhookReceiver(status=503) as receiver, running_simulator(symbols=6) as sim:
        settings = build_settings(sim, HYBRID_SINK="webhook", HYBRID_SINK_URL=receiver.url,
                                  HYBRID_QUEUE_SIZE=10, HYBRID_SPILL_DIR=str(tmp_path / "s"),
                                  HYBRID_SPILL_MAX_BYTES=64 * 1024,
                                  HYBRID_SINK_BACKOFF_CAP=0.5)
        symbols = list(sim.market.instruments)
        placed: dict[str, list[str]] = defaultdict(list)
        async with StreamService(settings) as service:
            await eventually(lambda: service.hybrid is not None and service.hybrid.ready,
                             "stream up")
            trade(sim, placed, symbols, 6)
            sent = 6
            deadline = time.monotonic() + 60
            while not dropped(service) and time.monotonic() < deadline:
                trade(sim, placed, symbols, 1, start=sent)
                sent += 1
                await asyncio.sleep(0.2)
            drops = dropped(service)
            peak_bytes = service.status()["queue"]["spilledBytes"]
            receiver.status = 200
            await eventually(lambda: not assess_trades(placed, receiver.events),
                             "every order and execution at the webhook", within=60)
            await eventually(lambda: len(service.pipeline.outbox) == 0, "outbox drained")
            problems = assess_journal(sim, receiver.events)
    print(f"\nfull spill: dropped {drops}, spilled {peak_bytes} bytes, {sent} orders")
    assert drops, "the spill never filled"
    assert {kind for kind, _ in drops} <= {"position.update", "position.closed"}
    assert not problems, problems


async def test_sigterm_persists_and_a_restart_delivers_the_spill_first(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    async with WebhookReceiver(status=503) as receiver, running_simulator(symbols=3) as sim:
        symbols = list(sim.market.instruments)
        placed: dict[str, list[str]] = defaultdict(list)
        env = build_env(sim, "production", HYBRID_SINK="webhook", HYBRID_SINK_URL=receiver.url,
                        HYBRID_SPILL_DIR=str(spill), HYBRID_DRAIN_TIMEOUT="2",
                        HYBRID_SINK_BACKOFF_CAP="0.5")
        with stream_process(tmp_path / "first.log", env) as first:
            await eventually(lambda: answers(first.port, 200), "the first stream ready",
                             within=60)
            trade(sim, placed, symbols, 6)
            await eventually(lambda: answers(first.port, 503),
                             "the first stream failing to deliver", within=60)
        assert first.proc.proc.returncode == 0, first.proc.tail()
        assert "kept in" in first.output(), first.proc.tail()
        assert list(spill.glob("seg-*.jsonl")), "nothing persisted"
        receiver.status = 200
        restart_ms = time.time() * 1000
        with stream_process(tmp_path / "second.log", env) as second:
            await eventually(lambda: answers(second.port, 200), "the second stream ready",
                             within=60)
            trade(sim, placed, symbols, 3, start=6)  # new events, after the spilled ones
            await eventually(lambda: not assess_trades(placed, receiver.events),
                             "the spilled orders and executions delivered", within=60)
            assert (await second.status())["sink"]["up"]
        events = receiver.events
    first_new = min(i for i, e in enumerate(events) if e["receiveTime"] >= restart_ms)
    assert all(e["receiveTime"] < restart_ms for e in events[:first_new])
    assert all(e["receiveTime"] >= restart_ms for e in events[first_new:]), \
        "an event of the first run arrived after one of the second"
    assert not list(spill.glob("seg-*.jsonl")), "the spill was not emptied"
