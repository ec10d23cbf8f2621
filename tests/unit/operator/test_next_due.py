"""``Decision.next_at``: when the rollout's next pass is due with nothing watched changing,
phase by phase, and a whole walk driven by wake-ups alone (a pass when a timer falls due or
when the previous pass changed something) reaching the same end as one pass a second."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hybridstream_operator.logic.phase_machine import decide
from hybridstream_operator.logic.steps import assess_analysis_due
from hybridstream_operator.models.observations import Intent, IntentKind, Sample
from hybridstream_operator.models.phases import Phase
from rollout_world import World, make_spec

NO_METRICS = {"metrics": []}


def settle(w: World, phase: Phase, index: int | None = None) -> World:
    """Walk to ``phase`` with its step started, then one more pass (the idle state)."""
    w.run_until(lambda s: s.phase is phase and s.step_index == index
                and s.step_started_at is not None)
    w.step(0)
    return w


def next_at(w: World, **obs):
    return decide(w.spec, w.status, w.observations(**obs), w.now).next_at


def test_a_timed_step_is_due_at_its_end():
    w = settle(World(make_spec(analysis=NO_METRICS)), Phase.CANARY)
    assert next_at(w) == w.status.step_started_at + timedelta(seconds=10)


def test_the_step_message_does_not_change_while_it_runs():
    w = settle(World(make_spec(analysis=NO_METRICS)), Phase.CANARY)
    before = w.status.model_dump()
    w.step(3)
    w.step(3)
    assert w.status.model_dump() == before  # an idle pass writes nothing
    assert "ends at 2026-01-01T00:00:" in w.status.message


def test_the_next_analysis_comes_before_a_later_step_end():
    w = settle(World(make_spec()), Phase.CANARY)
    w.step(0, samples=(Sample("lag", 1.0),))
    assert next_at(w) == w.status.analysis.last_run_at + timedelta(seconds=1)


def test_an_overdue_analysis_is_due_now():
    w = settle(World(make_spec()), Phase.CANARY)
    w.now += timedelta(seconds=5)
    assert next_at(w) == w.now


def test_a_step_waiting_for_promote_has_no_timer():
    spec = make_spec(steps={"cutover": [{"percent": 30, "pause": {}}, {"percent": 100}]},
                     analysis=NO_METRICS)
    w = settle(World(spec), Phase.CUTOVER, 0)
    assert "waiting for promote" in w.status.message
    assert next_at(w) is None


def test_a_handover_in_flight_is_due_at_the_progress_deadline():
    w = World(make_spec(analysis=NO_METRICS))
    w.frozen.add("hybrid")  # hybrid never acks: the Canary step cannot start
    for _ in range(3):
        w.step()
    assert w.status.phase is Phase.CANARY and w.status.step_started_at is None
    assert next_at(w) == w.status.phase_started_at + timedelta(minutes=10)


def test_an_uncovered_side_is_due_at_the_coverage_deadline():
    spec = make_spec(analysis=NO_METRICS, steps={"canary": {"duration": "10m"}})
    w = settle(World(spec), Phase.CANARY)
    w.down.add("legacy")  # legacy forwards every bucket in Canary
    w.step(0)
    assert w.status.coverage.uncovered_since == w.now
    assert next_at(w) == w.now + timedelta(seconds=20)  # steps.coverageDeadline


def test_paused_without_metrics_has_no_timer():
    w = settle(World(make_spec(analysis=NO_METRICS)), Phase.CANARY)
    w.step(0, intent=Intent(IntentKind.PAUSE, "p"))
    assert w.status.phase is Phase.PAUSED
    assert next_at(w) is None


def test_rolled_back_is_due_at_the_scale_down_then_never():
    w = settle(World(make_spec(analysis=NO_METRICS)), Phase.CANARY)
    w.step(intent=Intent(IntentKind.ABORT, "a"))
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)
    w.step(0)
    assert next_at(w) == w.status.rolled_back_at + timedelta(seconds=30)
    w.run_until(lambda s: s.hybrid_retired_at is not None)
    assert next_at(w) is None


def test_a_complete_rollout_has_no_timer():
    w = World(make_spec(analysis=NO_METRICS))
    w.run_until(lambda s: s.legacy_retired_at is not None)
    w.step(0)
    assert next_at(w) is None


@pytest.mark.parametrize("analysis", [NO_METRICS, {}], ids=["timers-only", "with-analysis"])
def test_a_walk_driven_by_wake_ups_alone_completes_like_one_pass_a_second(analysis):
    """Pods apply every document at once, so the only inputs are timers: a pass runs when
    the last one changed the status, else at ``next_at``. Any timer ``next_at`` missed would
    leave the walk stuck (no pass ever due again)."""
    ticked = World(make_spec(analysis=analysis))
    ticked.run_until(lambda s: s.legacy_retired_at is not None)
    woken = World(make_spec(analysis=analysis))
    passes = 0
    while woken.status.legacy_retired_at is None:
        passes += 1
        assert passes < 500, woken.status.message
        before = woken.status.model_dump()
        due = assess_analysis_due(woken.spec, woken.status, woken.now)
        decision = woken.step(0, samples=(Sample("lag", 1.0),) if due else None)
        if woken.status.model_dump() == before:
            assert decision.next_at is not None, f"stuck: {woken.status.message}"
            woken.now = decision.next_at
    assert [(h.phase, h.step_index) for h in woken.status.history] == \
        [(h.phase, h.step_index) for h in ticked.status.history]


def test_a_side_down_past_the_coverage_deadline_is_not_due_again_and_again():
    """After the watchdog acted (or could not), the outage waits for pods, which are
    watched: a timer due at once would make every pass due at once, a busy loop of reads."""
    spec = make_spec(analysis=NO_METRICS, steps={"canary": {"duration": "10m"}})
    w = settle(World(spec), Phase.CANARY)
    w.down.update({"legacy", "hybrid"})  # nothing serves: the watchdog cannot hand over
    w.step(0)
    w.step(25)
    w.step(0)
    assert w.status.coverage.uncovered_since is not None
    assert w.now - w.status.coverage.uncovered_since > timedelta(seconds=20)
    found = next_at(w)
    assert found is None or found > w.now, (found, w.now, w.status.message)
