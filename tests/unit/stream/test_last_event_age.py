"""``lastEventAgeSeconds`` of ``/api/hybrid/status`` (the dashboard's "last event"): counts
messages still batched for the next scrape as well as flushed ones, per source."""

from __future__ import annotations

from hybridstream.service.metrics import StreamMetrics


def test_last_event_ages_count_pending_and_flushed_messages() -> None:
    metrics = StreamMetrics()
    assert metrics.last_event_ages(100.0) == {}
    metrics.count_received("ticker", "hybrid", 1, 90.0)
    assert metrics.last_event_ages(100.0) == {"hybrid": 10.0}
    metrics.count_received("position", "rest", 2, 95.0)  # batched, not flushed yet
    assert metrics.last_event_ages(100.0) == {"hybrid": 10.0, "rest": 5.0}
    assert metrics.last_event_ages(80.0) == {"hybrid": 0.0, "rest": 0.0}  # a clock step back
