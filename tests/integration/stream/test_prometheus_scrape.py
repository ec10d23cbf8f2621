"""A real Prometheus (Debian package) scrapes a running stream and answers the queries the
operator's analysis and the alert rules are built on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hybridstream.simulator.app import running_simulator

from tests.plugins.processes import wait_for
from tests.plugins.prometheus import PrometheusServer, scrape_config
from tests.plugins.waiting import eventually

from .harness import KEY, build_settings, running_stream


async def test_prometheus_scrapes_the_stream(
        prometheus_factory: Callable[[dict[str, Any]], PrometheusServer]) -> None:
    async with running_simulator(symbols=3) as sim, \
            running_stream(build_settings(sim, HYBRID_MODE="canary")) as (service, _):
        await eventually(service.is_ready, "ready")
        sim.control.open_position(KEY, "BTCUSDT", "Buy", "0.01")
        prom = await asyncio.to_thread(prometheus_factory,
                                       scrape_config([f"127.0.0.1:{service.http_port}"]))

        def value(expr: str) -> float | None:
            result = prom.query(expr)
            return float(result[0]["value"][1]) if result else None

        # Sync polling runs in a thread: the stream being scraped lives on this event loop.
        async def until(expr: str, ok: Callable[[float], bool]) -> None:
            await asyncio.to_thread(wait_for, lambda: (v := value(expr)) is not None and ok(v),
                                    timeout=60, what=expr)

        await until('hybridstream_ws_connected{socket="private"}', lambda v: v == 1)
        await until("hybridstream_subscriptions_active", lambda v: v == 1)
        await until("hybridstream_positions_open", lambda v: v == 1)
        await until('rate(hybridstream_events_total{type="ticker",source="hybrid"}[10s])',
                    lambda v: v > 0)
        await until('hybridstream_mode{mode="canary",role="hybrid"}', lambda v: v == 1)
        await until("process_resident_memory_bytes", lambda v: v > 0)
