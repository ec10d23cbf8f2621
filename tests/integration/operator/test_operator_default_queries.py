"""Every default analysis query (seed thresholds over the stream's metric names), rendered
for a rollout as a reconcile pass renders it, is valid PromQL for a real Prometheus, with
and without a user selector, in every phase and at every window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from hybridstream_operator.clients.prometheus import authorization, fetch_sample, fetch_samples
from hybridstream_operator.logic.queries import build_queries
from hybridstream_operator.models.spec import Analysis


@pytest.mark.parametrize("selector", ["", 'namespace="trading",job="test"'])
@pytest.mark.parametrize("age", [None, timedelta(seconds=5), timedelta(hours=2)])
async def test_default_queries_are_valid_promql(prometheus, selector, age):
    analysis = Analysis(selector=selector)
    now = datetime.now(UTC)
    queries = build_queries(analysis, analysis.metrics, "trading", "pos",
                            start=None if age is None else now - age, now=now)
    async with aiohttp.ClientSession() as http:
        samples = await fetch_samples(http, prometheus.url, queries, 10, headers={})
    # the stream is not running here: no data, but never a query error
    errors = {s.metric: (queries[s.metric], s.error) for s in samples if s.error}
    assert errors == {}
    assert queries and len(samples) == len(queries)


async def test_unreachable_prometheus_is_an_error_without_the_credential(prometheus):
    async with aiohttp.ClientSession() as http:
        sample = await fetch_sample(http, "http://127.0.0.1:1", "m", "up", 5,
                                    headers=authorization(None, "hunter2"))
    assert sample.error is not None and "hunter2" not in sample.error
