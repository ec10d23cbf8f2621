"""Sinks against real receivers: redis-server (XADD) and an aiohttp webhook receiver."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
from aiohttp import web
from hybridstream.service.app import StreamService
from hybridstream.service.sinks import RedisStreamSink, SinkError, SinkRejected, WebhookSink
from hybridstream.serving import start_site
from hybridstream.simulator.app import running_simulator

from tests.plugins.processes import free_port
from tests.plugins.waiting import eventually

from .harness import KEY, WebhookReceiver, build_settings, open_positions
from .journal_checks import assess_journal

EVENTS = [{"type": "execution", "symbol": "BTCUSDT", "seq": i, "data": {"execId": f"e{i}"}}
          for i in range(3)]


async def test_redis_stream_sink_xadds_every_event(redis_url: str) -> None:
    sink = RedisStreamSink(redis_url, "hs:test")
    await sink.send(EVENTS)
    await sink.close()
    entries = redis.Redis.from_url(redis_url).xrange("hs:test")
    assert [json.loads(fields[b"event"]) for _, fields in entries] == EVENTS


async def test_redis_sink_failure_is_a_sink_error_without_the_url() -> None:
    url = f"redis://:hunter2pass@127.0.0.1:{free_port()}/0"
    sink = RedisStreamSink(url, "hs:test")
    with pytest.raises(SinkError) as info:
        await sink.send(EVENTS)
    await sink.close()
    assert "hunter2pass" not in str(info.value)


async def test_webhook_sink_tells_an_unavailable_receiver_from_a_rejected_batch() -> None:
    """One attempt per send (the pipeline retries): 5xx, 401/404/429 and a refused
    connection are the receiver unavailable; 400/413/422 reject the content."""
    async with WebhookReceiver() as receiver:
        sink = WebhookSink(receiver.url)
        try:
            for status in (503, 401, 404, 429):
                receiver.status = status
                with pytest.raises(SinkError) as info:
                    await sink.send(EVENTS)
                assert not isinstance(info.value, SinkRejected), status
            for status in (400, 413, 422):
                receiver.status = status
                with pytest.raises(SinkRejected):
                    await sink.send(EVENTS)
            receiver.status = 204
            await sink.send(EVENTS)
        finally:
            await sink.close()
    assert receiver.events == EVENTS
    refused = WebhookSink(f"http://127.0.0.1:{free_port()}/hook")
    with pytest.raises(SinkError):
        await refused.send(EVENTS)
    await refused.close()


async def test_service_forwards_into_redis_streams(redis_url: str) -> None:
    async with running_simulator(symbols=3) as sim:
        settings = build_settings(sim, HYBRID_SINK="redis", HYBRID_SINK_URL=redis_url,
                                  HYBRID_REDIS_STREAM="hs:live")
        async with StreamService(settings) as service:
            await eventually(service.is_ready, "ready")
            sim.control.open_position(KEY, "BTCUSDT", "Buy", "0.01")
            client = redis.Redis.from_url(redis_url)

            def forwarded() -> list[dict]:
                return [json.loads(f[b"event"]) for _, f in client.xrange("hs:live")]

            await eventually(lambda: any(e["type"] == "position.update" and
                                         e["symbol"] == "BTCUSDT" for e in forwarded()),
                             "position.update in the Redis stream")
            assert {"order", "execution"} <= {e["type"] for e in forwarded()}


async def test_shutdown_delivers_the_batch_in_flight_and_everything_queued() -> None:
    """A graceful stop (what SIGTERM runs) while a slow webhook holds a batch: that batch is
    still answered, and what queued behind it is delivered before the sockets close. A
    batch counts as delivered only if the receiver could answer it (a client that hung up
    got no answer and must assume nothing arrived)."""
    delivered: list[dict] = []
    first_batch: list[dict] = []
    in_flight = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        events = (await request.json())["events"]
        if not in_flight.is_set():
            first_batch.extend(events)
            in_flight.set()
        await asyncio.sleep(0.5)  # a slow consumer: later events queue meanwhile
        if request.transport is not None and not request.transport.is_closing():
            delivered.extend(events)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner, port = await start_site(app, "127.0.0.1", 0)
    try:
        async with running_simulator(symbols=6) as sim:
            settings = build_settings(sim, HYBRID_SINK="webhook",
                                      HYBRID_SINK_URL=f"http://127.0.0.1:{port}/hook")
            async with StreamService(settings) as service:
                await eventually(service.is_ready, "ready")
                symbols = list(sim.market.instruments)
                sim.control.open_position(KEY, symbols[0], "Buy",
                                          sim.market.instruments[symbols[0]].min_qty)
                await eventually(in_flight.is_set, "a batch in flight at the webhook")
                for symbol in symbols[1:]:  # queued behind the batch in flight
                    sim.control.open_position(KEY, symbol, "Buy",
                                              sim.market.instruments[symbol].min_qty)
                await eventually(lambda: {s for s, _ in open_positions(service)} == set(symbols)
                                 and len(service.pipeline.outbox), "the later positions queued")
            # the context's exit is the graceful stop
            problems = assess_journal(sim, delivered)
    finally:
        await runner.cleanup()
    assert not problems, problems
    assert {e["symbol"] for e in delivered if e["type"].startswith("position.")} == set(symbols)

    def identity(e: dict) -> tuple:
        return e["type"], e["symbol"], e["seq"], e["receiveTime"]
    assert {identity(e) for e in first_batch} <= {identity(e) for e in delivered}, \
        "the batch in flight at shutdown was abandoned"
