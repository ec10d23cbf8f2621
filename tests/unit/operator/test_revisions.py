"""Revisions: every change of ``spec.workload`` is a walk between the stable revision and a
candidate, in every phase, and no sequence of spec changes, rollbacks and retries ever
leaves a bucket without a forwarder among the pods that applied the routing."""

from __future__ import annotations

import pytest
from hybridstream.hybrid.decisions import build_forward_range
from hybridstream.routing import INITIAL, Role, RoutingDocument
from hybridstream_operator.logic.builders import plan_retirements
from hybridstream_operator.logic.revisions import (
    UndoRefused,
    adopt_revision,
    build_record,
    choose_undo_target,
    image_tag,
    revision_hash,
)
from hybridstream_operator.models.observations import Intent, IntentKind, Sample
from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.spec import RolloutSpec
from hybridstream_operator.models.status import (
    REVISION_HISTORY_LIMIT,
    RevisionOutcome,
    RolloutStatus,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_world import T0, World, make_spec

GOOD, BAD = 1.0, 9.0


def with_image(spec: RolloutSpec, image: str, **workload: object) -> RolloutSpec:
    body = spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    body["workload"] = {**body["workload"], "image": image, **workload}
    return RolloutSpec.model_validate(body)


def complete(w: World) -> World:
    """Run until no walk is in flight (a pass first: a spec just changed starts one)."""
    w.step(samples=(Sample("lag", GOOD),))
    w.run_until(lambda s: s.phase is Phase.PRODUCTION and s.candidate_revision is None
                and s.step_started_at is not None)
    return w


def at(phase: Phase, index: int | None = None):
    return lambda s: s.phase is phase and s.step_index == index and s.step_started_at is not None


# -- the pure pieces -----------------------------------------------------------------------
def test_a_revision_is_the_pod_inputs_without_replicas():
    spec = make_spec()
    scaled = with_image(spec, spec.workload.image, replicas={"legacy": 3, "hybrid": 5})
    assert revision_hash(spec.workload) == revision_hash(scaled.workload)
    for changed in (with_image(spec, "hybridstream:v2"),
                    with_image(spec, spec.workload.image, env=[{"name": "X", "value": "1"}]),
                    with_image(spec, spec.workload.image, network="testnet")):
        assert revision_hash(changed.workload) != revision_hash(spec.workload)
    # the poller and the first hybrid revision run one spec, yet are two revisions
    assert revision_hash(spec.workload, legacy=True) != revision_hash(spec.workload)


@pytest.mark.parametrize(("image", "tag"), [
    ("hybridstream:v1.2", "v1.2"), ("registry:5000/team/hs:2026.1", "2026.1"),
    ("registry:5000/team/hs", "latest"), ("hs@sha256:0123456789abcdef0123", "0123456789ab")])
def test_image_tags(image: str, tag: str):
    assert image_tag(image) == tag


def test_a_spec_seen_before_keeps_its_number_and_history_is_bounded():
    status = RolloutStatus()
    spec = make_spec()
    status.revisions = [build_record(0, spec.workload, T0), build_record(1, spec.workload, T0)]
    numbers = [adopt_revision(status, with_image(spec, f"hs:v{i}").workload, T0).number
               for i in range(2, 20)]
    assert numbers == list(range(2, 20))
    assert len(status.revisions) == REVISION_HISTORY_LIMIT
    assert adopt_revision(status, with_image(spec, "hs:v19").workload, T0).number == 19
    assert adopt_revision(status, with_image(spec, "hs:v20").workload, T0).number == 20


def test_retired_revisions_scale_to_zero_while_remembered_then_go():
    idle = {"r-hybrid-1": (1, 2), "r-hybrid-2": (2, 0), "r-legacy": (0, 2), "r-hybrid": (None, 1)}
    to_zero, to_delete = plan_retirements(idle, remembered={0, 1, 2})
    assert sorted(to_zero) == ["r-hybrid-1", "r-legacy"] and to_delete == ["r-hybrid"]
    assert plan_retirements(idle, remembered={2}) == ([], ["r-hybrid-1", "r-legacy", "r-hybrid"])


# -- walks ---------------------------------------------------------------------------------
def test_a_change_after_production_walks_again_beside_the_stable_revision():
    w = complete(World(make_spec()))
    first_docs = len(w.published_docs)
    w.spec = with_image(w.spec, "hybridstream:v2")
    w.step()
    assert (w.status.phase, w.status.candidate_revision.label) == (Phase.CANARY, "2 (v2)")
    assert w.status.stable_revision.number == 1
    assert any(e.reason == "RevisionStarted" for e in w.events)
    # stable's pods keep every bucket and their replicas until the new walk completes
    while w.status.candidate_revision is not None:
        assert w.status.stable_revision.number == 1 and w.status.replicas.stable == 1
        w.step(samples=(Sample("lag", GOOD),))
    walk = [(d.hybrid_mode.value, d.hybrid_high, d.legacy_low, d.stable_revision,
             d.candidate_revision) for d in w.published_docs[first_docs:]]
    assert walk == [
        ("canary", 0, 0, 1, 2), ("parallel", 0, 0, 1, 2), ("cutover", 50, 0, 1, 2),
        ("cutover", 50, 50, 1, 2), ("cutover", 100, 50, 1, 2), ("cutover", 100, 100, 1, 2),
        ("production", 100, 100, 1, 2), ("canary", 0, 0, 2, None)]
    assert [(r.number, r.outcome) for r in w.status.revisions] == [
        (0, RevisionOutcome.REPLACED), (1, RevisionOutcome.REPLACED),
        (2, RevisionOutcome.STABLE)]
    assert w.status.legacy_retired_at is not None  # from the first walk
    assert any(e.reason == "RevisionReplaced" for e in w.events)


def test_every_document_says_where_the_stable_revisions_status_is():
    """Parallel compares the candidate's prices with stable's: every document names
    stable's Service at stable's own port (the legacy poller's in the first walk; revision
    1's while revision 2, on another port, walks; revision 2's once it is stable)."""
    w = World(make_spec())
    w.run_until(lambda s: s.phase is Phase.PARALLEL)
    assert (w.published.stable_revision, w.published.stable_status) == (0, "pos-stable:8080")
    complete(w)
    w.spec = with_image(w.spec, "hybridstream:v2", metricsPort=9090)
    first_docs = len(w.published_docs)
    complete(w)
    named = {(d.hybrid_mode.value, d.stable_revision, d.stable_status)
             for d in w.published_docs[first_docs:]}
    assert ("parallel", 1, "pos-stable:8080") in named
    assert {(rev, where) for _, rev, where in named} == {(1, "pos-stable:8080"),
                                                        (2, "pos-stable:9090")}
    assert w.status.routing.stable_status == "pos-stable:9090"  # the mirror, whole


def test_a_document_published_before_stable_status_existed_is_republished_with_it():
    """An operator upgraded mid-walk: the ConfigMap names the revisions but not where
    stable's status is; it is republished once (a new generation the pods ack)."""
    w = World(make_spec())
    w.run_until(at(Phase.PARALLEL))
    old = w.published.model_copy(update={"stable_status": None})
    w.published = old
    w.status.routing = w.status.routing.model_copy(update={"stable_status": None})
    w.step(samples=(Sample("lag", GOOD),))
    assert w.published.generation == old.generation + 1
    assert w.published == old.model_copy(update={"generation": old.generation + 1,
                                                 "stable_status": "pos-stable:8080"})
    w.step(samples=(Sample("lag", GOOD),))
    assert w.published.generation == old.generation + 1  # once


def test_the_completing_document_follows_the_published_one_when_status_lags():
    """Killed after publishing Production but before writing status: the status mirror is a
    generation behind the ConfigMap. Completion must still number its document after the
    one the pods applied (the same number twice was a regression the restart test found)."""
    w = World(make_spec())
    w.run_until(lambda s: s.phase is Phase.PRODUCTION and s.step_started_at is not None)
    production = w.published
    assert production.hybrid_mode.value == "production"
    w.status.routing = w.status.routing.model_copy(
        update={"generation": production.generation - 1})  # the lost status write
    complete(w)
    swap = w.published_docs[-1]
    assert (swap.hybrid_mode.value, swap.stable_revision) == ("canary", 1)
    assert swap.generation == production.generation + 1
    gens = [d.generation for d in w.published_docs]
    assert gens == sorted(set(gens))


def test_a_policy_change_is_not_a_revision():
    w = complete(World(make_spec()))
    w.spec = make_spec(steps={"canary": {"duration": "1h"}},
                       workload={"image": "hybridstream:test", "credentialsSecret": {
                           "name": "creds"}, "replicas": {"legacy": 1, "hybrid": 4}})
    for _ in range(3):
        w.step()
    assert w.status.candidate_revision is None and len(w.status.revisions) == 2
    assert w.status.replicas.stable == 4  # scaling the stable revision is not a walk


@pytest.mark.parametrize("where", [
    at(Phase.CANARY), at(Phase.PARALLEL), at(Phase.CUTOVER, 0), at(Phase.CUTOVER, 1),
    at(Phase.PRODUCTION),
    # mid-handover: hybrid holds [0, 50) and legacy has not given up [0, 50) yet
    lambda s: s.routing.hybrid_high == 50 and s.routing.legacy_low == 0
    and s.phase is Phase.CUTOVER])
def test_a_change_mid_walk_hands_the_buckets_back_then_walks_the_newest_spec(where):
    w = complete(World(make_spec()))
    w.spec = with_image(w.spec, "hybridstream:v2")
    w.run_until(lambda s: s.candidate_revision is not None and where(s))
    w.spec = with_image(w.spec, "hybridstream:v3")
    w.step()
    # (in Canary and Parallel stable already holds every bucket: back within the pass)
    assert w.status.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK)
    assert "superseded" in w.status.history[-1 if w.status.phase is Phase.ROLLING_BACK
                                            else -2].reason
    w.run_until(lambda s: s.phase is Phase.CANARY)
    assert w.status.candidate_revision.label == "3 (v3)"
    assert [(r.number, r.outcome) for r in w.status.revisions][-2:] == [
        (2, RevisionOutcome.SUPERSEDED), (3, None)]
    # the newest spec's walk only began once stable held every bucket again
    rolled_back = next(d for d in reversed(w.published_docs) if d.candidate_revision == 2)
    assert (rolled_back.legacy_low, rolled_back.effective_hybrid_high) == (0, 0)
    complete(w)
    assert w.status.stable_revision.number == 3


def test_a_change_mid_first_walk_returns_to_legacy_then_walks_the_new_image():
    w = World(make_spec())
    w.run_until(at(Phase.CUTOVER, 0))
    w.spec = with_image(w.spec, "hybridstream:fix")
    w.run_until(lambda s: s.phase is Phase.CANARY and s.candidate_revision.number == 2)
    assert w.status.stable_revision.number == 0 and w.status.rollbacks == 1
    complete(w)
    assert w.status.stable_revision.label == "2 (fix)"


def test_rollback_keeps_the_failed_candidate_and_retry_walks_it_again():
    w = complete(World(make_spec()))
    w.spec = with_image(w.spec, "hybridstream:v2")
    w.run_until(at(Phase.CUTOVER, 0))
    w.step(samples=(Sample("lag", BAD),))
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK, value=BAD)
    record = w.status.revisions[-1]
    assert (record.number, record.outcome) == (2, RevisionOutcome.ROLLED_BACK)
    assert record.failure is not None and record.failure.value == "9"
    assert w.status.stable_revision.number == 1
    assert w.published_docs[-1].stable_revision == 1
    w.run_until(lambda s: s.hybrid_retired_at is not None, value=BAD)
    assert w.status.replicas.candidate == 0 and w.status.replicas.stable == 1
    w.step(intent=Intent(IntentKind.RETRY, "retry-1"))
    assert (w.status.phase, w.status.candidate_revision.number) == (Phase.CANARY, 2)
    assert w.status.revisions[-1].outcome is None
    complete(w)
    assert w.status.stable_revision.number == 2


def test_reverting_the_spec_to_stable_abandons_the_candidate():
    w = complete(World(make_spec()))
    stable_spec = w.spec
    w.spec = with_image(w.spec, "hybridstream:v2")
    w.run_until(at(Phase.PARALLEL))
    w.spec = stable_spec
    w.run_until(lambda s: s.phase is Phase.ROLLED_BACK)
    w.run_until(lambda s: "nothing to roll out" in s.message, limit=5)
    assert w.status.candidate_revision is None and w.status.stable_revision.number == 1
    assert w.status.replicas.candidate == 0


# -- undo ----------------------------------------------------------------------------------
def test_undo_targets():
    w = World(make_spec())
    w.step()
    with pytest.raises(UndoRefused, match="legacy REST poller"):
        choose_undo_target(w.status, None)  # mid first walk: stable is the poller
    complete(w)
    with pytest.raises(UndoRefused, match="no hybrid revision was stable before"):
        choose_undo_target(w.status, None)
    with pytest.raises(UndoRefused, match="already stable"):
        choose_undo_target(w.status, 1)
    w.spec = with_image(w.spec, "hybridstream:v2")
    complete(w)
    assert choose_undo_target(w.status, None).number == 1  # the previous stable
    assert choose_undo_target(w.status, 1).workload.image == "hybridstream:test"
    with pytest.raises(UndoRefused, match="not in history"):
        choose_undo_target(w.status, 7)
    w.spec = with_image(w.spec, "hybridstream:v3")
    w.step()
    assert choose_undo_target(w.status, None).number == 2  # mid-walk: back to stable


def test_undo_to_revision_one_walks_it_as_the_candidate_under_its_number():
    w = complete(World(make_spec()))
    w.spec = with_image(w.spec, "hybridstream:v2")
    complete(w)
    target = choose_undo_target(w.status, 1)
    w.spec = w.spec.model_copy(update={"workload": target.workload})
    w.step()
    assert (w.status.phase, w.status.candidate_revision.label) == (Phase.CANARY, "1 (test)")
    complete(w)
    assert w.status.stable_revision.number == 1 and len(w.status.revisions) == 3


# -- the invariant, under any sequence -----------------------------------------------------
def covered(w: World, docs: dict[int, RoutingDocument]) -> set[int]:
    """Buckets forwarded by the Ready pods of the stable and candidate revisions, each under
    the document it applied last."""
    buckets: set[int] = set()
    sides = [(w.status.stable_revision, w.observations().legacy),
             (w.status.candidate_revision, w.observations().hybrid)]
    for ref, state in sides:
        if ref is None or not state.ready:
            continue
        doc = docs[w.applied.get(ref.number, 0)]  # pods start from the initial document
        natural = Role.LEGACY if ref.number == 0 else Role.HYBRID
        low, high = build_forward_range(doc, doc.side_of(natural, ref.number))
        buckets |= set(range(low, high))
    return buckets


OPS = st.sampled_from(["good", "good", "good", "bad", "v2", "v3", "v1", "retry", "abort",
                       "promote-full", "freeze-legacy", "freeze-hybrid", "thaw"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(OPS, st.integers(1, 25)), min_size=1, max_size=25))
def test_no_bucket_is_ever_without_a_forwarder(ops):
    base = make_spec()
    w = World(base)
    docs: dict[int, RoutingDocument] = {0: INITIAL}
    passes = 0
    for op, repeat in ops:
        if op in ("v1", "v2", "v3"):
            w.spec = base if op == "v1" else with_image(base, f"hybridstream:{op}")
        elif op in ("retry", "abort", "promote-full"):
            w.step(intent=Intent(IntentKind(op), f"{op}-{passes}"))
        elif op.startswith("freeze"):
            w.frozen.add(op.split("-")[1])
        elif op == "thaw":
            w.frozen.clear()
        for _ in range(repeat if op in ("good", "bad") else 1):
            w.step(samples=(Sample("lag", BAD if op == "bad" else GOOD),))
            passes += 1
            docs.update({d.generation: d for d in w.published_docs})
            if w.status.phase is not Phase.PENDING:
                assert covered(w, docs) == set(range(100)), (
                    w.status.phase, w.status.message, w.applied, w.published)
    # and it can always finish: thawed and retried, the newest spec ends stable
    w.frozen.clear()
    w.run_until(lambda s: s.phase is not Phase.ROLLING_BACK, limit=100)
    w.step(intent=Intent(IntentKind.RETRY, "final-retry"))
    w.run_until(lambda s: (s.candidate_revision is None and s.step_started_at is not None)
                or (s.phase is Phase.ROLLED_BACK and s.candidate_revision is None), limit=300)
    assert w.status.stable_revision.hash == revision_hash(w.spec.workload)
