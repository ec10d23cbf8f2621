"""The handover invariant: table of single moves, and a hypothesis property over random
sequences of targets and pod lag — the buckets the pods *apply* are always covered."""

from __future__ import annotations

import pytest
from hybridstream.routing import FORWARDING_MODES, Mode, Role, RoutingDocument
from hybridstream_operator.logic.handover import (
    HandoverView,
    RoutingTarget,
    assess_settled,
    decide_routing,
)
from hybridstream_operator.models.observations import Acks
from hypothesis import given, settings
from hypothesis import strategies as st


def doc(gen: int, mode: Mode, high: int, low: int) -> RoutingDocument:
    return RoutingDocument(generation=gen, hybridMode=mode, hybridHigh=high, legacyLow=low)


def view(legacy: int | None, hybrid: int | None) -> HandoverView:
    """Acks of each side (None: no pods at all)."""
    return HandoverView(
        Acks(() if legacy is None else (legacy,)),
        Acks(() if hybrid is None else (hybrid,)),
        legacy is not None,
        hybrid is not None,
    )


C, P, X, PR = Mode.CANARY, Mode.PARALLEL, Mode.CUTOVER, Mode.PRODUCTION


@pytest.mark.parametrize(
    ("current", "target", "acks", "expected"),
    [
        # mode-only change: coverage unchanged, publish at once
        (doc(1, C, 0, 0), RoutingTarget(P, 0, 0), (1, 1), doc(2, P, 0, 0)),
        # forward: raise h first, even before anyone acked
        (doc(2, P, 0, 0), RoutingTarget(X, 50, 50), (1, 1), doc(3, X, 50, 0)),
        # then l, only after hybrid acked generation 3
        (
            doc(3, X, 50, 0),
            RoutingTarget(X, 50, 50),
            (3, 2),
            "hybrid pods to apply routing generation 3",
        ),
        (doc(3, X, 50, 0), RoutingTarget(X, 50, 50), (2, 3), doc(4, X, 50, 50)),
        # rollback: l to 0 first without waiting
        (doc(6, X, 100, 100), RoutingTarget(C, 0, 0), (6, None), doc(7, X, 100, 0)),
        # then h to 0 only after legacy acked and is available
        (
            doc(7, X, 100, 0),
            RoutingTarget(C, 0, 0),
            (6, 7),
            "legacy pods to apply routing generation 7",
        ),
        (
            doc(7, X, 100, 0),
            RoutingTarget(C, 0, 0),
            (None, 7),
            "legacy pods to apply routing generation 7",
        ),
        (doc(7, X, 100, 0), RoutingTarget(C, 0, 0), (7, None), doc(8, C, 0, 0)),
        # step back 100 → 50: l down first, then h after legacy acked
        (doc(5, X, 100, 100), RoutingTarget(X, 50, 50), (5, 5), doc(6, X, 100, 50)),
        (doc(6, X, 100, 50), RoutingTarget(X, 50, 50), (6, 6), doc(7, X, 50, 50)),
        # production keeps the coverage of cutover 100
        (doc(8, X, 100, 100), RoutingTarget(PR, 100, 100), (8, 8), doc(9, PR, 100, 100)),
        # already there
        (doc(9, PR, 100, 100), RoutingTarget(PR, 100, 100), (None, 9), None),
    ],
)
def test_decide_routing_moves(current, target, acks, expected):
    move = decide_routing(current, target, view(*acks))
    if isinstance(expected, RoutingDocument):
        assert move.publish == expected
    elif isinstance(expected, str):
        assert move.publish is None and move.waiting_for == expected
    else:
        assert move.settled


def test_settled_needs_acks_of_every_pod():
    current = doc(4, X, 50, 50)
    lagging = HandoverView(Acks((4, 3)), Acks((4,)), True, True)
    assert (
        assess_settled(current, lagging, hybrid_running=True)
        == "legacy pods to apply routing generation 4"
    )
    done = HandoverView(Acks((4, 4)), Acks((5,)), True, True)
    assert assess_settled(current, done, hybrid_running=True) is None
    # a rollback does not wait for hybrid, which may be the broken side
    assert assess_settled(doc(9, C, 0, 0), view(9, None), hybrid_running=False) is None


#: symbols a cutover may name (buckets spread over the range)
POOL = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "PEPEUSDT", "ADAUSDT")

targets = st.one_of(
    st.just(RoutingTarget(C, 0, 0)),
    st.just(RoutingTarget(P, 0, 0)),
    st.integers(1, 100).map(lambda p: RoutingTarget(X, p, p)),
    # a named pilot, alone or beside a percentage
    st.tuples(st.integers(0, 100), st.frozensets(st.sampled_from(POOL), max_size=4)).map(
        lambda t: RoutingTarget(X, t[0], t[0], t[1])),
    st.just(RoutingTarget(PR, 100, 100)),
)
events = st.lists(
    st.tuples(
        st.sampled_from(["target", "legacy-applies", "hybrid-applies", "decide", "decide"]), targets
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_applied_routing_never_leaves_a_gap(sequence):
    """l <= h at every published generation, and also across what the pods really
    applied while they lag behind the operator by any amount."""
    published = [doc(0, C, 0, 0)]
    legacy_applied = hybrid_applied = published[0]
    target = RoutingTarget(C, 0, 0)
    for kind, new_target in sequence:
        if kind == "target":
            target = new_target
        elif kind == "legacy-applies":
            legacy_applied = published[-1]
        elif kind == "hybrid-applies":
            hybrid_applied = published[-1]
        else:
            v = HandoverView(
                Acks((legacy_applied.generation,)), Acks((hybrid_applied.generation,)), True, True
            )
            move = decide_routing(published[-1], target, v)
            if move.publish is not None:
                assert move.publish.generation == published[-1].generation + 1
                assert move.publish.legacy_low <= move.publish.effective_hybrid_high
                published.append(move.publish)
        assert legacy_applied.legacy_low <= hybrid_applied.effective_hybrid_high, (
            f"gap: legacy applied {legacy_applied}, hybrid applied {hybrid_applied}"
        )
        for symbol in POOL:  # and per symbol, named ones included
            assert legacy_applied.forwards(Role.LEGACY, symbol) or \
                hybrid_applied.forwards(Role.HYBRID, symbol), (symbol, legacy_applied,
                                                                hybrid_applied)


@settings(max_examples=100, deadline=None)
@given(st.lists(targets, min_size=1, max_size=10))
def test_handover_converges_when_pods_keep_up(target_list):
    current = doc(0, C, 0, 0)
    for target in target_list:
        for _ in range(10):
            move = decide_routing(current, target, view(current.generation, current.generation))
            if move.publish is None:
                break
            current = move.publish
        assert move.settled
        assert (current.legacy_low, current.effective_hybrid_high) == (
            target.legacy_low,
            target.effective_high,
        )
        named = target.symbols if target.mode in FORWARDING_MODES else frozenset()
        assert current.hybrid_symbols == current.legacy_except == named


def test_named_symbols_move_make_before_break():
    """A pilot of named symbols: hybrid adds them before legacy skips them, and on the way
    back legacy takes them back before hybrid drops them (one document each)."""
    current, pilot = doc(3, P, 0, 0), frozenset({"BTCUSDT", "ETHUSDT"})
    steps = []
    for target in (RoutingTarget(X, 0, 0, pilot), RoutingTarget(C, 0, 0)):
        while (move := decide_routing(current, target,
                                      view(current.generation, current.generation))).publish:
            current = move.publish
            steps.append((current.hybrid_mode, current.hybrid_symbols, current.legacy_except))
    assert steps == [(X, pilot, frozenset()), (X, pilot, pilot),  # forward
                     (X, pilot, frozenset()), (C, frozenset(), frozenset())]  # and back
    # the skip waits for hybrid's ack of the document that added them
    added = doc(4, X, 0, 0).model_copy(update={"hybrid_symbols": pilot})
    assert decide_routing(added, RoutingTarget(X, 0, 0, pilot), view(4, 3)).waiting_for == \
        "hybrid pods to apply routing generation 4"
