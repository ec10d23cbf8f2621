"""Default analysis from the seed plan's thresholds, as PromQL over the stream's metrics
(docs/CONTRACTS.md). ``$selector`` is replaced by ``spec.analysis.selector`` so a user can
scope every default query to one rollout's pods (e.g. ``namespace="trading"``).

Warnings hold progression; critical thresholds roll back (seed 000 "Rollback Plan":
automatic rollback when events stop for 5 minutes, >10 subscription failures an hour, or
price divergence above 1 %).

The pod filters are the chart's PrometheusRule's (templates/prometheusrule.yaml), so the
operator's analysis and the alerts agree on what is unhealthy:

* socket and subscription checks count only pods whose ``hybridstream_mode{role="hybrid"}``
  is 1 — legacy (rest-mode) pods export socket gauges that never connect, so their
  ``hybridstream_ws_disconnected_seconds`` grows forever;
* "no events" counts only pods with ``hybridstream_positions_open > 0`` — an idle account
  legitimately receives nothing. When no hybrid pod has a position the age is 0 (pass);
  when no hybrid pod reports at all it is no data.

``role`` is a label of the ``hybridstream_mode`` series itself (the stream sets it), and
``job``/``instance`` identify one scraped pod, so ``on(job, instance)`` joins per pod.
"""

from __future__ import annotations

from typing import Any

_HYBRID = 'source="hybrid",$selector'
#: ``and`` these per-pod series to keep only hybrid-role pods / pods with open positions.
HYBRID_POD = 'on(job, instance) (hybridstream_mode{role="hybrid",$selector} == 1)'
WITH_POSITIONS = "on(job, instance) (hybridstream_positions_open{$selector} > 0)"
_DISCONNECTED = f"max(hybridstream_ws_disconnected_seconds{{$selector}} and {HYBRID_POD})"
# Seconds since the stalest hybrid pod with open positions saw an event; 0 when no hybrid pod
# holds a position (nothing to hear about); no data when no hybrid pod reports at all.
_EVENT_AGE = (
    f"max((time() - hybridstream_last_event_timestamp_seconds{{{_HYBRID}}}) and {WITH_POSITIONS})"
    f" or on() (max(hybridstream_positions_open{{$selector}} and {HYBRID_POD}) == 0)"
)
_LATENCY = (
    f"sum(rate(hybridstream_tick_to_emit_seconds_sum{{{_HYBRID}}}[5m])) / "
    f"sum(rate(hybridstream_tick_to_emit_seconds_count{{{_HYBRID}}}[5m]))"
)
_AGREEMENT = (
    'sum(increase(hybridstream_price_comparisons_total{result="agree",$selector}[10m])) / '
    "sum(increase(hybridstream_price_comparisons_total{$selector}[10m]))"
)

# name, query, condition, action, noData, phases (None: every progressing phase)
_TABLE: list[tuple[str, str, str, str, str, list[str] | None]] = [
    (
        "disconnected-warning",
        _DISCONNECTED,
        "result <= 30",
        "hold",
        "inconclusive",
        None,
    ),
    (
        "disconnected-critical",
        _DISCONNECTED,
        "result <= 120",
        "rollback",
        "inconclusive",
        None,
    ),
    (
        "no-events-warning",
        _EVENT_AGE,
        "result <= 60",
        "hold",
        "inconclusive",
        None,
    ),
    (
        "no-events-critical",
        _EVENT_AGE,
        "result <= 300",
        "rollback",
        "inconclusive",
        None,
    ),
    (
        "reconnects-per-hour",
        "sum(increase(hybridstream_ws_reconnects_total{$selector}[1h]))",
        "result <= 5",
        "step-back",
        "pass",
        None,
    ),
    (
        "subscription-failures-warning",
        "sum(increase(hybridstream_subscription_failures_total{$selector}[1h]))",
        "result <= 5",
        "hold",
        "pass",
        None,
    ),
    (
        "subscription-failures-critical",
        "sum(increase(hybridstream_subscription_failures_total{$selector}[1h]))",
        "result <= 10",
        "rollback",
        "pass",
        None,
    ),
    (
        "positions-without-subscriptions",
        # hybrid pods with open positions and no ticker subscription (prices frozen)
        f"count((hybridstream_subscriptions_active{{$selector}} == 0) and {WITH_POSITIONS}"
        f" and {HYBRID_POD})",
        "result == 0",
        "rollback",
        "pass",
        None,
    ),
    ("latency-warning", _LATENCY, "result <= 0.5", "hold", "pass", None),
    ("latency-critical", _LATENCY, "result <= 1", "rollback", "pass", None),
    (
        "divergence-warning",
        "max(hybridstream_price_divergence_ratio{$selector})",
        "result <= 0.001",
        "hold",
        "pass",
        ["Parallel", "Cutover", "Production"],
    ),
    (
        "divergence-critical",
        "max(hybridstream_price_divergence_ratio{$selector})",
        "result <= 0.01",
        "rollback",
        "pass",
        ["Parallel", "Cutover", "Production"],
    ),
    ("price-agreement", _AGREEMENT, "result >= 0.999", "hold", "inconclusive", ["Parallel"]),
    (
        "memory-growth-per-hour",
        "max(delta(process_resident_memory_bytes{$selector}[1h]) / "
        "(process_resident_memory_bytes{$selector} offset 1h))",
        "result <= 0.2",
        "hold",
        "pass",
        None,
    ),
    (
        "canary-events-per-minute",
        f"sum(rate(hybridstream_events_total{{{_HYBRID}}}[5m])) * 60",
        "result >= 60",
        "hold",
        "inconclusive",
        ["Canary"],
    ),
    (
        "canary-last-update-age",
        _EVENT_AGE,
        "result < 10",
        "hold",
        "inconclusive",
        ["Canary"],
    ),
]

#: Default ``spec.analysis.metrics`` as plain dicts (validated by the Metric model).
DEFAULT_METRICS: list[dict[str, Any]] = [
    {
        "name": name,
        "query": query,
        "condition": cond,
        "action": action,
        "noData": no_data,
        **({"phases": phases} if phases else {}),
    }
    for name, query, cond, action, no_data, phases in _TABLE
]

#: Alert names (the chart's PrometheusRule) that roll back at once when they fire.
DEFAULT_ALERT_NAMES = [
    "HybridStreamDisconnectedCritical",
    "HybridStreamNoEventsCritical",
    "HybridStreamSubscriptionFailuresCritical",
    "HybridStreamPriceDivergenceCritical",
]
