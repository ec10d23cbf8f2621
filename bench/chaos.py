"""Chaos suite, by hand: seeded random faults, each bounded in time, against real stream
processes (a legacy ``rest`` one and a hybrid ``cutover`` one splitting the buckets by a
routing document), the simulator over real sockets, a real ``redis-server`` and a real
webhook, while market orders keep flowing. Measured against the simulator's ground truth:
lost and duplicated orders/executions at the sinks (and what ``EventDeduplicator`` leaves),
the position journal, uncovered symbol-seconds and time to recover per fault kind.

The walk and the accounting live beside the short test that asserts the same invariants
(``tests/integration/stream/chaos_walk.py``, ``chaos_accounting.py``). Bounded: at most
``--faults`` faults, no new fault after ``--budget`` seconds, each fault and each recovery
bounded. Results: bench/results/chaos.md.

    python bench/chaos.py [--seed 12] [--faults 100] [--budget 1200] [--no-write]
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

from tests.integration.stream.chaos_accounting import (  # noqa: E402
    WATCHDOG_BOUND_S,
    Assessment,
    WalkRecord,
    assess,
    count_by_type,
    render_table,
)
from tests.integration.stream.chaos_walk import (  # noqa: E402
    WalkConfig,
    chaos_system,
    draw_faults,
)

RESULTS = REPO / "bench" / "results" / "chaos.md"
#: Relative draw weights (default 1). Each kind is as likely: a Redis outage lasts 30-120 s,
#: so a 20-minute budget holds fewer than 100 faults when several are drawn.
WEIGHTS: dict[str, float] = {}

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

**Not covered yet.** Operator-level faults (kube-apiserver restart, operator SIGKILL) on the
kwok control plane, and the operator's coverage watchdog itself: no operator runs here, so
an uncovered episode is only *measured* against the watchdog bound
(`spec.steps.coverageDeadline`, 20 s), never cured by it. Pods of a Deployment are replaced
by this script, not by a kubelet. Legacy forwards positions only (its REST poller has no
orders or executions), so lost orders and executions are counted on the hybrid-owned
symbols; positions of every symbol are checked against the journal."""

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


def report(record: WalkRecord, result: Assessment, command: str, started: datetime) -> str:
    kept_repeats = result.repeats_after_dedup
    delivered = count_by_type(record.delivered)
    totals_line = ", ".join(f"{k} {v}" for k, v in sorted(delivered.items()))
    problems = result.position_problems
    lines = [
        "# Chaos suite (stream level)", "",
        f"`{command}` — seed {record.seed}, {len(record.faults)} faults in "
        f"{record.seconds / 60:.1f} min, {started:%Y-%m-%d %H:%M} UTC, {machine()}.", "",
        SCOPE, "",
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
        "## Reading the figures", "", READING, "",
        "## Definitions", "", DEFINITIONS, "",
        "## Fault sequence", "",
        "| # | kind | detail | recover s |", "| ---: | --- | --- | ---: |",
        *(f"| {n} | {f.kind} | {f.detail} | "
          f"{'not recovered' if f.recover_s is None else f'{f.recover_s:.1f}'} |"
          for n, f in enumerate(record.faults, 1)), "",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace, record: WalkRecord) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        async with chaos_system(Path(tmp), WalkConfig(), rng) as walk:
            kinds = draw_faults(rng, args.faults, sorted(walk.faults), WEIGHTS)
            await walk.run(kinds, args.budget, record, progress=lambda line: print(
                f"{time.strftime('%H:%M:%S')} {line}", flush=True))
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for pod in walk.pods.values():
                    (args.logs / f"{pod.name}.log").write_bytes(pod.log.read_bytes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        RESULTS.write_text(text)
        print(f"written to {RESULTS}")
    clean = (not result.lost and not result.repeats_after_dedup and not result.lost_by_dedup
             and not result.position_problems and record.settled
             and not sum(result.cover.beyond_bound_s.values()))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
