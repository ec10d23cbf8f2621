"""A server that accepts every WebSocket and closes it at once, cleanly, without any error:
the stream must back off between attempts (the seed spun in a tight loop here because its
``connected`` flag stayed true). Load can only lower the attempt count, so the upper bound
cannot flake; a spinning client makes thousands of attempts in the same time."""

from __future__ import annotations

from aiohttp import web
from hybridstream.serving import start_site
from hybridstream.simulator.app import running_simulator

from tests.plugins.waiting import eventually

from .harness import build_settings, running_stream


async def test_clean_immediate_close_does_not_spin() -> None:
    accepted = {"n": 0}

    async def close_at_once(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        accepted["n"] += 1
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", close_at_once)
    runner, port = await start_site(app, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{port}/ws"
    try:
        async with running_simulator(symbols=2) as sim, running_stream(build_settings(
                sim, BYBIT_WS_PUBLIC_URL=url, BYBIT_WS_PRIVATE_URL=url,
                HYBRID_BACKOFF_BASE=0.5, HYBRID_BACKOFF_CAP=2)) as (service, _):
            assert service.hybrid is not None
            await eventually(lambda: service.hybrid.private.connects >= 4
                             and service.hybrid.public.connects >= 4, "a few reconnects")
            # 4 attempts with delays of at least 0.25, 0.5, 1 s: ~2 s; in that time a client
            # without backoff makes hundreds of attempts per socket.
            assert accepted["n"] < 40
            assert not service.is_ready()
            reconnects = service.metrics.registry.get_sample_value(
                "hybridstream_ws_reconnects_total", {"socket": "private"})
            assert reconnects is not None and reconnects >= 3
    finally:
        await runner.cleanup()
