"""Gates wait, guards act: every kind, verdict and phase (and warm-up) combination.

One metric ``m`` whose single measurement per pass is good, bad, empty (inconclusive or not
applicable, by its no-data policy) or a query error. A guard rolls back on a failure in
every progressing phase and while paused; a gate only holds the step's end during its
warm-up, holds (pauses) once it is over, and is not measured while paused. A step ends
only when each metric's latest result is a pass or not applicable. (The inconclusive limit,
which holds after 10 empty results by default, is raised here to keep the cases apart.)"""

from __future__ import annotations

import pytest
from hybridstream_operator.models.observations import Intent, IntentKind, Sample
from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.status import Verdict
from rollout_world import World, make_spec

STEPS = [(Phase.CANARY, None), (Phase.PARALLEL, None), (Phase.CUTOVER, 0),
         (Phase.CUTOVER, 1), (Phase.PRODUCTION, None)]
OUTCOMES = {
    "pass": (Sample("m", 1.0), "inconclusive", Verdict.PASS),
    "fail": (Sample("m", 9.0), "inconclusive", Verdict.FAIL),
    "no-data": (Sample("m", None), "inconclusive", Verdict.INCONCLUSIVE),
    "not-applicable": (Sample("m", None), "notApplicable", Verdict.NOT_APPLICABLE),
    "error": (Sample("m", error="HTTP 503"), "inconclusive", Verdict.ERROR),
}
WARMUP, STEP = 4, 10  # seconds
# Canary's routing is already the rollback's: it completes in the same pass.
ROLLED = (Phase.ROLLING_BACK, Phase.ROLLED_BACK)


def world(kind: str, no_data: str) -> World:
    metric = {"name": "m", "query": "q", "condition": "result < 5", "kind": kind,
              "noData": no_data, "action": "rollback" if kind == "guard" else "hold",
              "warmup": f"{WARMUP}s", "inconclusiveLimit": 100}
    duration = {"duration": f"{STEP}s"}
    return World(make_spec(steps={"canary": duration, "parallel": duration,
                                  "cutover": [{"percent": 50, "pause": duration},
                                              {"percent": 100, "pause": duration}],
                                  "production": duration},
                           analysis={"metrics": [metric]}))


def reach(w: World, phase: Phase, index: int | None) -> None:
    """Walk (on passing measurements) until ``(phase, index)``'s routing is in force."""
    w.run_until(lambda s: (s.phase, s.step_index) == (phase, index)
                and s.step_started_at is not None, metric="m")


def measure(w: World, sample: Sample, seconds: int) -> None:
    for _ in range(seconds):
        w.step(samples=(sample,))


@pytest.mark.parametrize(("phase", "index"), STEPS)
@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("warm", [True, False], ids=["in-warmup", "after-warmup"])
def test_guard(phase, index, outcome, warm):
    sample, no_data, verdict = OUTCOMES[outcome]
    w = world("guard", no_data)
    reach(w, phase, index)
    if not warm:
        measure(w, Sample("m", 1.0), WARMUP + 1)
    w.step(samples=(sample,))
    # a guard acts at once; given a warm-up (none by default), a failure in it only holds
    if verdict is Verdict.FAIL and not warm:
        assert w.status.phase in ROLLED
        assert w.status.last_failure.name == "m"
    elif verdict is Verdict.FAIL:
        assert (w.status.phase, w.status.step_index) == (phase, index)
        assert w.status.analysis.metrics[0].held == 1
    else:
        assert (w.status.phase, w.status.step_index) == (phase, index)
        assert w.status.analysis.metrics[0].last_verdict is verdict


@pytest.mark.parametrize(("phase", "index"), STEPS)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_gate_during_warmup_only_holds_the_steps_end(phase, index, outcome):
    sample, no_data, verdict = OUTCOMES[outcome]
    w = world("gate", no_data)
    reach(w, phase, index)
    w.step(samples=(sample,))
    counts = w.status.analysis.metrics[0]
    assert (w.status.phase, w.status.step_index) == (phase, index)
    assert counts.failed == 0 and counts.held == (verdict is Verdict.FAIL)
    assert counts.last_verdict is verdict


@pytest.mark.parametrize(("phase", "index"), STEPS)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_gate_after_warmup(phase, index, outcome):
    sample, no_data, verdict = OUTCOMES[outcome]
    w = world("gate", no_data)
    reach(w, phase, index)
    measure(w, sample, STEP + 2)  # past the warm-up and past the step's duration
    moved_on = (w.status.phase, w.status.step_index) != (phase, index)
    if verdict is Verdict.FAIL:  # unmet after its warm-up: held for a human
        assert w.status.phase is Phase.PAUSED and w.status.paused_from is phase
        assert w.status.last_failure.action == "hold"
    elif verdict in (Verdict.PASS, Verdict.NOT_APPLICABLE):
        # the step ends (production's end: legacy retired)
        assert moved_on or w.status.legacy_retired_at is not None, w.status.message
    else:  # no evidence: the step waits, forever if need be, without a breach
        assert (w.status.phase, w.status.step_index) == (phase, index), w.status.message
        assert "measurement of m" in w.status.message  # waiting for evidence


def test_not_applicable_is_said_in_the_step_message():
    w = world("gate", "notApplicable")
    reach(w, Phase.CANARY, None)
    w.step(samples=(Sample("m", None),))
    assert "not applicable: m" in w.status.message


@pytest.mark.parametrize(("phase", "index"), STEPS)
@pytest.mark.parametrize("kind", ["gate", "guard"])
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_while_paused_only_guards_are_measured_and_only_rollback_acts(phase, index, kind,
                                                                      outcome):
    sample, no_data, verdict = OUTCOMES[outcome]
    w = world(kind, no_data)
    reach(w, phase, index)
    w.step(intent=Intent(IntentKind.PAUSE, "p"))
    assert w.status.phase is Phase.PAUSED
    measure(w, sample, 3)
    if kind == "gate":
        assert w.status.phase is Phase.PAUSED and w.status.analysis.metrics == []
    elif verdict is Verdict.FAIL:
        assert w.status.phase in ROLLED
    else:
        assert w.status.phase is Phase.PAUSED
        assert w.status.analysis.metrics[0].last_verdict is verdict
