"""Trailing-stop activation delay: legacy REST poller vs hybrid stream, in one run.

The simulator (in this process) scripts price paths that cross a position's activation
level, then its trailed stop, at instants this process records. Each stream runs as a real
``hybridstream run`` child (legacy at its poll interval, by default 1 s and 5 s, and
hybrid in production mode) and the trailing-stop consumer (:mod:`hybridstream.consumer`)
follows its stdout. The delay is from the instant the crossing price was set on the
exchange to the instant the consumer fired, per path and stream: p50, p99, max, and how
many crossings a stream never saw (a price back below the level before the next poll).

Paths, each on its own symbol with an open long, all at once, ``--rounds`` times:
  jump  one step over the activation level, then one step through the stop;
  ramp  20 steps of 100 ms up through the level, then 20 down through the stop;
  blip  over the level for 300 ms only, then back (activation only).
Before each round the price is set below the level, every stream must have seen it, and
the stops are re-armed; before each crossing a random pause (up to the longest poll)
decorrelates it from the poll phase. Bounded: about 7 minutes with the defaults (20 s a
round). Results: bench/results/trailing_stop.md.

    python bench/bench_trailing_stop.py [--rounds 20] [--polls 1,5] [--no-write | --summary]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from hybridstream.consumer import StopSpec, TrailingStopConsumer
from hybridstream.consumer.trailing_stop import Phase
from hybridstream.simulator.app import Simulator, running_simulator
from hybridstream.simulator.config import AccountConfig, SimulatorConfig
from hybridstream.simulator.market import Instrument

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "trailing_stop.md"
KEY = "BENCHKEY0000000000"
SECRET = "BENCHSECRET000000000000000000000000000"
PATHS = ("jump", "ramp", "blip")
HYBRID_TIMEOUT = 3.0  # seconds after a crossing before hybrid counts as having missed it


@dataclass
class Follower:
    """One stream child and the consumer reading its stdout."""

    name: str
    poll: float | None  # None: hybrid
    consumer: TrailingStopConsumer = field(default_factory=TrailingStopConsumer)
    marks: dict[str, Decimal] = field(default_factory=dict)
    fired: dict[tuple[str, Phase], float] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None

    @property
    def timeout(self) -> float:
        return HYBRID_TIMEOUT if self.poll is None else 2 * self.poll + 3

    def arm(self, spec: StopSpec) -> None:
        self.consumer.arm(spec)
        self.fired.pop((spec.symbol, Phase.ACTIVE), None)
        self.fired.pop((spec.symbol, Phase.TRIGGERED), None)

    async def follow(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            event = json.loads(line)
            if event["type"].startswith("position.") and "markPrice" in event["data"]:
                self.marks[event["symbol"]] = Decimal(event["data"]["markPrice"])
            for firing in self.consumer.feed(event):
                self.fired[(firing.symbol, firing.kind)] = time.time()


async def start(follower: Follower, sim: Simulator, logs: Path) -> None:
    env = {**os.environ, "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET,
           "HYBRID_MODE": "production" if follower.poll is None else "rest",
           "BYBIT_REST_URL": sim.rest_url, "BYBIT_WS_PUBLIC_URL": sim.ws_public_url,
           "BYBIT_WS_PRIVATE_URL": sim.ws_private_url, "HYBRID_HTTP_HOST": "127.0.0.1",
           "HYBRID_HTTP_PORT": "0", "HYBRID_POLL_INTERVAL": str(follower.poll or 5)}
    with (logs / f"{follower.name}.log").open("ab") as log:
        follower.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hybridstream.cli", "run", "--log-level", "WARNING",
            stdout=asyncio.subprocess.PIPE, stderr=log, env=env, limit=1 << 22)


async def wait_for(condition: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


@dataclass
class Samples:
    """Delays in ms per (path, stage, stream); misses counted."""

    delays: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    missed: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def add(self, path: str, stage: str, stream: str, delay_ms: float | None) -> None:
        key = (path, stage, stream)
        self.delays.setdefault(key, [])
        self.missed.setdefault(key, 0)
        if delay_ms is None:
            self.missed[key] += 1
        else:
            self.delays[key].append(delay_ms)


class PathRunner:
    """Plays one path on one symbol, round after round, and records the delays."""

    def __init__(self, path: str, instrument: Instrument, sim: Simulator, *,
                 followers: list[Follower], samples: Samples, rng: random.Random) -> None:
        self.path, self.instrument, self.symbol, self.sim = (path, instrument,
                                                             instrument.symbol, sim)
        self.followers, self.samples, self.rng = followers, samples, rng
        self.base = self.tick(Decimal(str(instrument.start_price)))
        self.activation = self.tick(self.base * Decimal("1.01"))
        self.callback = self.tick(self.base * Decimal("0.005"))
        self.top = self.activation + 2 * self.callback
        self.longest_poll = max(f.poll or 0 for f in followers)

    def tick(self, price: Decimal) -> Decimal:
        """``price`` on the instrument's tick grid (what the exchange will show)."""
        return Decimal(self.instrument.format_price(self.instrument.to_units(price)))

    def set_price(self, price: Decimal) -> float:
        """Set ``price`` now; returns the instant (taken before: the push is included)."""
        instant = time.time()
        self.sim.control.set_price(self.symbol, str(price))
        return instant

    async def all_saw(self, price: Decimal) -> None:
        if not await wait_for(lambda: all(f.marks.get(self.symbol) == price
                                          for f in self.followers), 2 * self.longest_poll + 10):
            raise RuntimeError(f"{self.symbol}: a stream never showed {price}")

    async def record(self, stage: str, kind: Phase, crossed: Callable[[], float | None],
                     wanted: list[Follower]) -> list[Follower]:
        """Wait for ``kind`` from each follower; record delays from the crossing instant
        (``crossed()`` once known). Returns the followers that fired."""
        async def one(f: Follower) -> bool:
            fired = await wait_for(lambda: (self.symbol, kind) in f.fired, f.timeout + 3)
            at = crossed()
            delay = None if not fired or at is None else (f.fired[(self.symbol, kind)] - at)
            self.samples.add(self.path, stage, f.name, None if delay is None else delay * 1000)
            return fired
        results = await asyncio.gather(*(one(f) for f in wanted))
        return [f for f, ok in zip(wanted, results, strict=True) if ok]

    async def steps(self, prices: list[Decimal], level: Decimal, up: bool,
                    crossing: list[float]) -> None:
        for price in prices:
            at = self.set_price(price)
            if not crossing and (price >= level if up else price <= level):
                crossing.append(at)
            await asyncio.sleep(0.1)

    async def pause(self) -> None:
        """Every stream just showed the price: a random pause before the next crossing, or
        it would always come right after a poll (the worst case for legacy)."""
        await asyncio.sleep(self.rng.uniform(0, self.longest_poll))

    async def round(self) -> None:
        self.set_price(self.base)
        await self.all_saw(self.base)
        for f in self.followers:
            f.arm(StopSpec(self.symbol, self.activation, self.callback))
        await self.pause()
        if self.path == "blip":
            at = self.set_price(self.activation + self.callback)
            await asyncio.sleep(0.3)
            self.set_price(self.base)
            await self.record("activation", Phase.ACTIVE, lambda: at, self.followers)
            return
        if self.path == "jump":
            at = self.set_price(self.top)
            active = await self.record("activation", Phase.ACTIVE, lambda: at, self.followers)
            await self.all_saw(self.top)
            await self.pause()
            down = self.set_price(self.top - 2 * self.callback)
            await self.record("trigger", Phase.TRIGGERED, lambda: down, active)
            return
        span = self.top - self.base
        crossing: list[float] = []
        climb = asyncio.create_task(self.steps(
            [self.tick(self.base + span * i / 20) for i in range(1, 21)], self.activation,
            True, crossing))
        active = await self.record("activation", Phase.ACTIVE,
                                   lambda: crossing[0] if crossing else None, self.followers)
        await climb
        await self.all_saw(self.top)
        await self.pause()
        crossing = []
        fall = asyncio.create_task(self.steps(
            [self.tick(self.top - 2 * self.callback * i / 20) for i in range(1, 21)],
            self.top - self.callback, False, crossing))
        await self.record("trigger", Phase.TRIGGERED,
                          lambda: crossing[0] if crossing else None, active)
        await fall


def summary(values: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max) in ms; p99 of fewer than 100 samples is interpolated between the
    largest ones (``statistics.quantiles``, inclusive)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    qs = statistics.quantiles(values, n=100, method="inclusive")
    return qs[49], qs[98], max(values)


def path_table(samples: Samples, names: list[str]) -> list[str]:
    lines = ["| path | stage | stream | fired | missed | p50 ms | p99 ms | max ms |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for path in PATHS:
        for stage in ("activation", "trigger"):
            for name in names:
                key = (path, stage, name)
                if key not in samples.delays:
                    continue
                values = samples.delays[key]
                cells = [f"{v:.1f}" for v in summary(values)] if values else ["-"] * 3
                lines.append(f"| {path} | {stage} | {name} | {len(values)} | "
                             f"{samples.missed[key]} | " + " | ".join(cells) + " |")
    return lines


def pooled(samples: Samples, name: str) -> tuple[list[float], int]:
    """Every activation delay of a stream, all paths, and its misses."""
    values = [v for (_, stage, s), vs in samples.delays.items() if s == name
              and stage == "activation" for v in vs]
    missed = sum(m for (_, stage, s), m in samples.missed.items()
                 if s == name and stage == "activation")
    return values, missed


def pooled_table(samples: Samples, names: list[str]) -> list[str]:
    lines = ["| stream | activations fired | missed | p50 ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in names:
        values, missed = pooled(samples, name)
        cells = [f"{v:.1f}" for v in summary(values)] if values else ["-"] * 3
        lines.append(f"| {name} | {len(values)} | {missed} | " + " | ".join(cells) + " |")
    return lines


def verdict(samples: Samples) -> str:
    values, missed = pooled(samples, "hybrid")
    if not values:
        return "Hybrid fired no activation: the run failed."
    p99 = summary(values)[1]
    return (f"Hybrid activation p99 {p99:.1f} ms over {len(values)} crossings ({missed} "
            f"missed): the seed target (< 1 s) is {'met' if p99 < 1000 else 'NOT met'}, "
            f"the aim (< 50 ms p99 on loopback) {'met' if p99 < 50 else 'NOT met'}.")


READING = [
    "Reading it: a legacy stream sees a crossing at its next poll, so its delay is about",
    "half the interval at p50 and the interval at worst, plus a REST round trip; a",
    "crossing shorter than the interval is seen only when a poll lands inside it (300 ms",
    "of 1 s: about 30 %, of 5 s: about 6 %), hence the blip's misses. Hybrid's delay is",
    "the ticker push through the WebSocket, the stream, its stdout pipe and the consumer.",
]


def report(samples: Samples, names: list[str], args: argparse.Namespace,
           seconds: float) -> str:
    lines = [
        "# Trailing-stop activation delay: legacy vs hybrid",
        "",
        "From the instant the simulator set a price crossing the level to the instant the",
        "trailing-stop consumer (`hybridstream.consumer.TrailingStopConsumer`) following",
        "each stream's stdout fired; all streams in the same run, on this 2-core machine,",
        "loopback. Made by `python bench/bench_trailing_stop.py` "
        f"(`--rounds {args.rounds} --polls {args.polls} --seed {args.seed}`, "
        f"{seconds:.0f} s, {time.strftime('%Y-%m-%d', time.gmtime())}).",
        "", verdict(samples), "", *READING, "", "All activations, every path pooled:", "",
        *pooled_table(samples, names), "", "Per path (the trigger is the fall through the",
        "trailed stop after activation; a blip is over the level for 300 ms only):", "",
        *path_table(samples, names),
    ]
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> tuple[Samples, list[str], float]:
    polls = [float(p) for p in args.polls.split(",")]
    followers = [Follower(f"legacy {p:g} s", p) for p in polls] + [Follower("hybrid", None)]
    config = SimulatorConfig(admin_port=0, symbols=len(PATHS) + 1,
                             accounts=(AccountConfig(api_key=KEY, api_secret=SECRET),))
    samples = Samples()
    rng = random.Random(args.seed)
    started = time.monotonic()
    async with running_simulator(config) as sim:
        instruments = list(sim.market.instruments.values())[:len(PATHS)]
        runners = []
        for path, inst in zip(PATHS, instruments, strict=True):
            sim.control.open_position(KEY, inst.symbol, "Buy", inst.min_qty)
            runners.append(PathRunner(path, inst, sim, followers=followers, samples=samples,
                                      rng=random.Random(rng.random())))
        with tempfile.TemporaryDirectory(prefix="bench-trailing-") as logs:
            for f in followers:
                await start(f, sim, Path(logs))
            readers = [asyncio.create_task(f.follow()) for f in followers]
            try:
                for _ in range(args.rounds):
                    await asyncio.gather(*(r.round() for r in runners))
            finally:
                for f in followers:
                    assert f.proc is not None
                    f.proc.terminate()
                    await f.proc.wait()
                await asyncio.gather(*readers, return_exceptions=True)
    return samples, [f.name for f in followers], time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--polls", default="1,5", help="legacy poll intervals, seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    parser.add_argument("--summary", action="store_true",
                        help="print the pooled table only, write nothing (make demo)")
    args = parser.parse_args()
    samples, names, seconds = asyncio.run(run(args))
    if args.summary:
        print("\n".join(["Trailing-stop activation delay, price crossing -> consumer fired "
                         f"({args.rounds} rounds of each path):", *pooled_table(samples, names),
                         verdict(samples)]))
        return 0
    text = report(samples, names, args, seconds)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
