"""The default analysis judges only what matters, against a real Prometheus scraping real
``StreamMetrics`` endpoints (the stream's own metric names, labels and scope labels), with
the queries rendered exactly as a reconcile pass renders them (``build_queries``):

* a legacy (rest-mode) pod whose sockets never connect and an idle account do not fail a
  healthy rollout; event questions are *not applicable* on an idle account;
* a disconnected hybrid pod and a silent hybrid pod with open positions still fail;
* scope: another rollout's sick pod, in this namespace or another, never counts;
* window: reconnects from before the step began do not count against the step;
* stale signals: a closed position's divergence is forgotten; the last update age is taken
  at scrape time, so a 15 s scrape interval does not fail the "< 10 s" gate by itself;
* a healthy stream in Canary passes every gate, latency included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from hybridstream.routing import Mode
from hybridstream.service.metrics import SOCKETS, StreamMetrics, scope_labels
from hybridstream_operator.clients.prometheus import fetch_samples
from hybridstream_operator.logic.queries import build_queries
from hybridstream_operator.logic.verdicts import applicable, assess_sample
from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.spec import Analysis
from hybridstream_operator.models.status import Verdict
from prometheus_client import start_http_server

from tests.plugins.processes import free_port
from tests.plugins.prometheus import scrape_config
from tests.plugins.waiting import eventually

LONG_AGO = 1000.0  # seconds: far beyond every default threshold
NS, NAME = "trading", "pos"


class StreamEndpoint:
    """One stream pod's real metrics (with its scope labels) on a free loopback port."""

    def __init__(self, mode: Mode, rollout: str = NAME, namespace: str = NS,
                 revision: int | None = None) -> None:
        if revision is None:
            revision = 0 if mode is Mode.REST else 1  # the first walk's revisions
        self.metrics = StreamMetrics(scope_labels(rollout, namespace,
                                                  f"{rollout}-{mode}-{revision}", revision))
        self.metrics.set_mode(mode)
        self.metrics.positions_open.set(0)
        self.port = free_port()
        self.server, _ = start_http_server(self.port, "127.0.0.1", self.metrics.exported)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def sockets_down_since_long_ago(self) -> None:
        for socket in SOCKETS:
            self.metrics.socket_down(socket)
            # StreamMetrics measures downtime from a monotonic mark; move it back instead
            # of waiting minutes for the gauge to grow.
            self.metrics._down_since[socket] = time.monotonic() - LONG_AGO

    def sockets_up(self) -> None:
        for socket in SOCKETS:
            self.metrics.socket_up(socket)

    def streaming(self, per_scrape: int = 100, latency: float = 0.05) -> None:
        """Events arrive steadily: each scrape sees ``per_scrape`` more tickers, the last
        one just now, each merged ``latency`` s after its exchange tick."""
        def tick() -> None:
            self.metrics.count_received("ticker", "hybrid", per_scrape, time.time())
            for _ in range(per_scrape):
                self.metrics.tick_to_event.observe("hybrid", latency)
        self.metrics.add_flush_hook(tick)


def endpoint(mode: Mode, **kwargs: str) -> Iterator[StreamEndpoint]:
    pod = StreamEndpoint(mode, **kwargs)
    yield pod
    pod.server.shutdown()


@pytest.fixture
def legacy() -> Iterator[StreamEndpoint]:
    """A rest-mode pod: sockets never connected, no events at all, polling every second."""
    for pod in endpoint(Mode.REST):
        pod.sockets_down_since_long_ago()
        pod.metrics.poll_interval.set(1)
        yield pod


@pytest.fixture
def hybrid() -> Iterator[StreamEndpoint]:
    """A healthy hybrid pod on an idle account: connected, no positions, last event long ago."""
    for pod in endpoint(Mode.CUTOVER):
        pod.sockets_up()
        pod.metrics.last_event_timestamp.labels(source="hybrid").set(time.time() - LONG_AGO)
        yield pod


@pytest.fixture
def strangers() -> Iterator[list[StreamEndpoint]]:
    """Sick hybrid pods of other rollouts: another name here, the same name elsewhere."""
    pods = [StreamEndpoint(Mode.CUTOVER, rollout="other"),
            StreamEndpoint(Mode.CUTOVER, namespace="elsewhere")]
    for pod in pods:
        pod.sockets_down_since_long_ago()
        pod.metrics.positions_open.set(3)
        pod.metrics.set_divergence("BTCUSDT", 0.5)
    yield pods
    for pod in pods:
        pod.server.shutdown()


@pytest.fixture
def streams_prometheus(prometheus_factory, legacy, hybrid, strangers):
    targets = [legacy.target, hybrid.target, *(p.target for p in strangers)]
    return prometheus_factory(scrape_config(targets, "1s"))


async def verdicts(prometheus_url: str, phase: Phase = Phase.CUTOVER, *,
                   start: datetime | None = None, namespace: str = NS, name: str = NAME,
                   revisions: tuple[int, int] = (0, 1)) -> dict[str, tuple[Verdict,
                                                                         float | None]]:
    """Every default metric's verdict (and value) for one pass of ``namespace/name`` whose
    ``(stable, candidate)`` revisions are ``revisions`` (the first walk by default)."""
    analysis = Analysis.model_validate({"prometheus": {"address": prometheus_url}})
    metrics = applicable(analysis.metrics, phase)
    queries = build_queries(analysis, metrics, namespace, name, start=start,
                            now=datetime.now(UTC), revisions=revisions)
    async with aiohttp.ClientSession() as http:
        samples = await fetch_samples(http, prometheus_url, queries, 10, headers={})
    by_name = {m.name: m for m in metrics}
    errors = {s.metric: s.error for s in samples if s.error}
    assert not errors, errors  # every default query is valid PromQL
    return {s.metric: (assess_sample(by_name[s.metric], s), s.value) for s in samples}


async def wait_for_verdict(prometheus_url: str, metric: str, expected: Verdict,
                           **kwargs: object) -> dict:
    async def check():
        found = await verdicts(prometheus_url, **kwargs)
        return found if found[metric][0] is expected else None
    return await eventually(check, within=45, what=f"{metric} to be {expected}")


async def all_scraped(prometheus, count: int) -> None:
    """Every target scraped, and a few zero samples taken, so that increase() sees a jump
    made after this returns."""
    async def scraped():
        up = prometheus.query("sum(up)")
        return up and float(up[0]["value"][1]) == count
    await eventually(scraped, within=45, what=f"{count} stream endpoints scraped")
    await asyncio.sleep(3)


def misbehave(strangers: list[StreamEndpoint]) -> None:
    """The other rollouts' pods reconnect and fail to process events."""
    for pod in strangers:
        pod.metrics.ws_reconnects.labels(socket="private").inc(50)
        pod.metrics.errors.labels(category="processing").inc(3)


async def test_legacy_sockets_and_an_idle_account_do_not_fail(streams_prometheus, strangers):
    await all_scraped(streams_prometheus, 4)
    misbehave(strangers)
    assert streams_prometheus.query(f"hybridstream_ws_disconnected_seconds > {LONG_AGO / 2}")
    found = await wait_for_verdict(streams_prometheus.url, "disconnected-critical", Verdict.PASS)
    assert found["disconnected-critical"] == (Verdict.PASS, 0.0)
    assert found["disconnected-warning"] == (Verdict.PASS, 0.0)
    # No positions: nothing to hear about, so the last event's age does not apply.
    assert found["no-events-critical"] == (Verdict.NOT_APPLICABLE, None)
    assert found["no-events-warning"] == (Verdict.NOT_APPLICABLE, None)
    assert found["positions-without-subscriptions"][0] is Verdict.PASS
    # the strangers' reconnects, processing errors and divergence are not ours
    assert found["reconnects-per-hour"][0] is Verdict.PASS
    assert found["processing-errors"][0] is Verdict.PASS
    failed = {name: v for name, v in found.items() if v[0] is Verdict.FAIL}
    assert failed == {}
    # and Canary's gates are not applicable on an idle account: they do not block
    canary = await verdicts(streams_prometheus.url, Phase.CANARY)
    gates = ("canary-events-per-minute", "canary-last-update-age", "hybrid-faster-than-legacy")
    assert {g: canary[g][0] for g in gates} == dict.fromkeys(gates, Verdict.NOT_APPLICABLE)
    parallel = await verdicts(streams_prometheus.url, Phase.PARALLEL)
    assert parallel["divergence-critical"][0] is Verdict.PASS
    assert parallel["price-agreement"][0] is Verdict.NOT_APPLICABLE


async def test_the_strangers_are_sick_for_their_own_rollouts(streams_prometheus, strangers):
    """The scope cuts both ways: the same queries do see the other rollouts' pods."""
    await all_scraped(streams_prometheus, 4)
    misbehave(strangers)
    for namespace, name in ((NS, "other"), ("elsewhere", NAME)):
        found = await wait_for_verdict(streams_prometheus.url, "disconnected-critical",
                                       Verdict.FAIL, namespace=namespace, name=name)
        found = await wait_for_verdict(streams_prometheus.url, "reconnects-per-hour",
                                       Verdict.FAIL, namespace=namespace, name=name)
        assert found["processing-errors"][0] is Verdict.FAIL
        assert found["no-events-critical"][0] is Verdict.NOT_APPLICABLE  # no hybrid events


async def test_disconnected_hybrid_still_fails(streams_prometheus, hybrid):
    hybrid.sockets_down_since_long_ago()
    found = await wait_for_verdict(streams_prometheus.url, "disconnected-critical", Verdict.FAIL)
    assert found["disconnected-critical"][1] > 120


async def test_silent_hybrid_with_open_positions_still_fails(streams_prometheus, hybrid):
    hybrid.metrics.positions_open.set(2)
    found = await wait_for_verdict(streams_prometheus.url, "no-events-critical", Verdict.FAIL)
    assert found["no-events-critical"][1] > 300
    # The same pod holds positions without a ticker subscription for 30 s: prices frozen.
    found = await wait_for_verdict(streams_prometheus.url, "positions-without-subscriptions",
                                   Verdict.FAIL)
    assert found["positions-without-subscriptions"] == (Verdict.FAIL, 1.0)


async def test_processing_errors_roll_back(streams_prometheus, hybrid):
    await all_scraped(streams_prometheus, 4)
    hybrid.metrics.errors.labels(category="processing").inc()
    found = await wait_for_verdict(streams_prometheus.url, "processing-errors", Verdict.FAIL)
    assert found["processing-errors"][1] >= 1


async def test_a_healthy_stream_passes_every_canary_gate(streams_prometheus, hybrid):
    hybrid.metrics.positions_open.set(2)
    hybrid.metrics.subscriptions_active.set(2)
    hybrid.streaming(per_scrape=100, latency=0.05)
    await all_scraped(streams_prometheus, 4)
    found = await wait_for_verdict(streams_prometheus.url, "canary-events-per-minute",
                                   Verdict.PASS, phase=Phase.CANARY)
    found = await wait_for_verdict(streams_prometheus.url, "hybrid-faster-than-legacy",
                                   Verdict.PASS, phase=Phase.CANARY)
    assert found["canary-events-per-minute"][1] >= 60
    # 50 ms against half of legacy's 1 s poll
    assert found["hybrid-faster-than-legacy"][1] == pytest.approx(0.1, rel=0.01)
    assert found["latency-warning"] == (Verdict.PASS, pytest.approx(0.05, rel=0.01))
    assert found["canary-last-update-age"][0] is Verdict.PASS
    assert {n for n, v in found.items() if v[0] is not Verdict.PASS} == set()


async def test_reconnects_before_the_step_began_do_not_count(prometheus_factory, hybrid):
    """``$window`` is the step's age: reconnects of an earlier step or of the failed attempt
    before a retry are not judged again (a windowed metric waits until the step is 30 s
    old rather than reach back into them)."""
    prometheus = prometheus_factory(scrape_config([hybrid.target], "1s"))
    await all_scraped(prometheus, 1)
    hybrid.metrics.ws_reconnects.labels(socket="private").inc(9)
    found = await wait_for_verdict(prometheus.url, "reconnects-per-hour", Verdict.FAIL)
    assert found["reconnects-per-hour"][1] >= 9
    step_began = datetime.now(UTC)  # the next step (or the retry) begins after them
    # for its first 30 s the step is not judged on reconnects at all...
    assert "reconnects-per-hour" not in await verdicts(prometheus.url, start=step_began)
    # ...then on its own data, while an hour's window still sees the 9
    await asyncio.sleep(32)
    assert (await verdicts(prometheus.url, start=step_began))["reconnects-per-hour"] \
        == (Verdict.PASS, 0.0)
    assert (await verdicts(prometheus.url))["reconnects-per-hour"][0] is Verdict.FAIL


async def test_divergence_of_a_closed_position_is_forgotten(prometheus_factory, hybrid):
    prometheus = prometheus_factory(scrape_config([hybrid.target], "1s"))
    hybrid.metrics.set_divergence("SOLUSDT", 0.05)
    await wait_for_verdict(prometheus.url, "divergence-critical", Verdict.FAIL,
                           phase=Phase.PARALLEL)
    hybrid.metrics.forget_divergence(keep=frozenset())  # what closing the position does
    found = await wait_for_verdict(prometheus.url, "divergence-critical", Verdict.PASS,
                                   phase=Phase.PARALLEL)
    assert found["divergence-critical"] == (Verdict.PASS, None)


async def test_last_update_age_is_taken_at_scrape_time(prometheus_factory, hybrid):
    """Events every scrape, scraped every 15 s: the naive ``time() - last`` climbs past 10 s
    between scrapes; the gate's age (scrape time - last event) stays near zero."""
    hybrid.metrics.positions_open.set(1)
    hybrid.streaming(per_scrape=1)
    prometheus = prometheus_factory(scrape_config([hybrid.target], "15s"))
    await all_scraped(prometheus, 1)
    naive, gate = [], []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while loop.time() < deadline:
        found = await verdicts(prometheus.url, Phase.CANARY)
        gate.append(found["canary-last-update-age"])
        result = prometheus.query(
            'max(time() - hybridstream_last_event_timestamp_seconds{source="hybrid"})')
        naive.append(float(result[0]["value"][1]))
        await asyncio.sleep(0.5)
    assert max(naive) > 10, naive  # the check this guards against would have failed
    assert all(verdict is Verdict.PASS and value < 2 for verdict, value in gate), gate


@pytest.fixture
def second_walk(prometheus_factory) -> Iterator[tuple[StreamEndpoint, StreamEndpoint, Any]]:
    """Revision 1 stable (hybrid, sick: sockets down, processing errors) beside a healthy
    candidate revision 2 streaming; no REST poller any more."""
    stable = StreamEndpoint(Mode.PRODUCTION, revision=1)
    candidate = StreamEndpoint(Mode.CANARY, revision=2)
    stable.sockets_down_since_long_ago()
    stable.metrics.positions_open.set(2)
    candidate.sockets_up()
    candidate.metrics.positions_open.set(2)
    candidate.metrics.subscriptions_active.set(2)
    candidate.streaming(per_scrape=100, latency=0.05)
    prom = prometheus_factory(scrape_config([stable.target, candidate.target], "1s"))
    yield stable, candidate, prom
    for pod in (stable, candidate):
        pod.server.shutdown()


async def test_a_later_walk_judges_the_candidate_not_the_stable_revision(second_walk):
    stable, _, prom = second_walk
    await all_scraped(prom, 2)
    stable.metrics.errors.labels(category="processing").inc(3)
    # the same queries scoped to revision 1 as the candidate do see its sickness
    sick = await wait_for_verdict(prom.url, "processing-errors", Verdict.FAIL,
                                  phase=Phase.CANARY, revisions=(0, 1))
    assert sick["disconnected-critical"][0] is Verdict.FAIL
    found = await wait_for_verdict(prom.url, "canary-events-per-minute", Verdict.PASS,
                                   phase=Phase.CANARY, revisions=(1, 2))
    assert found["disconnected-critical"] == (Verdict.PASS, 0.0)
    assert found["processing-errors"][0] is Verdict.PASS
    # no poller beside a hybrid stable revision: "faster than legacy" does not apply
    assert found["hybrid-faster-than-legacy"] == (Verdict.NOT_APPLICABLE, None)
