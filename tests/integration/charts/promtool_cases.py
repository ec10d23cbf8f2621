"""``promtool test rules`` cases for the chart's alerts: synthetic stream series just below
and just above each seed threshold, and the alerts Prometheus must (and must not) fire.

Pods: a hybrid pod, a second hybrid pod, and a legacy (rest-mode) pod whose socket gauges
grow forever because it never opens a WebSocket: it must never raise a socket alert.
promtool starts its clock at the Unix epoch, so ``time()`` equals the evaluation time and a
``last_event_timestamp`` of 0 is exactly as old as the evaluation time.
"""

from __future__ import annotations

from typing import Any

HYBRID_POD = {"job": "streams", "instance": "10.0.0.1:8080", "namespace": "trading",
              "pod": "hybrid-0"}
OTHER_POD = {"job": "streams", "instance": "10.0.0.2:8080", "namespace": "trading",
             "pod": "hybrid-1"}
LEGACY_POD = {"job": "streams", "instance": "10.0.0.3:8080", "namespace": "trading",
              "pod": "legacy-0"}
RULE_LABELS = {"app": "hybridstream"}


def series(metric: str, labels: dict[str, str], values: str, **extra: str) -> dict[str, str]:
    """One input series in promtool notation (``values`` like ``0+15x20``)."""
    matchers = ",".join(f'{k}="{v}"' for k, v in {**labels, **extra}.items())
    return {"series": f"{metric}{{{matchers}}}", "values": values}


def mode(labels: dict[str, str], role: str, samples: int) -> list[dict[str, str]]:
    """``hybridstream_mode`` as the stream exports it: one series per mode, the active one 1."""
    active = "cutover" if role == "hybrid" else "rest"
    return [series("hybridstream_mode", labels, f"{int(m == active)}x{samples}", mode=m,
                   role="legacy" if m == "rest" else "hybrid")
            for m in ("rest", "canary", "cutover")]


def fired(labels: dict[str, str], severity: str, **extra: str) -> dict[str, Any]:
    return {"exp_labels": {**labels, **extra, "severity": severity, **RULE_LABELS}}


def expect(alert: str, at: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": alert, "exp_alerts": list(alerts)}


def _disconnected() -> dict[str, Any]:
    # The gauge counts seconds since the socket went down: +15 every 15 s step.
    return {"name": "disconnected", "interval": "15s", "input_series": [
        series("hybridstream_ws_disconnected_seconds", HYBRID_POD, "0+15x20", socket="public"),
        series("hybridstream_ws_disconnected_seconds", HYBRID_POD, "0x20", socket="private"),
        series("hybridstream_ws_disconnected_seconds", LEGACY_POD, "0+15x20", socket="public"),
        *mode(HYBRID_POD, "hybrid", 20), *mode(LEGACY_POD, "legacy", 20),
    ], "alert_rule_test": [
        expect("HybridStreamDisconnectedWarning", "30s"),
        expect("HybridStreamDisconnectedWarning", "45s",
               fired(HYBRID_POD, "warning", socket="public")),
        expect("HybridStreamDisconnectedCritical", "120s"),
        expect("HybridStreamDisconnectedCritical", "135s",
               fired(HYBRID_POD, "critical", socket="public")),
    ]}


def _no_events() -> dict[str, Any]:
    return {"name": "no-events", "interval": "15s", "input_series": [
        series("hybridstream_last_event_timestamp_seconds", HYBRID_POD, "0x30", source="hybrid"),
        series("hybridstream_positions_open", HYBRID_POD, "1x30"),
        # Idle account: no positions, so no events are expected.
        series("hybridstream_last_event_timestamp_seconds", OTHER_POD, "0x30", source="hybrid"),
        series("hybridstream_positions_open", OTHER_POD, "0x30"),
        # The REST poller's events are not the hybrid stream's.
        series("hybridstream_last_event_timestamp_seconds", LEGACY_POD, "0x30", source="rest"),
        series("hybridstream_positions_open", LEGACY_POD, "1x30"),
    ], "alert_rule_test": [
        expect("HybridStreamNoEventsWarning", "60s"),
        expect("HybridStreamNoEventsWarning", "75s",
               fired(HYBRID_POD, "warning", source="hybrid")),
        expect("HybridStreamNoEventsCritical", "300s"),
        expect("HybridStreamNoEventsCritical", "315s",
               fired(HYBRID_POD, "critical", source="hybrid")),
    ]}


def _reconnects() -> dict[str, Any]:
    # Counters flat for an hour, then a burst; at 90m the 1h window holds exactly the burst.
    return {"name": "reconnects", "interval": "1m", "input_series": [
        series("hybridstream_ws_reconnects_total", HYBRID_POD, "0x59 3x30", socket="private"),
        series("hybridstream_ws_reconnects_total", HYBRID_POD, "0x59 3x30", socket="public"),
        series("hybridstream_ws_reconnects_total", OTHER_POD, "0x59 2x30", socket="private"),
        series("hybridstream_ws_reconnects_total", OTHER_POD, "0x59 3x30", socket="public"),
    ], "alert_rule_test": [
        expect("HybridStreamReconnectsCritical", "50m"),
        expect("HybridStreamReconnectsCritical", "90m", fired(HYBRID_POD, "critical")),
    ]}


def _subscription_failures() -> dict[str, Any]:
    return {"name": "subscription-failures", "interval": "1m", "input_series": [
        series("hybridstream_subscription_failures_total", HYBRID_POD, "0x59 6x30"),
        series("hybridstream_subscription_failures_total", OTHER_POD, "0x59 11x30"),
        series("hybridstream_subscription_failures_total", LEGACY_POD, "0x59 5x30"),
    ], "alert_rule_test": [
        expect("HybridStreamSubscriptionFailuresWarning", "90m",
               fired(HYBRID_POD, "warning"), fired(OTHER_POD, "warning")),
        expect("HybridStreamSubscriptionFailuresCritical", "90m", fired(OTHER_POD, "critical")),
    ]}


def _subscriptions_missing() -> dict[str, Any]:
    return {"name": "subscriptions-missing", "interval": "15s", "input_series": [
        series("hybridstream_subscriptions_active", HYBRID_POD, "0x20"),
        series("hybridstream_positions_open", HYBRID_POD, "2x20"),
        series("hybridstream_subscriptions_active", OTHER_POD, "0x20"),
        series("hybridstream_positions_open", OTHER_POD, "0x20"),
        series("hybridstream_subscriptions_active", LEGACY_POD, "0x20"),
        series("hybridstream_positions_open", LEGACY_POD, "2x20"),
        *mode(HYBRID_POD, "hybrid", 20), *mode(OTHER_POD, "hybrid", 20),
        *mode(LEGACY_POD, "legacy", 20),
    ], "alert_rule_test": [
        expect("HybridStreamSubscriptionsMissing", "30s"),  # pending: for 1m
        expect("HybridStreamSubscriptionsMissing", "90s", fired(HYBRID_POD, "critical")),
    ]}


def _latency() -> dict[str, Any]:
    # Average = rate(sum)/rate(count): 0.6 s on hybrid-0, 1.2 s on hybrid-1, 5 s on the
    # REST poller (whose latency is its poll interval and never alerts).
    hist = "hybridstream_tick_to_event_seconds"
    return {"name": "latency", "interval": "15s", "input_series": [
        series(f"{hist}_sum", HYBRID_POD, "0+6x60", source="hybrid"),
        series(f"{hist}_count", HYBRID_POD, "0+10x60", source="hybrid"),
        series(f"{hist}_sum", OTHER_POD, "0+12x60", source="hybrid"),
        series(f"{hist}_count", OTHER_POD, "0+10x60", source="hybrid"),
        series(f"{hist}_sum", LEGACY_POD, "0+50x60", source="rest"),
        series(f"{hist}_count", LEGACY_POD, "0+10x60", source="rest"),
    ], "alert_rule_test": [
        expect("HybridStreamLatencyWarning", "4m"),  # pending: for 5m
        expect("HybridStreamLatencyWarning", "10m", fired(HYBRID_POD, "warning", source="hybrid"),
               fired(OTHER_POD, "warning", source="hybrid")),
        expect("HybridStreamLatencyCritical", "10m",
               fired(OTHER_POD, "critical", source="hybrid")),
    ]}


def _divergence() -> dict[str, Any]:
    ratio = "hybridstream_price_divergence_ratio"
    return {"name": "divergence", "interval": "15s", "input_series": [
        series(ratio, HYBRID_POD, "0.0005x8", symbol="BTCUSDT"),
        series(ratio, HYBRID_POD, "0.002x8", symbol="ETHUSDT"),
        series(ratio, HYBRID_POD, "0.02x8", symbol="SOLUSDT"),
    ], "alert_rule_test": [
        expect("HybridStreamPriceDivergenceWarning", "1m",
               fired(HYBRID_POD, "warning", symbol="ETHUSDT"),
               fired(HYBRID_POD, "warning", symbol="SOLUSDT")),
        expect("HybridStreamPriceDivergenceCritical", "1m",
               fired(HYBRID_POD, "critical", symbol="SOLUSDT")),
    ]}


def _memory_growth() -> dict[str, Any]:
    # +0.5 MB/min: 130 MB -> 160 MB in the last hour at 120m (+23 %); +0.1 MB/min is +5.7 %.
    # A process that is not a stream pod (no hybridstream_mode) never counts.
    node = {"job": "node", "instance": "10.0.0.9:9100", "namespace": "kube-system", "pod": "n"}
    rss = "process_resident_memory_bytes"
    return {"name": "memory-growth", "interval": "1m", "input_series": [
        series(rss, HYBRID_POD, "100000000+500000x120"),
        series(rss, OTHER_POD, "100000000+100000x120"),
        series(rss, node, "100000000+1000000x120"),
        *mode(HYBRID_POD, "hybrid", 120), *mode(OTHER_POD, "hybrid", 120),
    ], "alert_rule_test": [
        expect("HybridStreamMemoryGrowthWarning", "30m"),  # no sample an hour back yet
        expect("HybridStreamMemoryGrowthWarning", "120m", fired(HYBRID_POD, "warning")),
    ]}


def _processing_errors() -> dict[str, Any]:
    # One unexpected exception on hybrid-0 at 5m; parse errors (exchange data) do not count.
    errors = "hybridstream_errors_total"
    return {"name": "processing-errors", "interval": "1m", "input_series": [
        series(errors, HYBRID_POD, "0 0 0 0 0 1 1 1 1 1", category="processing"),
        series(errors, OTHER_POD, "0x9", category="processing"),
        series(errors, OTHER_POD, "0+5x9", category="parse"),
    ], "alert_rule_test": [
        expect("HybridStreamProcessingErrors", "3m"),
        expect("HybridStreamProcessingErrors", "7m",
               fired(HYBRID_POD, "critical", category="processing")),
    ]}


def _uncovered() -> dict[str, Any]:
    # The operator's gauge, per rollout (several operator replicas may export it: max).
    gauge = "hybridstream_operator_uncovered_buckets"
    operator = {"job": "operator", "instance": "10.0.1.1:8081"}
    sick = {"namespace": "trading", "rollout": "pos"}
    return {"name": "uncovered", "interval": "15s", "input_series": [
        series(gauge, {**operator, **sick}, "0 0 50x10"),
        series(gauge, {**operator, "namespace": "trading", "rollout": "fine"}, "0x12"),
    ], "alert_rule_test": [
        expect("HybridStreamUncoveredBuckets", "45s"),  # uncovered for 15 s only
        expect("HybridStreamUncoveredBuckets", "75s", {"exp_labels": {
            **sick, "severity": "critical", **RULE_LABELS}}),
    ]}


ALERT_TESTS: list[dict[str, Any]] = [
    _disconnected(), _no_events(), _reconnects(), _subscription_failures(),
    _subscriptions_missing(), _latency(), _divergence(), _memory_growth(), _processing_errors(),
    _uncovered(),
]
