"""Analysis verdicts: a query result becomes pass / fail / inconclusive / error, counted
separately per metric and step, with cumulative and consecutive limits (argo-rollouts'
``assessMetricStatus``, without its habit of promoting on zero measurements)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from hybridstream_operator.models.observations import Sample
from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.spec import BreachAction, Metric, NoDataPolicy
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
    previous: MetricStatus, verdict: Verdict, value: str, at: datetime
) -> MetricStatus:
    """Counters after one more measurement."""
    failed = verdict is Verdict.FAIL
    errored = verdict is Verdict.ERROR
    return previous.model_copy(
        update={
            "passed": previous.passed + (verdict is Verdict.PASS),
            "failed": previous.failed + failed,
            "inconclusive": previous.inconclusive + (verdict is Verdict.INCONCLUSIVE),
            "errored": previous.errored + errored,
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


def applicable(metrics: Iterable[Metric], phase: Phase) -> list[Metric]:
    """Metrics measured in ``phase``."""
    return [m for m in metrics if phase in m.phases]


def assess_gate(metrics: list[Metric], counts: dict[str, MetricStatus]) -> str | None:
    """Why a step may not be promoted yet, or None. A step is never promoted on zero
    passes: every metric needs at least one pass and a passing latest measurement."""
    for metric in metrics:
        status = counts.get(metric.name)
        if status is None or status.passed == 0:
            return f"waiting for a passing measurement of {metric.name}"
        if status.last_verdict is not Verdict.PASS:
            return f"latest measurement of {metric.name} is {status.last_verdict}"
    return None
