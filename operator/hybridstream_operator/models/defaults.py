"""Default analysis: the seed plan's thresholds and success criteria as PromQL over the
stream's metrics (docs/CONTRACTS.md), enforced by themselves with no tuning.

* **Guards** are the thresholds (seed 000 "Alert Thresholds" / "Rollback Plan"): breached,
  they act at once: warnings hold, criticals roll back.
* **Gates** are the success criteria (seed 001): unmet, they hold the step's end; they only
  count as failures after a warm-up (``GATE_WARMUP``), so a minute-old pod is never judged
  on a five-minute rate.

Every query is scoped and windowed when it runs (``logic/queries.py``): ``$selector`` is this
rollout's candidate pods (the ``hybridstream_namespace``/``hybridstream_rollout``/
``hybridstream_revision`` labels every stream pod exports, plus ``spec.analysis.selector``),
``$stable_selector`` the stable revision's pods, ``$window`` the current step's age (at least
``MIN_WINDOW``, at most the metric's ``window``), so neither another team's stream nor the
previous step or a failed attempt counts; ``$age`` (the step's age in seconds) clamps
durations such as "disconnected for" so that they count from the step's start too.

Pod filters, shared with the chart's PrometheusRule (templates/prometheusrule.yaml):

* socket, subscription and event checks count only pods whose ``hybridstream_mode{role=
  "hybrid"}`` is 1 and that are scraped now: legacy (rest-mode) pods export socket gauges
  that never connect, and pods that are gone (a rolled-back attempt) no longer count;
* questions about events only apply while some hybrid pod holds an open position (an idle
  account legitimately hears nothing): they return no data then, which is
  ``notApplicable``: neither pass nor block.
"""

from __future__ import annotations

from typing import Any

_HYBRID = 'source="hybrid",$selector'
#: ``and`` these per-pod series to keep only hybrid-role pods / pods with open positions.
HYBRID_POD = 'on(job, instance) (hybridstream_mode{role="hybrid",$selector} == 1)'
WITH_POSITIONS = "on(job, instance) (hybridstream_positions_open{$selector} > 0)"
_ANY_POSITION = f"on() (max(hybridstream_positions_open{{$selector}} and {HYBRID_POD}) > 0)"


def _while_positions(expr: str, missing: str) -> str:
    """``expr`` (``missing`` when it has no data yet) while a hybrid pod holds a position;
    no data (not applicable) on an idle account."""
    return f"(({expr}) or on() vector({missing})) and {_ANY_POSITION}"


# Durations are clamped to the step's age ($age): a socket that went down, or went silent,
# before the step began (a retry right after the failed attempt) counts from the step on.
_DISCONNECTED = (
    f"clamp_max(max(hybridstream_ws_disconnected_seconds{{$selector}} and {HYBRID_POD}), $age)"
)
# Seconds since the stalest hybrid pod with open positions saw an event, measured now.
_EVENT_AGE = (
    f"clamp_max(max((time() - hybridstream_last_event_timestamp_seconds{{{_HYBRID}}})"
    f" and {WITH_POSITIONS}), $age)"
)
# The same age as of each pod's last scrape (scrape time minus last event time), so that
# the scrape interval itself cannot fail a "< 10 s" gate.
_EVENT_AGE_AT_SCRAPE = (
    f"max((timestamp(hybridstream_last_event_timestamp_seconds{{{_HYBRID}}})"
    f" - hybridstream_last_event_timestamp_seconds{{{_HYBRID}}}) and {WITH_POSITIONS})"
)
# Mean exchange-tick-to-merged-event latency of hybrid pods, forwarded or not.
_LATENCY = (
    f"sum(rate(hybridstream_tick_to_event_seconds_sum{{{_HYBRID}}}[$window])) / "
    f"(sum(rate(hybridstream_tick_to_event_seconds_count{{{_HYBRID}}}[$window])) > 0)"
)
_AGREEMENT = (
    'sum(increase(hybridstream_price_comparisons_total{result="agree",$selector}[$window])) / '
    "(sum(increase(hybridstream_price_comparisons_total{$selector}[$window])) > 0)"
)
_EVENTS_PER_MINUTE = f"sum(rate(hybridstream_events_total{{{_HYBRID}}}[$window])) * 60"
# Hybrid's mean latency over legacy's mean staleness: a price change waits half a poll
# interval for the REST poller on average. The stable revision's pods poll only in the
# first walk (revision 0); beside a hybrid stable revision the gate has no data: n.a.
_STABLE_POLL = "min(hybridstream_poll_interval_seconds{$stable_selector} > 0)"
_FASTER = f"({_LATENCY}) / ({_STABLE_POLL} / 2)"
_COUNT = "sum(increase({series}{{$selector}}[$window]) and {pods})"
_RECONNECTS = _COUNT.format(series="hybridstream_ws_reconnects_total", pods=HYBRID_POD)
_SUBSCRIPTION_FAILURES = _COUNT.format(series="hybridstream_subscription_failures_total",
                                       pods=HYBRID_POD)
_PROCESSING_ERRORS = (
    'sum(increase(hybridstream_errors_total{category="processing",$selector}[$window]))'
)
# Hybrid pods whose positions have had no ticker subscription for 30 s (prices frozen).
_POSITIONS_WITHOUT_SUBSCRIPTIONS = (
    "count((max_over_time(hybridstream_subscriptions_active{$selector}[30s]) == 0)"
    " and on(job, instance) (min_over_time(hybridstream_positions_open{$selector}[30s]) > 0)"
    f" and {HYBRID_POD})"
)
# A pod's resident memory against its own an hour ago (pods under an hour old: no data).
_MEMORY_GROWTH = (
    "max(delta(process_resident_memory_bytes{$selector}[1h]) / "
    "(process_resident_memory_bytes{$selector} offset 1h))"
)

_CANARY, _PARALLEL = ["Canary"], ["Parallel"]


def _guard(name: str, query: str, condition: str, action: str, no_data: str, *,
           window: str = "5m", phases: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "kind": "guard", "query": query, "condition": condition,
            "action": action, "noData": no_data, "window": window,
            **({"phases": phases} if phases else {})}


def _gate(name: str, query: str, condition: str, phases: list[str], *,
          window: str = "5m") -> dict[str, Any]:
    return {"name": name, "kind": "gate", "query": query, "condition": condition,
            "action": "hold", "noData": "notApplicable", "window": window, "phases": phases}


#: Default ``spec.analysis.metrics`` as plain dicts (validated by the Metric model).
DEFAULT_METRICS: list[dict[str, Any]] = [
    _guard("disconnected-warning", _DISCONNECTED, "result <= 30", "hold", "inconclusive"),
    _guard("disconnected-critical", _DISCONNECTED, "result <= 120", "rollback", "inconclusive"),
    _guard("no-events-warning", _EVENT_AGE, "result <= 60", "hold", "notApplicable"),
    _guard("no-events-critical", _EVENT_AGE, "result <= 300", "rollback", "notApplicable"),
    _guard("reconnects-per-hour", _RECONNECTS, "result <= 5", "step-back", "pass", window="1h"),
    _guard("subscription-failures-warning", _SUBSCRIPTION_FAILURES, "result <= 5", "hold",
           "pass", window="1h"),
    _guard("subscription-failures-critical", _SUBSCRIPTION_FAILURES, "result <= 10",
           "rollback", "pass", window="1h"),
    _guard("positions-without-subscriptions", _POSITIONS_WITHOUT_SUBSCRIPTIONS, "result == 0",
           "rollback", "pass"),
    _guard("latency-warning", _LATENCY, "result <= 0.5", "hold", "pass"),
    _guard("latency-critical", _LATENCY, "result <= 1", "rollback", "pass"),
    _guard("divergence-warning", "max(hybridstream_price_divergence_ratio{$selector})",
           "result <= 0.001", "hold", "pass", phases=_PARALLEL),
    _guard("divergence-critical", "max(hybridstream_price_divergence_ratio{$selector})",
           "result <= 0.01", "rollback", "pass", phases=_PARALLEL),
    _guard("memory-growth-per-hour", _MEMORY_GROWTH, "result <= 0.2", "hold", "pass", window="1h"),
    _guard("processing-errors", _PROCESSING_ERRORS, "result < 1", "rollback", "pass", window="1h"),
    _gate("canary-events-per-minute", _while_positions(_EVENTS_PER_MINUTE, "0"),
          "result >= 60", _CANARY),
    _gate("canary-last-update-age", _while_positions(_EVENT_AGE_AT_SCRAPE, "Inf"),
          "result < 10", _CANARY),
    _gate("hybrid-faster-than-legacy",
          f"{_while_positions(_FASTER, '1')} and on() ({_STABLE_POLL})", "result < 1",
          [*_CANARY, *_PARALLEL]),
    _gate("price-agreement", _while_positions(_AGREEMENT, "0"), "result >= 0.999", _PARALLEL,
          window="10m"),
]

#: Alert names (the chart's PrometheusRule) that roll back at once when they fire.
DEFAULT_ALERT_NAMES = [
    "HybridStreamDisconnectedCritical",
    "HybridStreamNoEventsCritical",
    "HybridStreamSubscriptionFailuresCritical",
    "HybridStreamPriceDivergenceCritical",
    "HybridStreamProcessingErrors",
]
