"""The coverage watchdog: which buckets have no forwarder (pure), and what the phase machine
does when a side that alone owns buckets has no Ready, acked pod for longer than
``steps.coverageDeadline``: a dead hybrid rolls back, a dead legacy's buckets go to hybrid
until legacy serves again; a shorter outage, or one nobody can cover, changes nothing."""

from __future__ import annotations

import pytest
from hybridstream.routing import FORWARDING_MODES, Mode, Role, RoutingDocument
from hybridstream_operator.logic.coverage import assess_coverage
from hybridstream_operator.models.observations import Acks
from hybridstream_operator.models.phases import Phase
from rollout_world import World, make_spec


def doc(mode: Mode, high: int, low: int) -> RoutingDocument:
    return RoutingDocument(generation=3, hybridMode=mode, hybridHigh=high, legacyLow=low)


UP, UNACKED, GONE = Acks((3, 2)), Acks((-1,)), Acks(())


@pytest.mark.parametrize(("document", "legacy", "hybrid", "uncovered", "down"), [
    (doc(Mode.CANARY, 0, 0), UP, UP, 0, None),
    (doc(Mode.CANARY, 0, 0), GONE, UP, 100, Role.LEGACY),  # hybrid does not forward
    (doc(Mode.CANARY, 0, 0), UP, GONE, 0, None),
    (doc(Mode.CUTOVER, 50, 50), UP, GONE, 50, Role.HYBRID),
    (doc(Mode.CUTOVER, 50, 50), UNACKED, UP, 50, Role.LEGACY),  # Ready but never applied
    (doc(Mode.CUTOVER, 50, 50), GONE, GONE, 100, Role.HYBRID),
    (doc(Mode.CUTOVER, 50, 10), UP, GONE, 10, Role.HYBRID),  # mid-handover: [10,50) shared
    (doc(Mode.CUTOVER, 50, 10), GONE, UP, 50, Role.LEGACY),
    (doc(Mode.PRODUCTION, 100, 100), GONE, UP, 0, None),  # legacy retired: owns nothing
    (doc(Mode.PRODUCTION, 100, 100), UP, GONE, 100, Role.HYBRID),
    (doc(Mode.PARALLEL, 100, 0), GONE, UP, 100, Role.LEGACY),  # not forwarding: h is 0
])
def test_uncovered_buckets(document, legacy, hybrid, uncovered, down):
    found = assess_coverage(document, legacy, hybrid)
    assert (found.uncovered, found.down) == (uncovered, down)


def walk_to(w: World, phase: Phase, index: int | None = None) -> None:
    w.run_until(lambda s: s.phase is phase and s.step_index == index
                and s.step_started_at is not None)


def assert_always_covered_in_documents(w: World) -> None:
    assert all(d.legacy_low <= d.effective_hybrid_high or d.legacy_low == 0
               or d.hybrid_mode not in FORWARDING_MODES for d in w.published_docs)


def test_dead_hybrid_mid_cutover_rolls_back_after_the_deadline():
    w = World(make_spec(steps={"coverageDeadline": "5s"}))
    walk_to(w, Phase.CUTOVER, 0)
    w.down.add("hybrid")
    for _ in range(5):
        w.step()
        assert w.status.phase is Phase.CUTOVER
        assert w.status.coverage.uncovered_buckets == 50
    w.step()
    assert w.status.phase is Phase.ROLLING_BACK
    failure = w.status.last_failure
    assert (failure.source, failure.name, failure.value, failure.action) == (
        "coverage", "uncovered-buckets", "50", "rollback")
    assert "no Ready hybrid pod" in failure.message
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)
    assert w.published.legacy_low == 0 and w.status.coverage.uncovered_buckets == 0
    assert_always_covered_in_documents(w)


def test_a_shorter_outage_changes_nothing():
    w = World(make_spec(steps={"coverageDeadline": "5s"}))
    walk_to(w, Phase.CUTOVER, 0)
    w.down.add("hybrid")
    for _ in range(4):
        w.step()
    w.down.clear()
    w.step()
    assert w.status.coverage.uncovered_buckets == 0
    assert w.status.coverage.uncovered_since is None
    w.down.add("hybrid")  # a new outage starts its own clock
    for _ in range(4):
        w.step()
    assert w.status.phase is Phase.CUTOVER and w.status.last_failure is None


def test_a_dead_stable_after_the_walk_is_reported_with_nowhere_to_hand_over():
    """After Production the stable revision alone serves: losing its pods uncovers every
    bucket, which status, the metric and the alert say; there is no other side to take
    them (the REST fallback inside the pods is the cover, docs/delivery.md)."""
    w = World(make_spec(steps={"coverageDeadline": "3s"}))
    w.run_until(lambda s: s.legacy_retired_at is not None)
    w.down.add("legacy")  # the stable side: revision 1's pods
    for _ in range(6):
        w.step()
    assert w.status.coverage.uncovered_buckets == 100
    assert w.status.phase is Phase.PRODUCTION and w.status.rollbacks == 0
    w.down.clear()
    w.step()
    assert w.status.coverage.uncovered_buckets == 0


def test_dead_legacy_hands_its_buckets_to_hybrid_until_it_serves_again():
    w = World(make_spec(steps={"coverageDeadline": "5s"}))
    walk_to(w, Phase.CUTOVER, 0)
    w.down.add("legacy")
    for _ in range(6):
        w.step()
    assert w.status.phase is Phase.PAUSED and w.status.coverage.hybrid_covers_legacy
    assert w.status.last_failure.action == "handover"
    w.step()
    covering = w.published
    assert (covering.hybrid_mode, covering.hybrid_high, covering.legacy_low) == (
        Mode.CUTOVER, 100, 50)
    assert w.status.coverage.uncovered_buckets == 0  # hybrid forwards them now
    events = len(w.events)
    for _ in range(10):
        w.step()
    assert len(w.events) == events  # acted once
    w.down.clear()
    w.run_until(lambda s: not s.coverage.hybrid_covers_legacy, limit=5)
    w.run_until(lambda s: s.routing.hybrid_high == 50, limit=5)
    assert [e.reason for e in w.events].count("CoverageRestored") == 1
    assert w.status.phase is Phase.PAUSED  # a human resumes
    assert_always_covered_in_documents(w)


def test_a_new_rollouts_legacy_starting_slower_than_hybrid_is_no_outage():
    """Hybrid's first pod serves before legacy's and legacy takes longer than the coverage
    deadline to start (the likely cause of first walks stuck on a loaded CI machine): the
    healthy walk used to pause in Canary. A side that never served is starting, not lost:
    reported, not acted on."""
    w = World(make_spec(steps={"coverageDeadline": "3s"}))
    w.down.add("legacy")
    for _ in range(8):
        w.step()
    assert w.status.coverage.uncovered_buckets == 100  # still said
    assert not w.status.coverage.hybrid_covers_legacy and w.status.last_failure is None
    w.down.clear()
    walk_to(w, Phase.CUTOVER, 0)
    assert w.status.coverage.legacy_served and w.status.last_failure is None
    w.down.add("legacy")  # once it served, losing it is an outage again
    w.run_until(lambda s: s.coverage.hybrid_covers_legacy, limit=6)
    assert w.status.phase is Phase.PAUSED


def test_dead_legacy_in_canary_makes_hybrid_forward_everything():
    w = World(make_spec(steps={"coverageDeadline": "2s"}))
    walk_to(w, Phase.CANARY)
    w.down.add("legacy")
    w.run_until(lambda s: s.coverage.hybrid_covers_legacy, limit=5)
    w.step()
    assert (w.published.hybrid_mode, w.published.effective_hybrid_high) == (Mode.CUTOVER, 100)


def test_nobody_to_cover_reports_without_acting_or_flooding():
    w = World(make_spec(steps={"coverageDeadline": "2s"}))
    walk_to(w, Phase.CANARY)
    w.down.update({"legacy", "hybrid"})
    events = len(w.events)
    for _ in range(20):
        w.step()
    assert w.status.coverage.uncovered_buckets == 100
    assert not w.status.coverage.hybrid_covers_legacy and w.status.phase is Phase.CANARY
    assert len(w.events) == events


def test_auto_rollback_off_only_pauses():
    w = World(make_spec(steps={"coverageDeadline": "2s"}, rollback={"auto": False}))
    walk_to(w, Phase.CUTOVER, 1)
    w.down.add("hybrid")
    w.run_until(lambda s: s.phase is Phase.PAUSED, limit=5)
    assert w.status.last_failure.action == "hold"
