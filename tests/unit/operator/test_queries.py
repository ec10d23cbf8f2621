"""``$selector`` and ``$window``: every query sees this rollout's pods and this step's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hybridstream_operator.logic.queries import (
    build_queries,
    build_selector,
    build_window,
    render_query,
)
from hybridstream_operator.logic.steps import data_start
from hybridstream_operator.models.defaults import DEFAULT_METRICS
from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.spec import Analysis, Metric
from hybridstream_operator.models.status import RolloutStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_selector_scopes_to_the_rollout_then_adds_the_users_matchers():
    scope = 'hybridstream_namespace="trading",hybridstream_rollout="pos"'
    assert build_selector("trading", "pos") == scope
    assert build_selector("trading", "pos", 'cluster="eu", ') == f'{scope},cluster="eu"'


@pytest.mark.parametrize(
    ("age", "window", "expected"),
    [
        (None, "1h", "3600s"),  # no step start known: the metric's own window
        (timedelta(seconds=5), "1h", None),  # a young step: not measured yet
        (timedelta(seconds=30), "1h", "30s"),
        (timedelta(seconds=95), "1h", "95s"),  # the step's age
        (timedelta(hours=3), "5m", "300s"),  # never more than the metric's window
    ],
)
def test_window_is_the_steps_age_clamped(age, window, expected):
    metric = Metric(name="m", query="q[$window]", condition="result < 1", window=window)
    start = None if age is None else NOW - age
    assert build_window(metric, start, NOW) == expected


def test_every_default_query_is_scoped_and_fully_rendered():
    selector = build_selector("trading", "pos")
    for metric in Analysis().metrics:
        query = render_query(metric, selector, "60s")
        assert "$" not in query, metric.name
        # every series selector in the query carries the scope
        assert query.count("{") == query.count('hybridstream_rollout="pos"'), metric.name
    assert len(DEFAULT_METRICS) == len(Analysis().metrics)


def test_windowed_metrics_wait_until_the_step_has_data_of_its_own():
    analysis = Analysis()
    young = build_queries(analysis, analysis.metrics, "t", "pos",
                          start=NOW - timedelta(seconds=10), now=NOW)
    windowed = {m.name for m in analysis.metrics if "$window" in m.query}
    assert windowed and set(young) == {m.name for m in analysis.metrics} - windowed
    old = build_queries(analysis, analysis.metrics, "t", "pos",
                        start=NOW - timedelta(minutes=2), now=NOW)
    assert set(old) == {m.name for m in analysis.metrics}
    assert "[120s]" in old["reconnects-per-hour"]


def test_durations_count_from_the_steps_start():
    """A socket down since before a retry began is judged from the retry on: the default
    disconnected guards clamp the gauge to the step's age."""
    analysis = Analysis()
    young = build_queries(analysis, analysis.metrics, "t", "pos",
                          start=NOW - timedelta(seconds=3), now=NOW)
    assert young["disconnected-critical"].startswith("clamp_max(")
    assert young["disconnected-critical"].endswith(", 3)")
    assert young["no-events-critical"].endswith(", 3)")
    unknown = build_queries(analysis, analysis.metrics, "t", "pos", start=None, now=NOW)
    assert unknown["disconnected-critical"].endswith(f", {10**9})")


def test_a_pause_does_not_restart_the_clock():
    """Held, the rollout's guards see the whole outage, not only the time since the pause."""
    paused = RolloutStatus(phase=Phase.PAUSED, paused_from=Phase.CUTOVER,
                           phase_started_at=NOW - timedelta(seconds=5))
    assert data_start(paused) is None
    walking = RolloutStatus(phase=Phase.CUTOVER, phase_started_at=NOW - timedelta(seconds=9))
    assert data_start(walking) == NOW - timedelta(seconds=9)
