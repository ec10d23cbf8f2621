"""Sinks against real receivers: redis-server (XADD) and an aiohttp webhook receiver."""

from __future__ import annotations

import json

import pytest
import redis
from aiohttp import web
from hybridstream.service.app import StreamService
from hybridstream.service.sinks import RedisStreamSink, SinkError, WebhookSink
from hybridstream.service.status_server import start_server
from hybridstream.simulator.app import running_simulator

from tests.plugins.processes import free_port

from .harness import KEY, build_settings, eventually

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


async def test_webhook_retries_server_errors_then_delivers() -> None:
    received: list[list[dict]] = []
    calls = {"n": 0}

    async def hook(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            return web.Response(status=503)
        received.append((await request.json())["events"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner, port = await start_server(app, "127.0.0.1", 0)
    sink = WebhookSink(f"http://127.0.0.1:{port}/hook")
    try:
        await sink.send(EVENTS)
    finally:
        await sink.close()
        await runner.cleanup()
    assert calls["n"] == 3 and received == [EVENTS]


async def test_webhook_gives_up_with_a_sink_error() -> None:
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/hook", attempts=2)
    with pytest.raises(SinkError):
        await sink.send(EVENTS)
    await sink.close()


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
