"""Accounting of a chaos walk against the simulator's ground truth (pure: no I/O).

The walk (``chaos_walk.py``) records what happened: the faults it injected (``FaultRecord``),
the readiness of each stream process every half second (``Sample``), the events each sink
received, and the exchange's own orders and executions. These functions turn that into the
figures of ``bench/results/chaos.md`` and the assertions of ``test_chaos_short.py``:

* **lost**: an order state or execution the exchange produced for a symbol whose owner
  forwards orders (the hybrid side: legacy polls positions only) that never reached a sink;
* **duplicated**: an identity delivered more than once (execution ``execId``; order
  ``orderId + orderStatus + updatedTime``; position ``symbol + positionIdx + seq +
  exchangeTime + type``), and how many survive ``EventDeduplicator`` (should be none);
* **uncovered symbol-seconds**: per open symbol, time during which no process forwarding
  it was alive and ready, except while such a process's own sink was deliberately down
  (no forwarder can deliver into a down sink; those seconds are counted apart). At the
  stream level the forwarder is fixed (``owner_of``); in an operator walk it is whatever
  each process's applied routing said at the sample (``Sample.forwards``), and the orders
  that count are those on symbols hybrid's applied routing forwarded (``hybrid_owned``);
* **time to recover** per fault: fault end -> every process ready and a fresh event
  (emitted after the fault ended) delivered by each.
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hybridstream.consumer import EventDeduplicator

from .journal_checks import assess_journal_entries

#: The operator's coverage watchdog default (``spec.steps.coverageDeadline``): an uncovered
#: episode up to this long is what the design tolerates before buckets move.
WATCHDOG_BOUND_S = 20.0
#: Seconds between readiness samples.
SAMPLE_INTERVAL_S = 0.5
BASELINE = "baseline"


@dataclass
class FaultRecord:
    """One injected fault; times are wall-clock ms (comparable with event times)."""

    kind: str
    start_ms: float
    end_ms: float = 0.0
    recovered_ms: float | None = None  # None: did not recover within the walk's bound
    detail: str = ""
    where: str = ""  # operator walk: the rollout's phase/step when the fault hit

    @property
    def recover_s(self) -> float | None:
        if self.recovered_ms is None:
            return None
        return max(0.0, (self.recovered_ms - self.end_ms) / 1000)


@dataclass(frozen=True)
class Sample:
    """Readiness of every process at one instant (``at_ms`` wall clock)."""

    at_ms: float
    ready: dict[str, bool]
    sink_down: dict[str, bool]  # the process's sink was deliberately taken down
    #: symbol -> the processes whose applied routing forwards it (None: ``owner_of``)
    forwards: dict[str, tuple[str, ...]] | None = None


@dataclass
class OperatorOutcome:
    """The rollout at the end of an operator walk, from its status and Events."""

    phase: str = ""
    completed: bool = False  # legacy retired after Production
    rollbacks: int = 0
    history: list[str] = field(default_factory=list)  # phase/step entered, in order
    #: coverage watchdog actions: (Event reason or lastFailure action, wall ms, message)
    watchdog: list[tuple[str, float, str]] = field(default_factory=list)
    operator_starts: int = 0


@dataclass
class WalkRecord:
    """Everything a walk observed (filled by ``chaos_walk``)."""

    seed: int
    faults: list[FaultRecord] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)  # every sink, in order
    #: each sink's deliveries in its own order (a position's seq may only go backwards
    #: across sinks: an operator walk moves symbols between them); empty: ``delivered``
    sinks: list[list[dict[str, Any]]] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)  # the exchange's
    orders: list[dict[str, Any]] = field(default_factory=list)  # final state per order
    journal: list[dict[str, Any]] = field(default_factory=list)  # position updates
    owner_of: dict[str, str] = field(default_factory=dict)  # symbol -> process
    forwards_orders: str = "hybrid"  # the side that forwards orders and executions
    #: operator walk: (wall ms, symbols hybrid's applied routing forwards) at each change;
    #: None: the static ``owner_of`` decides
    hybrid_owned: list[tuple[float, frozenset[str]]] | None = None
    #: operator walk: what the operator did and ended in (see ``OperatorOutcome``)
    operator: OperatorOutcome | None = None
    orders_placed: int = 0
    starts: dict[str, int] = field(default_factory=dict)
    settled: bool = False
    seconds: float = 0.0


@dataclass
class KindFigures:
    """What the results table shows for one fault kind (or the totals)."""

    count: int = 0
    recover_s: list[float] = field(default_factory=list)
    unrecovered: int = 0
    lost: int = 0
    duplicated: int = 0
    uncovered_s: float = 0.0
    blind_s: float = 0.0
    beyond_bound_s: float = 0.0
    sink_down_s: float = 0.0


def execution_id(event: dict[str, Any]) -> tuple[str, ...]:
    return ("execution", str(event["data"]["execId"]))


def order_id(item: dict[str, Any]) -> tuple[str, ...]:
    return ("order", str(item["orderId"]), str(item["orderStatus"]), str(item["updatedTime"]))


def identity(event: dict[str, Any]) -> tuple[str, ...]:
    """The delivery identity of a sink event (see the module docstring)."""
    kind = event["type"]
    if kind == "execution":
        return execution_id(event)
    if kind == "order":
        return order_id(event["data"])
    if kind.startswith("position."):
        return (kind, event["symbol"], str(event["data"].get("positionIdx", 0)),
                str(event["seq"]), str(event.get("exchangeTime")))
    return (kind, str(event.get("exchangeTime")), str(event.get("data")))


def truth_facts(executions: Iterable[dict[str, Any]], orders: Iterable[dict[str, Any]],
                owned: Callable[[str, float], bool]) -> dict[tuple[str, ...], float]:
    """Identity -> exchange time (ms) of every execution and final order state the exchange
    produced for a symbol whose owner forwarded orders and executions at that time."""
    facts: dict[tuple[str, ...], float] = {}
    for item in executions:
        at = float(item["execTime"])
        if owned(item["symbol"], at):
            facts[("execution", str(item["execId"]))] = at
    for item in orders:
        at = float(item["updatedTime"])
        if owned(item["symbol"], at):
            facts[order_id(item)] = at
    return facts


#: Which symbols hybrid forwards is sampled (every ``SAMPLE_INTERVAL_S``) from the routing
#: its processes applied: a fact this close to a change of its symbol's side is not counted
#: (which side had it is not known at that resolution, and legacy forwards no orders).
HANDOVER_GRACE_S = 1.0


def owned_at(timeline: list[tuple[float, frozenset[str]]], symbol: str, at_ms: float,
             grace_s: float = HANDOVER_GRACE_S) -> bool:
    """Whether hybrid's applied routing forwarded ``symbol`` at ``at_ms`` and ``grace_s``
    either side of it (``timeline``: (ms, hybrid's symbols) per change, in order)."""
    def holds(t: float) -> bool:
        i = bisect.bisect_right([when for when, _ in timeline], t)
        return i > 0 and symbol in timeline[i - 1][1]
    return all(holds(at_ms + d * grace_s * 1000) for d in (-1, 0, 1))


def lost_facts(truth: dict[tuple[str, ...], float],
               delivered: Iterable[dict[str, Any]]) -> dict[tuple[str, ...], float]:
    """The truth facts no sink received (identity -> exchange time)."""
    seen = {identity(e) for e in delivered if e["type"] in ("order", "execution")}
    return {k: t for k, t in truth.items() if k not in seen}


def duplicates(delivered: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every delivery of an identity after its first (the repeats)."""
    seen: set[tuple[str, ...]] = set()
    repeats = []
    for event in delivered:
        key = identity(event)
        if key in seen:
            repeats.append(event)
        seen.add(key)
    return repeats


def deduplicated(delivered: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a consumer keeps after ``EventDeduplicator`` (delivery order)."""
    dedup = EventDeduplicator()
    return [e for e in delivered if dedup.accept(e)]


def window_of(at_ms: float, faults: list[FaultRecord]) -> str:
    """The fault kind whose window (its start up to the next fault's start) holds
    ``at_ms``; before the first fault: ``baseline``."""
    kind = BASELINE
    for fault in faults:
        if fault.start_ms <= at_ms:
            kind = fault.kind
        else:
            break
    return kind


@dataclass(frozen=True)
class Coverage:
    uncovered_s: dict[str, float]  # per window kind: owner dead or not ready
    blind_s: dict[str, float]  # ... and nothing of the symbol forwarded in BLIND_AFTER_S
    beyond_bound_s: dict[str, float]
    sink_down_s: dict[str, float]
    worst_episode_s: float
    #: (symbol, start ms, seconds) of every uncovered episode longer than the bound
    beyond_episodes: list[tuple[str, float, float]] = field(default_factory=list)


#: A not-ready owner that still forwarded a symbol this recently (its REST fallback while a
#: WebSocket is out) is not blind on it.
BLIND_AFTER_S = 2.0


def emit_times(delivered: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    """Per symbol, the sorted emit times (ms) of everything delivered for it."""
    times: dict[str, list[float]] = defaultdict(list)
    for event in delivered:
        if event.get("symbol"):
            times[event["symbol"]].append(float(event["emitTime"]))
    return {s: sorted(t) for s, t in times.items()}


def forwarded_recently(times: list[float], at_ms: float, window_s: float) -> bool:
    i = bisect.bisect_right(times, at_ms)
    return i > 0 and at_ms - times[i - 1] <= window_s * 1000


def coverage(samples: list[Sample], owner_of: dict[str, str], faults: list[FaultRecord],
             delivered_at: dict[str, list[float]], *, bound_s: float = WATCHDOG_BOUND_S,
             interval_s: float = SAMPLE_INTERVAL_S) -> Coverage:
    """Uncovered symbol-seconds from readiness samples (``owner_of``: symbol -> process,
    unless a sample names each symbol's forwarders itself).
    Beyond-bound seconds are the part of each symbol's contiguous uncovered episode past
    ``bound_s`` (what the operator's coverage watchdog, acting on readiness, would no longer
    tolerate), charged to the window where they fall."""
    uncovered: dict[str, float] = defaultdict(float)
    blind: dict[str, float] = defaultdict(float)
    beyond: dict[str, float] = defaultdict(float)
    sink_down: dict[str, float] = defaultdict(float)
    episode: dict[str, float] = defaultdict(float)
    started: dict[str, float] = {}
    episodes: list[tuple[str, float, float]] = []

    def close(symbol: str) -> None:
        if episode[symbol] > bound_s:
            episodes.append((symbol, started[symbol], episode[symbol]))
        episode[symbol] = 0.0

    worst = 0.0
    for sample in samples:
        kind = window_of(sample.at_ms, faults)
        for symbol, owner in owner_of.items():
            procs = sample.forwards.get(symbol, ()) if sample.forwards is not None \
                else (owner,)
            if any(sample.ready.get(p, False) for p in procs):
                close(symbol)
                continue
            if any(sample.sink_down.get(p, False) for p in procs):
                sink_down[kind] += interval_s
                close(symbol)
                continue
            if not episode[symbol]:
                started[symbol] = sample.at_ms
            uncovered[kind] += interval_s
            if not forwarded_recently(delivered_at.get(symbol, []), sample.at_ms,
                                      BLIND_AFTER_S):
                blind[kind] += interval_s
            episode[symbol] += interval_s
            worst = max(worst, episode[symbol])
            if episode[symbol] > bound_s:
                beyond[kind] += interval_s
    for symbol in owner_of:
        close(symbol)
    return Coverage(dict(uncovered), dict(blind), dict(beyond), dict(sink_down), worst,
                    sorted(episodes, key=lambda e: e[1]))


def uncured(episodes: list[tuple[str, float, float]], actions: list[tuple[str, float, str]],
            bound_s: float, slack_s: float = 5.0) -> list[tuple[str, float, float]]:
    """The episodes beyond the bound that no coverage-watchdog action answered: one taken
    after the episode started and at most ``slack_s`` after it ended (the operator
    records its action a reconcile pass after the deadline)."""
    return [(symbol, start, seconds) for symbol, start, seconds in episodes
            if not any(start <= at <= start + (seconds + slack_s) * 1000
                       for _, at, _ in actions)]


def figures_by_kind(faults: list[FaultRecord], lost: dict[tuple[str, ...], float],
                    repeats: list[dict[str, Any]], cover: Coverage) -> dict[str, KindFigures]:
    """Per fault kind (plus ``baseline`` when anything happened before the first fault):
    lost facts by exchange time, repeats by emit time, coverage by sample time."""
    table: dict[str, KindFigures] = defaultdict(KindFigures)
    for fault in faults:
        row = table[fault.kind]
        row.count += 1
        if fault.recover_s is None:
            row.unrecovered += 1
        else:
            row.recover_s.append(fault.recover_s)
    for at in lost.values():
        table[window_of(at, faults)].lost += 1
    for event in repeats:
        table[window_of(float(event.get("emitTime") or 0), faults)].duplicated += 1
    for kind, seconds in cover.uncovered_s.items():
        table[kind].uncovered_s += seconds
    for kind, seconds in cover.blind_s.items():
        table[kind].blind_s += seconds
    for kind, seconds in cover.beyond_bound_s.items():
        table[kind].beyond_bound_s += seconds
    for kind, seconds in cover.sink_down_s.items():
        table[kind].sink_down_s += seconds
    return dict(table)


def totals(table: dict[str, KindFigures]) -> KindFigures:
    total = KindFigures()
    for row in table.values():
        total.count += row.count
        total.recover_s += row.recover_s
        total.unrecovered += row.unrecovered
        total.lost += row.lost
        total.duplicated += row.duplicated
        total.uncovered_s += row.uncovered_s
        total.blind_s += row.blind_s
        total.beyond_bound_s += row.beyond_bound_s
        total.sink_down_s += row.sink_down_s
    return total


def _p50_max(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} / {max(values):.1f}"


def render_table(table: dict[str, KindFigures]) -> list[str]:
    """Markdown rows: one per kind (sorted, baseline last) and the totals."""
    lines = ["| fault kind | count | recover s p50 / max | not recovered | lost | duplicated "
             "at sink | uncovered (not ready) symbol-s | of which blind | beyond watchdog bound "
             "| sink-down symbol-s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    kinds = sorted(k for k in table if k != BASELINE) + ([BASELINE] if BASELINE in table
                                                          else [])

    def row(name: str, r: KindFigures) -> str:
        return (f"| {name} | {r.count} | {_p50_max(r.recover_s)} | {r.unrecovered} | "
                f"{r.lost} | {r.duplicated} | {r.uncovered_s:.1f} | {r.blind_s:.1f} | "
                f"{r.beyond_bound_s:.1f} | "
                f"{r.sink_down_s:.1f} |")
    lines += [row(k, table[k]) for k in kinds]
    lines.append(row("**total**", totals(table)))
    return lines


def count_by_type(events: Iterable[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(e["type"] for e in events))


@dataclass
class Assessment:
    """The figures of one walk and the invariants the short test asserts."""

    table: dict[str, KindFigures]
    lost: dict[tuple[str, ...], float]
    repeats: list[dict[str, Any]]
    repeats_after_dedup: int  # should be 0: EventDeduplicator removes every repeat
    lost_by_dedup: int  # should be 0: it never drops a first delivery of a real fact
    position_problems: list[str]  # journal check: nothing invented, reordered, lost final
    cover: Coverage
    truth_count: int


def assess(record: WalkRecord, bound_s: float = WATCHDOG_BOUND_S) -> Assessment:
    def owned(symbol: str, at_ms: float) -> bool:
        if record.hybrid_owned is not None:
            return owned_at(record.hybrid_owned, symbol, at_ms)
        return record.owner_of.get(symbol) == record.forwards_orders
    truth = truth_facts(record.executions, record.orders, owned)
    lost = lost_facts(truth, record.delivered)
    repeats = duplicates(record.delivered)
    kept = deduplicated(record.delivered)
    cover = coverage(record.samples, record.owner_of, record.faults,
                     emit_times(record.delivered), bound_s=bound_s)
    return Assessment(
        table=figures_by_kind(record.faults, lost, repeats, cover), lost=lost,
        repeats=repeats, repeats_after_dedup=len(duplicates(kept)),
        lost_by_dedup=len(lost_facts(truth, kept)) - len(lost),
        position_problems=assess_journal_entries(record.journal, record.delivered,
                                                 record.sinks or None),
        cover=cover, truth_count=len(truth))
