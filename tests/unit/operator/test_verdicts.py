"""Analysis verdicts: conditions, no-data policies, cumulative and consecutive limits, and
the promotion gate that never passes on zero measurements."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hybridstream_operator.logic.verdicts import (
    Breach,
    assess_breach,
    assess_gate,
    assess_sample,
    build_metric_status,
    format_value,
    parse_condition,
    worst,
)
from hybridstream_operator.models.observations import Sample
from hybridstream_operator.models.spec import BreachAction, Metric
from hybridstream_operator.models.status import MetricStatus, Verdict

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def metric(**kw) -> Metric:
    return Metric.model_validate({"name": "m", "query": "q", "condition": "result < 5", **kw})


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("result < 5", 4.9, Verdict.PASS),
        ("result < 5", 5, Verdict.FAIL),
        ("result <= 5", 5, Verdict.PASS),
        ("result > 0.999", 0.9991, Verdict.PASS),
        ("result >= 60", 59, Verdict.FAIL),
        ("result == 0", 0, Verdict.PASS),
        ("result != 0", 0, Verdict.FAIL),
        ("result < 1e-3", 0.0005, Verdict.PASS),
    ],
)
def test_conditions(condition, value, expected):
    assert assess_sample(metric(condition=condition), Sample("m", value)) is expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("pass", Verdict.PASS), ("fail", Verdict.FAIL), ("inconclusive", Verdict.INCONCLUSIVE)],
)
@pytest.mark.parametrize("value", [None, math.nan])
def test_no_data_policy(policy, expected, value):
    assert assess_sample(metric(noData=policy), Sample("m", value)) is expected


def test_error_is_its_own_verdict_whatever_the_policy():
    sample = Sample("m", error="connection refused")
    assert assess_sample(metric(noData="pass"), sample) is Verdict.ERROR
    assert format_value(sample) == "error: connection refused"


def test_invalid_condition_is_rejected():
    with pytest.raises(ValueError, match="invalid condition"):
        parse_condition("value < 5")
    with pytest.raises(ValueError):
        metric(condition="rm -rf")


def run(verdicts: list[Verdict]) -> MetricStatus:
    status = MetricStatus(name="m")
    for v in verdicts:
        status = build_metric_status(status, v, "1", NOW)
    return status


P, F, INC, E = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.ERROR


def test_counters_are_separate_and_consecutive_resets():
    s = run([P, F, F, E, INC, P, F])
    assert (s.passed, s.failed, s.inconclusive, s.errored) == (2, 3, 1, 1)
    assert s.consecutive_failed == 1 and s.last_verdict is F


@pytest.mark.parametrize(
    ("kw", "verdicts", "action"),
    [
        ({"action": "hold"}, [P], None),
        ({"action": "hold"}, [F], BreachAction.HOLD),
        ({"action": "step-back", "failureLimit": 2}, [F, P, F], None),
        ({"action": "step-back", "failureLimit": 2}, [F, P, F, P, F], BreachAction.STEP_BACK),
        ({"action": "rollback", "failureLimit": 10, "consecutiveFailureLimit": 1}, [F, P, F], None),
        (
            {"action": "rollback", "failureLimit": 10, "consecutiveFailureLimit": 1},
            [F, F],
            BreachAction.ROLLBACK,
        ),
        # no data is not evidence of harm: it holds even when the metric's action is rollback
        ({"action": "rollback", "inconclusiveLimit": 1}, [INC, INC], BreachAction.HOLD),
        ({"action": "rollback", "inconclusiveLimit": 1}, [INC, P], None),
        # errors never act on their own: the gate holds progression instead
        ({"action": "rollback"}, [E, E, E, E, E, E], None),
    ],
)
def test_limits(kw, verdicts, action):
    breach = assess_breach(metric(**kw), run(verdicts))
    assert (breach.action if breach else None) is action
    if breach:
        assert breach.metric == "m" and "(result < 5 expected)" in breach.message


def test_worst_prefers_rollback():
    bs = [
        Breach("a", BreachAction.HOLD, None, ""),
        Breach("b", BreachAction.ROLLBACK, None, ""),
        Breach("c", BreachAction.STEP_BACK, None, ""),
    ]
    assert worst(bs).metric == "b"
    assert worst([]) is None


def test_gate_never_promotes_on_zero_passes():
    m = metric()
    assert assess_gate([m], {}) == "waiting for a passing measurement of m"
    assert "waiting" in assess_gate([m], {"m": run([E, E])})
    assert assess_gate([m], {"m": run([P, E])}) == "latest measurement of m is error"
    assert assess_gate([m], {"m": run([E, P])}) is None
    assert assess_gate([], {}) is None
