"""The operator's own Prometheus metrics, on a private registry (the stream's metrics live
in another process; tests may run both in one)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.status import RolloutStatus, Verdict

REGISTRY = CollectorRegistry()
_LABELS = ("namespace", "rollout")

PHASE = Gauge("hybridstream_operator_rollout_phase", "1 for the rollout's current phase",
              [*_LABELS, "phase"], registry=REGISTRY)
TRANSITIONS = Counter("hybridstream_operator_transitions_total", "phase transitions",
                      [*_LABELS, "phase"], registry=REGISTRY)
ROLLBACKS = Counter("hybridstream_operator_rollbacks_total", "rollbacks started",
                    _LABELS, registry=REGISTRY)
MEASUREMENTS = Counter("hybridstream_operator_analysis_measurements_total",
                       "analysis measurements by verdict", [*_LABELS, "metric", "verdict"],
                       registry=REGISTRY)
RECONCILE_ERRORS = Counter("hybridstream_operator_reconcile_errors_total",
                           "reconcile passes that raised", _LABELS, registry=REGISTRY)
REFUSED = Counter("hybridstream_operator_webhook_refused_total",
                  "webhook requests refused (unauthorized, malformed, unknown rollout...)",
                  ["endpoint", "reason"], registry=REGISTRY)
STATUS_CONFLICTS = Counter("hybridstream_operator_status_conflicts_total",
                           "status writes lost to a concurrent writer (409)", _LABELS,
                           registry=REGISTRY)
UNCOVERED = Gauge("hybridstream_operator_uncovered_buckets",
                  "routing buckets (of 100) that no Ready, acked stream pod forwards",
                  _LABELS, registry=REGISTRY)
RECONCILE_SECONDS = Histogram("hybridstream_operator_reconcile_seconds",
                              "duration of one reconcile pass", registry=REGISTRY)


def record_pass(namespace: str, rollout: str, before: RolloutStatus, after: RolloutStatus,
                verdicts: Iterable[tuple[str, Verdict]]) -> None:
    """Update the metrics from what one persisted pass changed."""
    for phase in Phase:
        PHASE.labels(namespace, rollout, phase.value).set(1 if after.phase is phase else 0)
    UNCOVERED.labels(namespace, rollout).set(after.coverage.uncovered_buckets)
    new = after.transitions - before.transitions
    for entry in after.history[max(0, len(after.history) - new):] if new > 0 else []:
        TRANSITIONS.labels(namespace, rollout, entry.phase.value).inc()
        if entry.phase is Phase.ROLLING_BACK:
            ROLLBACKS.labels(namespace, rollout).inc()
    for metric, verdict in verdicts:
        MEASUREMENTS.labels(namespace, rollout, metric, verdict.value).inc()
