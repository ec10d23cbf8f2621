"""Chaos suite, by hand: seeded random faults, each bounded in time, against real stream
processes (a legacy ``rest`` one and a hybrid ``cutover`` one splitting the buckets by a
routing document), the simulator over real sockets, a real ``redis-server`` and a real
webhook, while market orders keep flowing. Measured against the simulator's ground truth:
lost and duplicated orders/executions at the sinks (and what ``EventDeduplicator`` leaves),
the position journal, uncovered symbol-seconds and time to recover per fault kind.

``--operator``: the same at the operator level. The real operator walks a rollout Canary ->
Parallel -> Cutover -> Production on a kwok control plane of its own while real stream
processes play its pods (routing from the operator's ConfigMap, acks on their pods, the
pods' readiness mirrored from the processes); faults add operator SIGKILL and a
kube-apiserver restart, and the coverage watchdog's actions are recorded.

The walks and the accounting live beside the short tests that assert the same invariants
(``tests/integration/stream/chaos_walk.py``, ``chaos_accounting.py``,
``tests/integration/operator/chaos_rollout.py``). Bounded: at most ``--faults`` faults, no
new fault after ``--budget`` seconds, each fault, each recovery and the rollout's end
bounded. Results: bench/results/chaos.md (one section per level).

    python bench/chaos.py [--operator] [--seed 12] [--faults 100] [--budget 1200] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the walk is shared with the test suite (tests/...)

from tests.integration.operator.chaos_rollout import (  # noqa: E402
    OPERATOR_WALK,
    RolloutPlan,
    operator_chaos_system,
)
from tests.integration.stream.chaos_accounting import (  # noqa: E402
    WATCHDOG_BOUND_S,
    Assessment,
    WalkRecord,
    assess,
    count_by_type,
    render_table,
    uncured,
)
from tests.integration.stream.chaos_walk import (  # noqa: E402
    ChaosWalk,
    WalkConfig,
    chaos_system,
    draw_faults,
)
from tests.plugins.cluster import dedicated_cluster  # noqa: E402

RESULTS = REPO / "bench" / "results" / "chaos.md"
STREAM_TITLE, OPERATOR_TITLE = "# Chaos suite (stream level)", "# Chaos suite (operator level)"
#: Relative draw weights (default 1). Each kind is as likely: a Redis outage lasts 30-120 s,
#: so a 20-minute budget holds fewer than 100 faults when several are drawn.
WEIGHTS: dict[str, float] = {}
#: Operator level: a fault, its recovery and the pause after it take about this long.
SECONDS_PER_FAULT = 8.0

SCOPE = """\
**Covered (stream level).** Two real `hybridstream run` processes: legacy (`rest`, webhook
sink) and hybrid (`cutover`, Redis sink with a spill directory), one routing document
(hybrid forwards buckets `[0, 50)`, legacy `[50, 100)`), the simulator over real loopback
sockets, a real `redis-server` (append-only, fsync per write) and a real aiohttp webhook.
Market orders every 0.4 s on every symbol (each stays open). Faults: socket drop clean /
reset / without close frame (1006), ticker stall, auth rejection, REST rate limit
(10006) with a forced re-seed, malformed frames, simulator restart, WebSocket outage with
REST up (`refuse-websockets`), SIGKILL of either stream process and restart after a kubelet
delay, Redis stopped 30-120 s, webhook answering 503 for 10-30 s.

**Not covered here** (see the operator-level section): operator-level faults and the
operator's coverage watchdog itself: no operator runs here, so an uncovered episode is only
*measured* against the watchdog bound (`spec.steps.coverageDeadline`, 20 s), never cured by
it. Legacy forwards positions only (its REST poller has no orders or executions), so lost
orders and executions are counted on the hybrid-owned symbols; positions of every symbol
are checked against the journal."""

OPERATOR_SCOPE = """\
**Covered (operator level).** The real operator process (standalone, SIGKILL-able) walks a
`HybridStreamRollout` (1 legacy + 1 hybrid replica) Canary -> Parallel -> Cutover 50 % ->
100 % -> Production -> legacy retired, on a kwok control plane of its own (etcd,
kube-apiserver, controller manager, scheduler, kwok). Every Running kwok pod of the two
Deployments is played by a real `hybridstream run` with that pod's env and identity
(`POD_NAME`, `POD_NAMESPACE`): it watches the operator's routing ConfigMap through the
kube-apiserver and acks on its pod. The walk plays the kubelet: a process per Running pod,
SIGTERM when the pod goes, the pod's `Ready` condition mirrored from the process's
`/readyz` every 0.5 s (a readiness probe), a SIGKILLed process restarted in the same pod
after a 1-3 s delay. Hybrid delivers into a real `redis-server`, legacy into a real
webhook; the simulator over real sockets; a real Prometheus for the rollout's analysis.
Faults: every stream-level kind (sink outages 5-12 s, WebSocket outages 3-10 s, stalls
3-8 s, so that every fault ends inside the 20 s coverage deadline) plus `kill9-operator`
(SIGKILL, restart after 1-10 s) and `apiserver-restart` (SIGKILL, started again after
2-10 s).

**Not covered here.** Outages longer than the coverage deadline: the watchdog then rolls
hybrid back or hands legacy's buckets to hybrid by design
(`tests/integration/operator/test_operator_coverage.py`), which ends the walk this run
measures. Pod eviction (a pod replaced rather than its container restarted), several
replicas per side, peering between operator replicas."""

DEFINITIONS = f"""\
* **lost**: an execution (`execId`) or final order state (`orderId + orderStatus +
  updatedTime`) the exchange produced on a hybrid-owned symbol that no sink received by the
  end of the run (after a bounded settle); charged to the fault window of its exchange time.
* **duplicated at sink**: a repeat delivery of an identity (also positions: `symbol +
  positionIdx + seq + exchangeTime + type`), charged by emit time. The consumer-side
  `EventDeduplicator` is then run over everything delivered: repeats it leaves and real
  facts it drops are reported below (both must be 0).
* **uncovered symbol-s**: every 0.5 s, for each open symbol, 0.5 s if the process owning
  its bucket was dead or answered `/readyz` other than 200, *except* while that process's
  own sink was deliberately down (**sink-down symbol-s**: no forwarder can deliver into a
  down sink; the events wait in the outbox/spill and count as lost if they never arrive).
  **beyond watchdog bound**: the part of a symbol's contiguous uncovered episode past
  {WATCHDOG_BOUND_S:.0f} s.
* **recover s**: fault end (the outage over, the process restarted, the frames sent) until
  both processes answer `/readyz` 200 *and* each side's sink holds a fact newer than the
  fault end (hybrid: an execution placed after it; legacy: a position snapshot emitted after
  it). A fault not recovered within 90 s counts in **not recovered** (then the exchange is
  healed and dead pods restarted before the next fault)."""

OPERATOR_DEFINITIONS = f"""\
* **lost**: an execution or final order state the exchange produced on a symbol that
  hybrid's *applied* routing forwarded at that time (sampled every 0.5 s from each hybrid
  process's `/api/hybrid/status`; a fact within 1 s of its symbol changing sides is not
  counted: legacy forwards no orders) that no sink received by the end of the run.
* **duplicated at sink**, **sink-down symbol-s**: as at the stream level.
* **uncovered symbol-s**: every 0.5 s, for each open symbol, 0.5 s if no process whose
  applied routing forwards it was alive and ready. **beyond watchdog bound**: the part of
  an episode past {WATCHDOG_BOUND_S:.0f} s (`coverageDeadline`); such an episode counts as
  answered if a coverage-watchdog Event (rollback or handover) came between its start and
  5 s after its end.
* **recover s**: fault end until every process is ready, the operator runs and its
  `status.coverage` reports 0 uncovered buckets, and the sink of each side that forwards
  anything holds a fact newer than the fault end. Not within 90 s: **not recovered**."""

READING = """\
* **Not ready is not always blind.** The hybrid process answers `/readyz` 503 while a
  WebSocket is down or its private re-seed is rate limited, yet it keeps forwarding (its
  REST fallback during a WebSocket outage; live marks from the public socket while the
  re-seed waits out a rate limit): compare *uncovered (not ready)* with *of which blind*
  for `refuse-websockets` and `rate-limit`. The operator's coverage watchdog
  acts on readiness, so in `cutover` a WebSocket outage longer than `coverageDeadline`
  would roll the hybrid side back although nothing was lost. A quiet symbol (no mark
  change) also counts as blind, so *blind* is an upper bound.
* **Duplicates come from `kill -9` of the hybrid process**: a restarted pod re-reads its
  last minute of orders and executions (`RESTART_LOOKBACK_MS`), so fills its predecessor
  already delivered arrive again; `EventDeduplicator` removes every one of them.
* **Recovery after a rate limit** follows the REST client's backoff (0.5 s doubling, cap
  10 s): a limit lifted just after a retry waits for the next one.
* **Sink outages**: the side whose sink is down is not ready for the whole outage (its
  events wait in the outbox and spill, none lost); *sink-down symbol-s* counts that time."""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU ({cpu}), "
            f"Python {platform.python_version()}")


def clock(at_ms: float) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]


def rollout_lines(record: WalkRecord, result: Assessment) -> list[str]:
    """The operator level's own section: how the rollout ended and what the watchdog did."""
    outcome = record.operator
    if outcome is None:
        return []
    left = uncured(result.cover.beyond_episodes, outcome.watchdog, WATCHDOG_BOUND_S)
    return [
        "## The rollout", "",
        f"* ended in **{outcome.phase}**, legacy retired: "
        f"**{'yes' if outcome.completed else 'no'}**, rollbacks: **{outcome.rollbacks}**; "
        f"steps entered: {' -> '.join(outcome.history)}",
        f"* operator starts: {outcome.operator_starts} (1 + one per `kill9-operator`)",
        f"* coverage watchdog actions: {len(outcome.watchdog)}"
        + "".join(f"\n  * {clock(at)} UTC {reason}: {message[:160]}"
                  for reason, at, message in outcome.watchdog),
        f"* uncovered episodes longer than the {WATCHDOG_BOUND_S:.0f} s bound: "
        f"{len(result.cover.beyond_episodes)}, of which no watchdog action answered: "
        f"**{len(left)}**", ""]


def report(record: WalkRecord, result: Assessment, command: str, started: datetime) -> str:
    operator = record.operator is not None
    kept_repeats = result.repeats_after_dedup
    delivered = count_by_type(record.delivered)
    totals_line = ", ".join(f"{k} {v}" for k, v in sorted(delivered.items()))
    problems = result.position_problems
    lines = [
        OPERATOR_TITLE if operator else STREAM_TITLE, "",
        f"`{command}` — seed {record.seed}, {len(record.faults)} faults in "
        f"{record.seconds / 60:.1f} min, {started:%Y-%m-%d %H:%M} UTC, {machine()}.", "",
        OPERATOR_SCOPE if operator else SCOPE, "",
        *rollout_lines(record, result),
        "## Results per fault kind", "",
        *render_table(result.table), "",
        "*baseline* is the time before the first fault (after both sides first served).", "",
        "## Invariants", "",
        f"* orders placed: {record.orders_placed}; exchange facts on hybrid-owned symbols "
        f"(executions + final order states): {result.truth_count}",
        f"* delivered to the sinks: {len(record.delivered)} events ({totals_line})",
        f"* **lost orders/executions: {len(result.lost)}**"
        + "".join(f"\n  * `{' '.join(key)}` at {clock(at)} UTC"
                  for key, at in sorted(result.lost.items())[:20]),
        f"* duplicated at the sinks: {len(result.repeats)} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(count_by_type(result.repeats).items()))}"
        f"); left after `EventDeduplicator`: **{kept_repeats}**; real facts it dropped: "
        f"**{result.lost_by_dedup}**",
        f"* position journal (nothing invented, no seq backwards, newest state of every "
        f"position delivered): **{len(problems)} problems**"
        + "".join(f"\n  * {p[:300]}" for p in problems[:10]),
        f"* uncovered symbol-seconds: {sum(result.cover.uncovered_s.values()):.1f}, worst "
        f"episode {result.cover.worst_episode_s:.1f} s, **beyond the "
        f"{WATCHDOG_BOUND_S:.0f} s watchdog bound: "
        f"{sum(result.cover.beyond_bound_s.values()):.1f}**",
        f"* settled (every order and execution at the sink, both sides ready) after the "
        f"last fault: {'yes' if record.settled else '**no**'}; process starts: "
        f"{record.starts}", "",
        *(() if operator else ("## Reading the figures", "", READING, "")),
        "## Definitions", "", OPERATOR_DEFINITIONS if operator else DEFINITIONS, "",
        "## Fault sequence", "",
        "| # | kind | rollout step | detail | recover s |", "| ---: | --- | --- | --- | ---: |",
        *(f"| {n} | {f.kind} | {f.where or '-'} | {f.detail} | "
          f"{'not recovered' if f.recover_s is None else f'{f.recover_s:.1f}'} |"
          for n, f in enumerate(record.faults, 1)), "",
    ]
    return "\n".join(lines)


def write_section(text: str, operator: bool) -> None:
    """Replace this level's section of the results file, keeping the other level's."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    stream, _, rest = old.partition(OPERATOR_TITLE)
    sections = [stream.rstrip() if operator else text.rstrip(),
                text.rstrip() if operator else (OPERATOR_TITLE + rest).rstrip() if rest else ""]
    RESULTS.write_text("\n\n".join(s for s in sections if s) + "\n")


def progress(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def copy_logs(workdir: Path, to: Path) -> None:
    """Every process's log (the operator's too) into ``to``."""
    to.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        (to / log.name).write_bytes(log.read_bytes())


async def walk_and_record(walk: ChaosWalk, args: argparse.Namespace, rng: random.Random,
                          record: WalkRecord, workdir: Path) -> None:
    kinds = draw_faults(rng, args.faults, sorted(walk.faults), WEIGHTS)
    try:
        await walk.run(kinds, args.budget, record, progress=progress)
    finally:
        if args.logs:
            await asyncio.to_thread(copy_logs, workdir, args.logs)


async def run(args: argparse.Namespace, record: WalkRecord) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        workdir = Path(tmp)
        if not args.operator:
            async with chaos_system(workdir, WalkConfig(), rng) as walk:
                await walk_and_record(walk, args, rng, record, workdir)
            return
        # The rollout's steps span the time the faults are expected to take (about
        # SECONDS_PER_FAULT each, within the budget), so faults land in every phase.
        plan = RolloutPlan.spanning(min(args.budget, args.faults * SECONDS_PER_FAULT),
                                    complete_within_s=600)
        with dedicated_cluster(f"hs-chaos-{os.getpid()}") as cluster:
            async with operator_chaos_system(workdir, cluster, OPERATOR_WALK, plan,
                                             rng) as walk:
                await walk_and_record(walk, args, rng, record, workdir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operator", action="store_true",
                        help="the operator level: a rollout on a kwok control plane")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--faults", type=int, default=100)
    parser.add_argument("--budget", type=float, default=1200.0,
                        help="seconds after which no new fault is injected")
    parser.add_argument("--no-write", action="store_true", help="print, do not write")
    parser.add_argument("--logs", type=Path, default=None,
                        help="copy the stream processes' logs into this directory")
    args = parser.parse_args()
    command = "python bench/chaos.py " + shlex.join(sys.argv[1:])
    started = datetime.now(UTC)
    record = WalkRecord(seed=args.seed)
    asyncio.run(run(args, record))
    result = assess(record)
    text = report(record, result, command.strip(), started)
    print(text)
    if not args.no_write:
        write_section(text, args.operator)
        print(f"written to {RESULTS}")
    clean = (not result.lost and not result.repeats_after_dedup and not result.lost_by_dedup
             and not result.position_problems and record.settled
             and not sum(result.cover.beyond_bound_s.values()))
    if record.operator is not None:
        clean = clean and record.operator.completed and not record.operator.rollbacks
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
