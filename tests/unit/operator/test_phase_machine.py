"""The phase machine, pass by pass: a full walk, every intent, alerts, every breach
action in every phase, restarts replayed from status alone, and the routing invariant
over random interleavings of decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hybridstream.routing import Mode
from hybridstream_operator.logic.phase_machine import decide
from hybridstream_operator.logic.steps import assess_analysis_due
from hybridstream_operator.models.actions import PublishRouting
from hybridstream_operator.models.observations import (
    AlertSignal,
    DeploymentState,
    Intent,
    IntentKind,
    Sample,
)
from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.status import RevisionOutcome, RolloutStatus
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_world import T0, World, make_spec

GOOD, BAD = 1.0, 9.0


def at(phase: Phase, index: int | None = None):
    return lambda s: s.phase is phase and s.step_index == index and s.step_started_at is not None


def walk_to(world: World, phase: Phase, index: int | None = None) -> World:
    world.run_until(at(phase, index))
    return world


def test_full_walk_follows_the_handover_order():
    w = World(make_spec())
    w.run_until(lambda s: s.legacy_retired_at is not None)
    phases = [(h.phase, h.step_index) for h in w.status.history]
    assert phases == [
        (Phase.CANARY, None),
        (Phase.PARALLEL, None),
        (Phase.CUTOVER, 0),
        (Phase.CUTOVER, 1),
        (Phase.PRODUCTION, None),
    ]
    docs = [(d.generation, d.hybrid_mode, d.hybrid_high, d.legacy_low) for d in w.published_docs]
    assert docs == [
        (1, Mode.CANARY, 0, 0),
        (2, Mode.PARALLEL, 0, 0),
        (3, Mode.CUTOVER, 50, 0),
        (4, Mode.CUTOVER, 50, 50),  # h first, then l
        (5, Mode.CUTOVER, 100, 50),
        (6, Mode.CUTOVER, 100, 100),
        (7, Mode.PRODUCTION, 100, 100),
        # revision 1 becomes stable: its pods keep [0, 100) from the other side
        (8, Mode.CANARY, 0, 0),
    ]
    assert [(d.stable_revision, d.candidate_revision) for d in w.published_docs] == \
        [(0, 1)] * 7 + [(1, None)]
    assert w.status.replicas.stable == 1 and w.status.replicas.candidate == 0
    assert w.status.hybrid_percent == 100 and w.status.step_label == "production"
    assert "rollout complete: revision 1 (test) is stable" in w.status.message
    assert w.status.stable_revision.number == 1 and w.status.candidate_revision is None
    assert [(r.number, r.outcome) for r in w.status.revisions] == [
        (0, RevisionOutcome.REPLACED), (1, RevisionOutcome.STABLE)]


def test_each_step_waits_its_duration_from_when_routing_settled():
    w = walk_to(World(make_spec()), Phase.PARALLEL)
    started = w.status.step_started_at
    w.run_until(lambda s: s.phase is Phase.CUTOVER)
    assert w.now - started >= timedelta(seconds=10)


def test_no_promotion_without_a_pass():
    w = walk_to(World(make_spec()), Phase.CANARY)
    for _ in range(30):  # Prometheus down for 30 s: errors, never promoted
        w.step(samples=(Sample("lag", error="connection refused"),))
    assert w.status.phase is Phase.CANARY
    assert "waiting for a passing measurement of lag" in w.status.message
    assert w.status.analysis.metrics[0].errored == 30
    w.step(samples=(Sample("lag", GOOD),))
    assert w.status.phase is Phase.PARALLEL


def test_pause_without_duration_waits_for_promote():
    spec = make_spec(steps={"cutover": [{"percent": 30, "pause": {}}, {"percent": 100}]})
    w = walk_to(World(spec), Phase.CUTOVER, 0)
    for _ in range(50):
        w.step(samples=(Sample("lag", GOOD),))
    assert (w.status.phase, w.status.step_index) == (Phase.CUTOVER, 0)
    assert "waiting for promote" in w.status.message
    w.step(intent=Intent(IntentKind.PROMOTE, "p1"))
    w.run_until(lambda s: s.phase is Phase.PRODUCTION)
    # a step without a pause promotes on its first passing measurement
    assert [h.step_index for h in w.status.history if h.phase is Phase.CUTOVER] == [0, 1]


@pytest.mark.parametrize(
    ("phase", "index"),
    [
        (Phase.CANARY, None),
        (Phase.PARALLEL, None),
        (Phase.CUTOVER, 0),
        (Phase.CUTOVER, 1),
        (Phase.PRODUCTION, None),
    ],
)
def test_breach_rolls_back_in_every_phase(phase, index):
    w = walk_to(World(make_spec()), phase, index)
    w.step(samples=(Sample("lag", BAD),))
    # canary routing is already legacy-only: the rollback may finish in the same pass
    assert Phase.ROLLING_BACK in [h.phase for h in w.status.history]
    failure = w.status.last_failure
    assert (failure.name, failure.value, failure.action) == ("lag", "9", "rollback")
    assert any(e.reason == "AnalysisFailed" and "last value 9" in e.message for e in w.events)
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)
    last = w.published_docs[-1]
    assert (last.hybrid_mode, last.hybrid_high, last.legacy_low) == (Mode.CANARY, 0, 0)
    assert w.status.replicas.stable == 1 and w.status.rollbacks == 1
    for _ in range(40):
        w.step()
    assert w.status.replicas.candidate == 0  # after rollback.scaleDownDelay (30 s)


def test_rolled_back_message_says_when_hybrid_scales_down_then_that_it_did():
    w = walk_to(World(make_spec()), Phase.CANARY)
    w.step(samples=(Sample("lag", BAD),))
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK, value=BAD)
    w.step()  # the pass after the one that finished the rollback reports the timer
    due = w.status.rolled_back_at + timedelta(seconds=30)  # rollback.scaleDownDelay
    assert w.status.message == f"rolled back; hybrid scales down at {due.isoformat()}"
    assert w.status.hybrid_retired_at is None
    w.run_until(lambda s: s.hybrid_retired_at is not None, value=BAD)
    assert w.status.message.startswith("rolled back; hybrid scaled down (")
    assert "scales down" not in w.status.message


def test_rollback_during_the_production_bake_keeps_hybrid_forwarding_until_legacy_acks():
    w = walk_to(World(make_spec()), Phase.PRODUCTION)
    w.frozen.add("legacy")  # legacy pods stop applying documents
    w.step(samples=(Sample("lag", BAD),))
    for _ in range(5):
        w.step()
    last = w.published_docs[-1]
    assert last.legacy_low == 0 and last.hybrid_high == 100  # hybrid keeps forwarding
    assert "legacy pods to apply" in w.status.message
    w.frozen.clear()
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK, value=BAD)
    assert w.status.stable_revision.number == 0


def test_a_complete_rollout_has_nothing_to_roll_back():
    """Once the candidate is stable, a breach, an alert or an abort has no other revision
    to return to (``kubectl hsr undo`` walks an older one): the stable keeps serving."""
    w = World(make_spec())
    w.run_until(lambda s: s.legacy_retired_at is not None)
    published = len(w.published_docs)
    for _ in range(5):
        w.step(samples=(Sample("lag", BAD),))
    w.step(intent=Intent(IntentKind.ABORT, "late-abort"))
    w.step(alerts=(AlertSignal("HybridStreamNoEventsCritical", "late-alert"),))
    assert w.status.phase is Phase.PRODUCTION and w.status.stable_revision.number == 1
    assert len(w.published_docs) == published and w.status.rollbacks == 0
    assert any(e.reason == "IntentIgnored" for e in w.events)


def test_step_back_returns_to_previous_percentage_and_pauses():
    spec = make_spec(
        analysis={
            "metrics": [
                {"name": "lag", "query": "q", "condition": "result < 5", "action": "step-back"}
            ]
        }
    )
    w = walk_to(World(spec), Phase.CUTOVER, 1)
    w.step(samples=(Sample("lag", BAD),))
    assert (w.status.phase, w.status.paused_from, w.status.step_index) == (
        Phase.PAUSED,
        Phase.CUTOVER,
        0,
    )
    for _ in range(5):
        w.step()
    last = w.published_docs[-1]
    assert (last.hybrid_high, last.legacy_low) == (50, 50)
    w.step(intent=Intent(IntentKind.RESUME, "r1"))
    assert (w.status.phase, w.status.step_index) == (Phase.CUTOVER, 0)


@pytest.mark.parametrize("phase", [Phase.CANARY, Phase.PARALLEL])
def test_step_back_without_a_previous_step_holds(phase):
    spec = make_spec(
        analysis={
            "metrics": [
                {"name": "lag", "query": "q", "condition": "result < 5", "action": "step-back"}
            ]
        }
    )
    w = walk_to(World(spec), phase)
    w.step(samples=(Sample("lag", BAD),))
    assert (w.status.phase, w.status.paused_from) == (Phase.PAUSED, phase)


def test_hold_pauses_and_resume_restarts_the_step():
    spec = make_spec(
        analysis={
            "metrics": [{"name": "lag", "query": "q", "condition": "result < 5", "action": "hold"}]
        }
    )
    w = walk_to(World(spec), Phase.PARALLEL)
    w.step(samples=(Sample("lag", BAD),))
    assert w.status.phase is Phase.PAUSED
    for _ in range(30):
        w.step(samples=(Sample("lag", GOOD),))  # paused: guards measured, no progress
    assert w.status.phase is Phase.PAUSED and w.status.analysis.metrics[0].passed == 30
    w.step(samples=(Sample("lag", BAD),))  # a hold while held changes nothing
    assert w.status.phase is Phase.PAUSED and w.status.paused_from is Phase.PARALLEL
    resumed_at = w.now
    w.step(intent=Intent(IntentKind.RESUME, "r"))
    assert w.status.phase is Phase.PARALLEL and w.status.step_started_at == resumed_at


def test_auto_rollback_disabled_only_pauses():
    w = walk_to(World(make_spec(rollback={"auto": False})), Phase.CANARY)
    w.step(samples=(Sample("lag", BAD),))
    assert w.status.phase is Phase.PAUSED and w.status.last_failure.action == "hold"
    before = len(w.events)
    for _ in range(5):  # still failing while paused: no new failure, no Event per pass
        w.step(samples=(Sample("lag", BAD),))
    assert w.status.phase is Phase.PAUSED and len(w.events) == before


PROGRESSING_PHASES = (Phase.CANARY, Phase.PARALLEL, Phase.CUTOVER, Phase.PRODUCTION)
ALL_STARTS = (*PROGRESSING_PHASES, Phase.PAUSED, Phase.ROLLED_BACK)


def expected_after(start: Phase, kind: IntentKind) -> Phase:
    """The intent table of docs/operator.md ("kubectl plugin"), phase by phase (an abort's
    RollingBack may finish within the same pass: reported as RollingBack here)."""
    if kind is IntentKind.ABORT:
        return start if start is Phase.ROLLED_BACK else Phase.ROLLING_BACK
    if kind is IntentKind.PAUSE:
        return Phase.PAUSED if start in PROGRESSING_PHASES else start
    if kind is IntentKind.RESUME:
        return Phase.PARALLEL if start is Phase.PAUSED else start  # paused from Parallel
    if kind is IntentKind.PROMOTE_FULL:
        return start if start is Phase.ROLLED_BACK else Phase.PRODUCTION
    if kind is IntentKind.RETRY:
        return Phase.CANARY if start is Phase.ROLLED_BACK else start
    raise AssertionError(kind)


def reach(start: Phase) -> World:
    """A world whose rollout is in ``start`` (Paused from Parallel; RolledBack by abort)."""
    if start is Phase.PAUSED:
        w = walk_to(World(make_spec()), Phase.PARALLEL)
        w.step(intent=Intent(IntentKind.PAUSE, "setup"))
    elif start is Phase.ROLLED_BACK:
        w = walk_to(World(make_spec()), Phase.CUTOVER, 0)
        w.step(intent=Intent(IntentKind.ABORT, "setup"))
        w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)
    else:
        w = walk_to(World(make_spec()), start, 0 if start is Phase.CUTOVER else None)
    assert w.status.phase is start
    return w


@pytest.mark.parametrize("kind", [k for k in IntentKind if k is not IntentKind.PROMOTE],
                         ids=str)
@pytest.mark.parametrize("start", ALL_STARTS, ids=str)
def test_intents(start, kind):
    """Every intent in every phase it can meet: applied where it has a meaning, recorded as
    consumed and ignored with a Warning everywhere else."""
    w = reach(start)
    before = len(w.events)
    w.step(intent=Intent(kind, "i1", "operator said so"))
    expected = expected_after(start, kind)
    phase = w.status.phase
    if expected is Phase.ROLLING_BACK and start is not Phase.ROLLED_BACK:
        # nothing to hand back from Canary/Parallel/Paused-in-Parallel: done in one pass
        assert phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK)
        assert w.status.last_failure is not None and w.status.last_failure.source == "manual"
    else:
        assert phase is expected
    assert w.status.last_intent_id == "i1"
    ignored = [e for e in w.events[before:] if e.reason == "IntentIgnored"]
    meaningful = expected is not start or (start, kind) == (Phase.PRODUCTION,
                                                            IntentKind.PROMOTE_FULL)
    assert bool(ignored) is not meaningful, (start, kind, w.events[before:])


def test_intent_applies_exactly_once():
    w = walk_to(World(make_spec()), Phase.CANARY)
    intent = Intent(IntentKind.PROMOTE, "once")
    w.step(intent=intent, samples=(Sample("lag", GOOD),))
    assert w.status.phase is Phase.PARALLEL
    w.run_until(at(Phase.PARALLEL))
    for _ in range(3):  # the annotation stays on the object: still one promotion
        w.step(intent=intent, samples=(Sample("lag", GOOD),))
    assert w.status.phase is Phase.PARALLEL


def test_retry_after_rollback_starts_again():
    w = walk_to(World(make_spec()), Phase.CUTOVER, 0)
    w.step(intent=Intent(IntentKind.ABORT, "a"))
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)
    for _ in range(40):
        w.step()
    w.step(intent=Intent(IntentKind.RETRY, "b"))
    assert w.status.phase is Phase.CANARY and w.status.replicas.candidate == 1
    assert w.status.last_failure is None
    w.run_until(lambda s: s.legacy_retired_at is not None)


def test_firing_alert_acts_once_and_only_when_named():
    w = walk_to(World(make_spec()), Phase.CUTOVER, 0)
    w.step(alerts=(AlertSignal("SomethingElse", "x1"),))
    assert w.status.phase is Phase.CUTOVER
    w.step(alerts=(AlertSignal("HybridStreamNoEventsCritical", "x2", "no events for 5m"),))
    assert w.status.phase is Phase.ROLLING_BACK
    assert w.status.last_failure.source == "alert"
    assert "no events for 5m" in w.status.last_failure.message


def test_every_recorded_alert_is_handled_once():
    """Two alerts recorded before one pass: neither is lost, the named one acts, and
    neither acts again while its annotation is still on the object."""
    w = walk_to(World(make_spec()), Phase.CUTOVER, 0)
    alerts = (AlertSignal("SomethingElse", "x1"),
              AlertSignal("HybridStreamDisconnectedCritical", "x2", "socket down"))
    w.step(alerts=alerts)
    assert w.status.phase is Phase.ROLLING_BACK
    assert w.status.handled_alerts == ["x1", "x2"]
    assert "socket down" in w.status.last_failure.message
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)
    w.step(intent=Intent(IntentKind.RETRY, "r"))
    w.step(alerts=alerts)  # the same annotations, seen again after the retry
    assert w.status.phase is Phase.CANARY


def test_an_alert_of_the_walk_rolled_back_does_not_roll_its_retry_back():
    """Alertmanager delivers a group late: a second pod's alert for the first fault,
    started before the retry, arrives after it. It is recorded, not acted on; an alert
    that started firing during the retry still rolls it back."""
    w = walk_to(World(make_spec()), Phase.CUTOVER, 0)
    fault_at = w.now
    w.step(alerts=(AlertSignal("HybridStreamDisconnectedCritical", "pod-a", started_at=fault_at),))
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)
    w.step(intent=Intent(IntentKind.RETRY, "r"))
    assert w.status.walk_started_at == w.status.history[-1].at  # the retry's Canary
    late = AlertSignal("HybridStreamDisconnectedCritical", "pod-b", started_at=fault_at)
    w.step(alerts=(late,))
    assert w.status.phase is Phase.CANARY and "pod-b" in w.status.handled_alerts
    assert any(e.reason == "AlertIgnored" and "before this walk began" in e.message
               for e in w.events), w.events
    fresh = AlertSignal("HybridStreamDisconnectedCritical", "pod-b2", started_at=w.now)
    w.step(alerts=(fresh,))
    assert w.status.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK) and w.status.rollbacks == 2
    assert w.status.last_failure.source == "alert"


def test_republishes_when_the_configmap_is_lost():
    w = walk_to(World(make_spec()), Phase.CUTOVER, 0)
    gen = w.published.generation
    w.published = None
    d = w.step()
    pubs = [a.document for a in d.actions if isinstance(a, PublishRouting)]
    assert pubs[0].generation == gen + 1 and pubs[0].hybrid_high == 50


def test_never_retires_legacy_while_hybrid_is_unhealthy():
    w = walk_to(World(make_spec()), Phase.PRODUCTION)
    w.now += timedelta(seconds=60)
    obs = w.observations(
        hybrid=DeploymentState(exists=True, desired=1, ready=0, available=0),
        samples=(Sample("lag", GOOD),),
    )
    status = decide(w.spec, w.status, obs, w.now).status
    assert status.legacy_retired_at is None and status.replicas.stable == 1


def test_analysis_due_from_status_timestamps():
    spec = make_spec()
    status = RolloutStatus(phase=Phase.CANARY)
    assert assess_analysis_due(spec, status, T0)
    status.analysis.last_run_at = T0
    assert not assess_analysis_due(spec, status, T0 + timedelta(milliseconds=500))
    assert assess_analysis_due(spec, status, T0 + timedelta(seconds=1))
    assert not assess_analysis_due(spec, RolloutStatus(phase=Phase.PAUSED), T0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=5, max_size=120), st.integers(0, 200))
def test_replaying_a_pass_from_persisted_status_is_idempotent(choices, kill_at):
    """A restart re-runs a pass from the last persisted status: deciding twice on the same
    status and observations gives the same result (nothing is doubled or skipped)."""
    w = World(make_spec())
    for i, c in enumerate(choices):
        samples = (Sample("lag", BAD if c == 0 else GOOD),) if c < 8 else None
        obs = w.observations(samples=samples)
        first = decide(w.spec, w.status, obs, w.now)
        again = decide(w.spec, w.status, obs, w.now)
        assert first == again
        if i == kill_at:
            continue  # "crash" before the status was persisted: the pass is lost
        w.step(samples=samples)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "good",
                "bad",
                "pause",
                "resume",
                "abort",
                "retry",
                "promote",
                "freeze-legacy",
                "freeze-hybrid",
                "thaw",
                "tick",
            ]
        ),
        min_size=1,
        max_size=150,
    )
)
def test_pods_never_apply_a_gap_under_any_decision_sequence(ops):
    """l <= h holds for every published generation and for what the pods applied, through
    random intents, verdicts and pod lag."""
    w = World(make_spec())
    for n, op in enumerate(ops):
        kind = {
            "pause": IntentKind.PAUSE,
            "resume": IntentKind.RESUME,
            "abort": IntentKind.ABORT,
            "retry": IntentKind.RETRY,
            "promote": IntentKind.PROMOTE,
        }.get(op)
        if op.startswith("freeze-"):
            w.frozen.add(op.split("-")[1])
        elif op == "thaw":
            w.frozen.clear()
        w.step(
            seconds=3,
            intent=Intent(kind, str(n)) if kind else None,
            samples=(Sample("lag", BAD if op == "bad" else GOOD),),
        )
        applied = {d.generation: d for d in w.published_docs}
        legacy = applied.get(w.legacy_applied)
        hybrid = applied.get(w.hybrid_applied)
        if legacy is not None and hybrid is not None:
            assert legacy.legacy_low <= hybrid.effective_hybrid_high
        for doc in w.published_docs:
            assert doc.legacy_low <= doc.effective_hybrid_high


def test_progress_deadline_rolls_back_a_step_that_never_takes_effect():
    w = walk_to(World(make_spec(steps={"progressDeadline": "30s"})), Phase.PARALLEL)
    w.frozen.add("hybrid")  # hybrid pods stop acknowledging (crash-looping, say)
    for _ in range(40):
        w.step(samples=(Sample("lag", GOOD),))
        if w.status.phase is not Phase.CUTOVER and w.status.phase is not Phase.PARALLEL:
            break
    assert Phase.ROLLING_BACK in [h.phase for h in w.status.history]
    assert w.status.last_failure.name == "progress-deadline"
    assert "waiting for hybrid pods" in w.status.last_failure.message
    # legacy still acks: the rollback completes without hybrid
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)


def test_a_named_pilot_moves_before_any_percentage():
    spec = make_spec(steps={"cutover": [
        {"percent": 0, "symbols": ["BTCUSDT"], "pause": {"duration": "10s"}},
        {"percent": 100, "pause": {"duration": "10s"}}]})
    w = walk_to(World(spec), Phase.CUTOVER, 0)
    assert w.status.step_label == "cutover 1/2 (0% + 1 symbol)"
    pilot = [(d.hybrid_mode, sorted(d.hybrid_symbols), sorted(d.legacy_except))
             for d in w.published_docs if d.hybrid_symbols or d.legacy_except]
    assert pilot == [(Mode.CUTOVER, ["BTCUSDT"], []), (Mode.CUTOVER, ["BTCUSDT"], ["BTCUSDT"])]
    w.run_until(lambda s: s.legacy_retired_at is not None)
    last = w.published_docs[-1]
    assert not last.hybrid_symbols and not last.legacy_except  # the name is moot at 100 %


def test_a_lost_configmap_is_republished_with_the_named_symbols_and_revisions():
    """The mirror in status holds the whole document: republishing it mid-pilot must not
    drop ``hybridSymbols``/``legacyExcept`` at once (pods applying it at different times
    would leave the named symbols to nobody)."""
    spec = make_spec(steps={"cutover": [
        {"percent": 0, "symbols": ["BTCUSDT"], "pause": {"duration": "10s"}},
        {"percent": 100, "pause": {"duration": "10s"}}]})
    w = walk_to(World(spec), Phase.CUTOVER, 0)
    lost = w.published
    assert lost.legacy_except == {"BTCUSDT"}
    w.published = None
    d = w.step()
    (again,) = [a.document for a in d.actions if isinstance(a, PublishRouting)]
    assert again == lost.model_copy(update={"generation": lost.generation + 1})
