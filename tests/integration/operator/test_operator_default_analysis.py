"""The default analysis judges only what matters, against a real Prometheus scraping real
``StreamMetrics`` endpoints (the stream's own metric names and labels): a legacy (rest-mode)
pod whose sockets never connect and an idle account (no open positions, no events) do not
fail a healthy rollout; a disconnected hybrid pod and a silent hybrid pod with open
positions still do."""

from __future__ import annotations

import time
from collections.abc import Iterator

import aiohttp
import pytest
from hybridstream.routing import Mode
from hybridstream.service.metrics import SOCKETS, StreamMetrics
from hybridstream_operator.clients.prometheus import fetch_samples
from hybridstream_operator.logic.verdicts import assess_sample
from hybridstream_operator.models.spec import Analysis
from hybridstream_operator.models.status import Verdict
from operator_harness import wait_until
from prometheus_client import start_http_server

from tests.plugins.processes import free_port
from tests.plugins.prometheus import scrape_config

LONG_AGO = 1000.0  # seconds: far beyond every default threshold


class StreamEndpoint:
    """One stream pod's real metrics, served on a free loopback port."""

    def __init__(self, mode: Mode) -> None:
        self.metrics = StreamMetrics()
        self.metrics.set_mode(mode)
        self.metrics.positions_open.set(0)
        self.port = free_port()
        self.server, _ = start_http_server(self.port, "127.0.0.1", self.metrics.registry)

    def sockets_down_since_long_ago(self) -> None:
        for socket in SOCKETS:
            self.metrics.socket_down(socket)
            # StreamMetrics measures downtime from a monotonic mark; move it back instead
            # of waiting minutes for the gauge to grow.
            self.metrics._down_since[socket] = time.monotonic() - LONG_AGO

    def sockets_up(self) -> None:
        for socket in SOCKETS:
            self.metrics.socket_up(socket)


@pytest.fixture
def legacy() -> Iterator[StreamEndpoint]:
    """A rest-mode pod: sockets never connected, no events at all."""
    pod = StreamEndpoint(Mode.REST)
    pod.sockets_down_since_long_ago()
    yield pod
    pod.server.shutdown()


@pytest.fixture
def hybrid() -> Iterator[StreamEndpoint]:
    """A healthy hybrid pod on an idle account: connected, no positions, last event long ago."""
    pod = StreamEndpoint(Mode.CUTOVER)
    pod.sockets_up()
    pod.metrics.last_event_timestamp.labels(source="hybrid").set(time.time() - LONG_AGO)
    yield pod
    pod.server.shutdown()


@pytest.fixture
def streams_prometheus(prometheus_factory, legacy, hybrid):
    server = prometheus_factory(scrape_config(
        [f"127.0.0.1:{legacy.port}", f"127.0.0.1:{hybrid.port}"], "1s"))
    return server


async def verdicts(prometheus_url: str) -> dict[str, tuple[Verdict, float | None]]:
    """Every default metric's verdict (and value) for one pass in Cutover."""
    analysis = Analysis.model_validate({"prometheus": {"address": prometheus_url}})
    metrics = [m for m in analysis.metrics if m.phases is None or "Cutover" in m.phases]
    async with aiohttp.ClientSession() as http:
        samples = await fetch_samples(http, analysis, metrics, 10)
    return {m.name: (assess_sample(m, s), s.value) for m, s in zip(metrics, samples, strict=True)}


async def wait_for_verdict(prometheus_url: str, name: str, expected: Verdict) -> dict:
    async def check():
        found = await verdicts(prometheus_url)
        return found if found[name][0] is expected else None
    return await wait_until(check, within=45, what=f"{name} to be {expected}")


async def test_legacy_sockets_and_an_idle_account_do_not_fail(streams_prometheus, hybrid):
    # Both pods scraped, and the legacy pod's socket gauge really is far above 120 s.
    async def scraped():
        up = streams_prometheus.query("sum(up)")
        return up and float(up[0]["value"][1]) == 2 and streams_prometheus.query(
            f"hybridstream_ws_disconnected_seconds > {LONG_AGO / 2}")
    await wait_until(scraped, within=45, what="both stream endpoints scraped")

    found = await wait_for_verdict(streams_prometheus.url, "disconnected-critical", Verdict.PASS)
    assert found["disconnected-critical"] == (Verdict.PASS, 0.0)
    assert found["disconnected-warning"] == (Verdict.PASS, 0.0)
    # No positions: nothing to hear about, so the last event's age does not matter.
    assert found["no-events-critical"] == (Verdict.PASS, 0.0)
    assert found["no-events-warning"] == (Verdict.PASS, 0.0)
    assert found["positions-without-subscriptions"][0] is Verdict.PASS
    failed = {name: v for name, v in found.items() if v[0] is Verdict.FAIL}
    assert failed == {}


async def test_disconnected_hybrid_still_fails(streams_prometheus, hybrid):
    hybrid.sockets_down_since_long_ago()
    found = await wait_for_verdict(streams_prometheus.url, "disconnected-critical", Verdict.FAIL)
    assert found["disconnected-critical"][1] > 120


async def test_silent_hybrid_with_open_positions_still_fails(streams_prometheus, hybrid):
    hybrid.metrics.positions_open.set(2)
    found = await wait_for_verdict(streams_prometheus.url, "no-events-critical", Verdict.FAIL)
    assert found["no-events-critical"][1] > 300
    # The same pod holds positions without a ticker subscription: prices are frozen.
    assert found["positions-without-subscriptions"] == (Verdict.FAIL, 1.0)
