"""Every default analysis query (seed thresholds over the stream's metric names) is valid
PromQL for a real Prometheus, with and without a selector."""

from __future__ import annotations

import aiohttp
import pytest
from hybridstream_operator.clients.prometheus import fetch_sample
from hybridstream_operator.models.spec import Analysis


@pytest.mark.parametrize("selector", ["", 'namespace="trading",job="test"'])
async def test_default_queries_are_valid_promql(prometheus, selector):
    analysis = Analysis(selector=selector)
    async with aiohttp.ClientSession() as http:
        for metric in analysis.metrics:
            sample = await fetch_sample(http, prometheus.url, metric, selector, 10)
            # the stream is not running here: no data, but never a query error
            assert sample.error is None, (metric.name, metric.query, sample.error)


async def test_unreachable_prometheus_is_an_error_without_the_address(prometheus):
    analysis = Analysis()
    metric = analysis.metrics[0]
    async with aiohttp.ClientSession() as http:
        sample = await fetch_sample(http, "http://user:hunter2@127.0.0.1:1", metric, "", 5)
    assert sample.error is not None and "hunter2" not in sample.error
