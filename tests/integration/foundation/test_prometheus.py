"""Real Prometheus (Debian's package) scrapes a real target and answers instant queries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.plugins.processes import free_port, wait_for
from tests.plugins.prometheus import scrape_config


@pytest.fixture
def target() -> Iterator[tuple[str, Gauge]]:
    registry = CollectorRegistry()
    gauge = Gauge("smoke_value", "a value the test controls", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{port}", gauge
    server.shutdown()
    thread.join(5)


def test_prometheus_scrapes_target_and_answers_queries(prometheus_factory, target) -> None:
    address, gauge = target
    gauge.set(41.5)
    prom = prometheus_factory(scrape_config([address]))

    def value() -> float | None:
        result = prom.query("smoke_value")
        return float(result[0]["value"][1]) if result else None

    assert wait_for(value, what="first scrape") == 41.5
    gauge.set(7)
    wait_for(lambda: value() == 7, what="the new value scraped")
    # The target's health is visible too: `up` is 1 for a scraped target.
    up = prom.query(f'up{{instance="{address}"}}')
    assert up and up[0]["value"][1] == "1"


def test_query_error_is_reported(prometheus_factory, target) -> None:
    address, _ = target
    prom = prometheus_factory(scrape_config([address]))
    with pytest.raises(RuntimeError, match="bad_data"):
        prom.query("sum(")
