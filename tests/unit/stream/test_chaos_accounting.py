"""The chaos suite's accounting (tests/integration/stream/chaos_accounting.py) on made-up
records: it must see a lost fill, count repeats, show that the de-duplicator removes them
without dropping a real fact, and measure coverage episodes against the watchdog bound;
in an operator walk, with forwarders and hybrid's symbols changing over time."""

from __future__ import annotations

from typing import Any

from tests.integration.stream.chaos_accounting import (
    BASELINE,
    FaultRecord,
    Sample,
    WalkRecord,
    assess,
    coverage,
    owned_at,
    uncured,
    window_of,
)


def execution(exec_id: str, symbol: str, at: float) -> dict[str, Any]:
    return {"type": "execution", "symbol": symbol, "seq": 1, "emitTime": at,
            "exchangeTime": at, "data": {"execId": exec_id, "orderId": "o-" + exec_id}}


def order(order_id: str, symbol: str, at: float) -> dict[str, Any]:
    return {"orderId": order_id, "symbol": symbol, "orderStatus": "Filled",
            "updatedTime": str(int(at))}


def order_event(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "order", "symbol": item["symbol"], "seq": 1,
            "emitTime": float(item["updatedTime"]), "exchangeTime": 0, "data": item}


def position(symbol: str, seq: int, at: float) -> dict[str, Any]:
    return {"type": "position.update", "symbol": symbol, "seq": seq, "emitTime": at,
            "exchangeTime": at, "data": {"positionIdx": 0}}


def record_with(delivered: list[dict[str, Any]]) -> WalkRecord:
    orders = [order("o1", "AAA", 1_500), order("o2", "ZZZ", 1_600)]
    return WalkRecord(
        seed=1, faults=[FaultRecord("drop-reset", 1_000, 1_000, 1_200),
                        FaultRecord("kill9-hybrid", 2_000, 3_000, 4_000)],
        delivered=delivered, orders=orders,
        executions=[{"execId": "e1", "symbol": "AAA", "execTime": "1500"},
                    {"execId": "e2", "symbol": "AAA", "execTime": "2500"},
                    {"execId": "e9", "symbol": "ZZZ", "execTime": "2600"}],
        journal=[{"symbol": "AAA", "position_idx": 0, "seq": 5}],
        owner_of={"AAA": "hybrid", "ZZZ": "legacy"})


def test_a_fill_never_delivered_is_lost_and_charged_to_its_fault() -> None:
    rec = record_with([execution("e1", "AAA", 1_500), order_event(order("o1", "AAA", 1_500)),
                       position("AAA", 5, 1_600)])
    result = assess(rec)
    # e2 is missing; e9 and o2 are on a legacy symbol (legacy forwards positions only).
    assert list(result.lost) == [("execution", "e2")]
    assert result.table["kill9-hybrid"].lost == 1 and result.table["drop-reset"].lost == 0
    assert not result.position_problems


def test_repeats_are_counted_and_the_deduplicator_removes_them_all() -> None:
    o1 = order_event(order("o1", "AAA", 1_500))
    delivered = [execution("e1", "AAA", 1_500), o1, position("AAA", 5, 1_600),
                 execution("e2", "AAA", 2_500), execution("e1", "AAA", 3_500), dict(o1),
                 position("AAA", 5, 1_600)]
    result = assess(record_with(delivered))
    assert len(result.repeats) == 3
    assert result.repeats_after_dedup == 0 and result.lost_by_dedup == 0
    assert not result.lost


def test_the_newest_position_state_missing_is_a_journal_problem() -> None:
    rec = record_with([execution("e1", "AAA", 1), execution("e2", "AAA", 2),
                       order_event(order("o1", "AAA", 1_500)), position("AAA", 4, 1_600)])
    rec.journal.insert(0, {"symbol": "AAA", "position_idx": 0, "seq": 4})
    assert assess(rec).position_problems


def test_windows_start_at_each_fault() -> None:
    faults = [FaultRecord("a", 10), FaultRecord("b", 20)]
    assert [window_of(t, faults) for t in (5, 10, 19, 25)] == [BASELINE, "a", "a", "b"]


def test_coverage_counts_episodes_beyond_the_bound_and_sets_sink_outages_apart() -> None:
    # Hybrid (owner of AAA) not ready for 30 s; legacy (ZZZ) down for 10 s but its sink
    # was deliberately down for them; AAA forwarded (REST fallback) during its first 5 s.
    samples = []
    for i in range(80):  # 40 s at 0.5 s
        at = i * 500.0
        samples.append(Sample(at, {"hybrid": not 10_000 <= at < 40_000, "legacy": at >= 10_000},
                              {"hybrid": False, "legacy": at < 10_000}))
    forwarded = {"AAA": [float(t) for t in range(10_000, 15_000, 500)]}
    cover = coverage(samples, {"AAA": "hybrid", "ZZZ": "legacy"}, [], forwarded, bound_s=20)
    assert cover.uncovered_s == {BASELINE: 30.0}
    assert cover.beyond_bound_s == {BASELINE: 10.0}
    assert cover.sink_down_s == {BASELINE: 10.0}
    assert cover.blind_s == {BASELINE: 23.0}  # forwarded until 14.5 s, + 2 s of grace
    assert cover.worst_episode_s == 30.0
    assert cover.beyond_episodes == [("AAA", 10_000.0, 30.0)]


def test_an_operator_walk_covers_a_symbol_by_whoever_forwards_it_at_the_sample() -> None:
    # AAA moves from legacy pod L to hybrid pod H at 10 s; H dies at 20 s for 25 s while
    # its routing still says AAA: uncovered, 5 s past a 20 s bound, unless the watchdog
    # acted in that episode.
    samples = []
    for i in range(100):  # 50 s
        at = i * 500.0
        forwards = {"AAA": ("L",) if at < 10_000 else ("H",)}
        samples.append(Sample(at, {"L": True, "H": not 20_000 <= at < 45_000},
                              {"L": False, "H": False}, forwards))
    cover = coverage(samples, {"AAA": ""}, [], {}, bound_s=20)
    assert cover.uncovered_s == {BASELINE: 25.0}
    assert cover.beyond_bound_s == {BASELINE: 5.0}
    assert cover.beyond_episodes == [("AAA", 20_000.0, 25.0)]
    assert uncured(cover.beyond_episodes, [], 20) == cover.beyond_episodes
    rollback = [("RolloutAborted", 40_200.0, "50 buckets had no forwarder for 20s")]
    assert uncured(cover.beyond_episodes, rollback, 20) == []
    too_late = [("RolloutAborted", 51_000.0, "")]  # after the episode ended (+5 s slack)
    assert uncured(cover.beyond_episodes, too_late, 20) == cover.beyond_episodes


def test_facts_count_while_hybrid_forwards_their_symbol_but_not_around_a_handover() -> None:
    timeline = [(0.0, frozenset()), (10_000.0, frozenset({"AAA"})), (30_000.0, frozenset())]
    assert not owned_at(timeline, "AAA", 5_000)  # legacy's: it forwards no orders
    assert not owned_at(timeline, "AAA", 10_500)  # too close to the change
    assert owned_at(timeline, "AAA", 20_000)
    assert not owned_at(timeline, "AAA", 29_500)  # too close to giving it back
    assert not owned_at(timeline, "ZZZ", 20_000)
    rec = WalkRecord(seed=1, executions=[{"execId": "e1", "symbol": "AAA", "execTime": "5000"},
                                         {"execId": "e2", "symbol": "AAA", "execTime": "20000"}],
                     owner_of={"AAA": "legacy"}, hybrid_owned=timeline)
    assert list(assess(rec).lost) == [("execution", "e2")]  # the timeline decides, not owner_of


def test_a_position_moving_between_sinks_goes_backwards_only_across_them() -> None:
    redis = [position("AAA", 7, 3_000), position("AAA", 8, 4_000)]  # hybrid, after the move
    webhook = [position("AAA", 5, 1_000), position("AAA", 6, 2_000)]  # legacy, before
    rec = WalkRecord(seed=1, delivered=redis + webhook, sinks=[redis, webhook],
                     journal=[{"symbol": "AAA", "position_idx": 0, "seq": s} for s in (5, 6, 7, 8)])
    assert not assess(rec).position_problems
    rec.sinks = [redis[::-1], webhook]  # within one sink it still may not
    assert assess(rec).position_problems == ["('AAA', 0): seq went backwards: [8, 7]"]
