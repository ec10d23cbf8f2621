"""Analysis verdicts: a query result becomes pass / fail / inconclusive / error, counted
separately per metric and step, with cumulative and consecutive limits (argo-rollouts'
``assessMetricStatus``, without its habit of promoting on zero measurements)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hybridstream_operator.models.observations import Sample
from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.spec import BreachAction, Metric, MetricKind, NoDataPolicy
from hybridstream_operator.models.status import MetricStatus, Verdict

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*result\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
_SEVERITY = {BreachAction.HOLD: 0, BreachAction.STEP_BACK: 1, BreachAction.ROLLBACK: 2}


def parse_condition(condition: str) -> tuple[Callable[[float, float], bool], float]:
    """``"result <= 30"`` → ``(operator.le, 30.0)``."""
    match = _CONDITION.match(condition)
    if match is None:
        raise ValueError(f"invalid condition {condition!r}: use 'result <op> <number>'")
    return _OPS[match.group(1)], float(match.group(2))


def assess_sample(metric: Metric, sample: Sample) -> Verdict:
    """The verdict of one measurement under the metric's condition and no-data policy."""
    if sample.error is not None:
        return Verdict.ERROR
    if sample.value is None or math.isnan(sample.value):
        return {
            NoDataPolicy.PASS: Verdict.PASS,
            NoDataPolicy.FAIL: Verdict.FAIL,
            NoDataPolicy.INCONCLUSIVE: Verdict.INCONCLUSIVE,
            NoDataPolicy.NOT_APPLICABLE: Verdict.NOT_APPLICABLE,
        }[metric.no_data]
    op, threshold = parse_condition(metric.condition)
    return Verdict.PASS if op(sample.value, threshold) else Verdict.FAIL


def format_value(sample: Sample) -> str:
    """A short, secret-free rendering of a sample for status and Events."""
    if sample.error is not None:
        return f"error: {sample.error[:200]}"
    if sample.value is None or math.isnan(sample.value):
        return "no data"
    return f"{sample.value:.6g}"


def build_metric_status(
    previous: MetricStatus, verdict: Verdict, value: str, at: datetime, *, warming: bool = False
) -> MetricStatus:
    """Counters after one more measurement. ``warming``: the metric is in its warm-up, so
    a fail is counted as ``held`` (it holds the step's end) rather than as a failure."""
    held = verdict is Verdict.FAIL and warming
    failed = verdict is Verdict.FAIL and not warming
    errored = verdict is Verdict.ERROR
    return previous.model_copy(
        update={
            "passed": previous.passed + (verdict is Verdict.PASS),
            "failed": previous.failed + failed,
            "held": previous.held + held,
            "inconclusive": previous.inconclusive + (verdict is Verdict.INCONCLUSIVE),
            "errored": previous.errored + errored,
            "not_applicable": previous.not_applicable + (verdict is Verdict.NOT_APPLICABLE),
            "consecutive_failed": previous.consecutive_failed + 1 if failed else 0,
            "consecutive_errored": previous.consecutive_errored + 1 if errored else 0,
            "last_verdict": verdict,
            "last_value": value,
            "last_measured_at": at,
        }
    )


@dataclass(frozen=True)
class Breach:
    """A metric over one of its limits."""

    metric: str
    action: BreachAction
    value: str | None
    message: str


def assess_breach(metric: Metric, counts: MetricStatus) -> Breach | None:
    """Whether the metric's counters crossed a limit, and what to do about it."""
    message = None
    action = metric.action
    if counts.failed > metric.failure_limit:
        message = f"failed {counts.failed} times (limit {metric.failure_limit})"
    elif (
        metric.consecutive_failure_limit is not None
        and counts.consecutive_failed > metric.consecutive_failure_limit
    ):
        message = (
            f"failed {counts.consecutive_failed} times in a row "
            f"(limit {metric.consecutive_failure_limit})"
        )
    elif counts.inconclusive > metric.inconclusive_limit:
        # no data is not evidence of harm: hold, whatever the metric's action
        message = f"inconclusive {counts.inconclusive} times (limit {metric.inconclusive_limit})"
        action = BreachAction.HOLD
    if message is None:
        return None
    return Breach(
        metric.name,
        action,
        counts.last_value,
        f"metric {metric.name} {message}; last value {counts.last_value} "
        f"({metric.condition} expected)",
    )


def worst(breaches: Iterable[Breach]) -> Breach | None:
    """The breach with the strongest action (rollback > step-back > hold)."""
    return max(breaches, key=lambda b: _SEVERITY[b.action], default=None)


def applicable(metrics: Iterable[Metric], phase: Phase, *, paused: bool = False) -> list[Metric]:
    """Metrics measured in ``phase``; while paused in it, only its guards (a held rollout
    is still rolled back by a critical threshold; its gates have nothing to promote)."""
    return [m for m in metrics
            if phase in m.phases and not (paused and m.kind is MetricKind.GATE)]


def assess_warming(metric: Metric, step_started_at: datetime | None, now: datetime) -> bool:
    """Whether ``metric`` is in its warm-up: a step that has not started (routing not in
    force yet) or started less than ``warmup`` ago. Only gates have a warm-up by default."""
    if metric.warmup_period <= timedelta(0):
        return False
    return step_started_at is None or now - step_started_at < metric.warmup_period


def assess_gate(metrics: list[Metric], counts: dict[str, MetricStatus]) -> str | None:
    """Why a step may not be promoted yet, or None. A step is never promoted on zero
    evidence: every metric needs at least one pass (or, for a question that does not apply,
    such as events on an idle account, a not-applicable result) and a latest measurement
    that is one of those two."""
    settled = (Verdict.PASS, Verdict.NOT_APPLICABLE)
    for metric in metrics:
        status = counts.get(metric.name)
        if status is None or status.passed + status.not_applicable == 0:
            return f"waiting for a passing measurement of {metric.name}"
        if status.last_verdict not in settled:
            return f"latest measurement of {metric.name} is {status.last_verdict}"
    return None


def describe_not_applicable(counts: Iterable[MetricStatus]) -> str | None:
    """``"not applicable: a, b"`` for metrics whose latest result did not apply."""
    names = [c.name for c in counts if c.last_verdict is Verdict.NOT_APPLICABLE]
    return f"not applicable: {', '.join(names)}" if names else None
