"""A chaos walk at the stream level: a legacy (``rest``) and a hybrid (``cutover``)
``hybridstream run`` process split the symbol buckets by one routing document (hybrid
``[0, 50)``, legacy ``[50, 100)``) against an in-process simulator over real sockets; the
hybrid side delivers into a real ``redis-server``, the legacy side into a real aiohttp
webhook. Orders keep flowing through the exchange while seeded random faults, each bounded
in time, hit the exchange, the processes and the sinks. What happened is recorded for
``chaos_accounting`` (pure). Used by ``bench/chaos.py`` (long, by hand) and
``test_chaos_short.py`` (a handful of faults).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from hybridstream.routing import Mode, Role, RoutingDocument
from hybridstream.service.sockets import sleep_unless
from hybridstream.simulator.app import Simulator, running_simulator
from hybridstream.simulator.framing import MALFORMED_KINDS

from tests.plugins.processes import LoggedProcess, free_port

from .chaos_accounting import SAMPLE_INTERVAL_S, FaultRecord, Sample, WalkRecord
from .conftest import RedisServer
from .harness import KEY, WebhookReceiver
from .journal_checks import assess_journal, trade
from .processes import build_env

HYBRID, LEGACY = "hybrid", "legacy"
REDIS_STREAM = "hs:chaos"
REDIS_PAGE = 2000
#: The split every process applies: hybrid forwards [0, 50), legacy [50, 100).
ROUTING = RoutingDocument(generation=1, hybridMode=Mode.CUTOVER, hybridHigh=50, legacyLow=50)
#: Test timings every chaos process runs with (sink retries, ticker staleness).
FAST = {"HYBRID_SINK_BACKOFF_CAP": "1", "HYBRID_TICKER_STALE_AFTER": "5"}


@dataclass(frozen=True)
class WalkConfig:
    """Bounds of one walk. Durations are (min, max) seconds drawn per fault."""

    symbols: int = 8
    redis_outage_s: tuple[float, float] = (30.0, 120.0)
    webhook_outage_s: tuple[float, float] = (10.0, 30.0)
    websocket_outage_s: tuple[float, float] = (5.0, 20.0)
    stall_s: tuple[float, float] = (3.0, 10.0)
    rate_limit_s: tuple[float, float] = (3.0, 8.0)
    sim_down_s: tuple[float, float] = (1.0, 5.0)
    kubelet_delay_s: tuple[float, float] = (1.0, 3.0)
    pause_s: tuple[float, float] = (1.0, 3.0)  # healthy time between faults
    recover_within_s: float = 90.0
    settle_within_s: float = 120.0
    trade_interval_s: float = 0.4


class Pod:
    """A ``hybridstream run`` child that can be killed with SIGKILL and started again (on a
    new port), as a kubelet restarts a container; output appended to one log. ``role``:
    hybrid or legacy (the name, unless the process plays a named Pod)."""

    def __init__(self, name: str, log: Path, env: dict[str, str], role: str = "") -> None:
        self.name = name
        self.role = role or name
        self.log = log
        self.env = env
        self.proc: LoggedProcess | None = None
        self.port = 0
        self.starts = 0

    def start(self) -> None:
        self.port = free_port()
        self.proc = LoggedProcess([sys.executable, "-m", "hybridstream.cli", "run"], self.log,
                                  env={**self.env, "HYBRID_HTTP_PORT": str(self.port)})
        self.starts += 1

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=20)
            self.proc = None

    async def ready(self, session: aiohttp.ClientSession) -> bool:
        if self.proc is None or not self.proc.alive():
            return False
        try:
            async with session.get(f"http://127.0.0.1:{self.port}/readyz",
                                   timeout=aiohttp.ClientTimeout(total=0.4)) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def probe(self, session: aiohttp.ClientSession) -> dict[str, Any] | None:
        """``/api/hybrid/status`` (readiness and the routing applied), or None if down."""
        if self.proc is None or not self.proc.alive():
            return None
        try:
            async with session.get(f"http://127.0.0.1:{self.port}/api/hybrid/status",
                                   timeout=aiohttp.ClientTimeout(total=0.4)) as resp:
                return await resp.json() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None


class ChaosWalk:
    """The running system and the faults that can hit it."""

    def __init__(self, sim: Simulator, redis_server: RedisServer, receiver: WebhookReceiver,
                 workdir: Path, *, config: WalkConfig, rng: random.Random) -> None:
        self.sim = sim
        self.redis_server = redis_server
        self.receiver = receiver
        self.config = config
        self.rng = rng
        self.symbols = sorted(sim.market.instruments)
        self.owner_of = {s: HYBRID if ROUTING.forwards(Role.HYBRID, s) else LEGACY
                         for s in self.symbols}
        if set(self.owner_of.values()) != {HYBRID, LEGACY}:
            raise ValueError(f"{config.symbols} symbols do not span both halves")
        self.workdir = workdir
        self.pods: dict[str, Pod] = self.build_pods()
        self.sink_down = {HYBRID: False, LEGACY: False}
        self.placed: dict[str, list[str]] = defaultdict(list)
        self.trades = 0
        self.samples: list[Sample] = []
        self.redis = aioredis.Redis.from_url(redis_server.url, socket_timeout=2)
        self.http = aiohttp.ClientSession()
        self.faults: dict[str, Callable[[FaultRecord], Awaitable[None]]] = {
            "drop-clean": self._drop("clean"), "drop-reset": self._drop("reset"),
            "drop-1006": self._drop("no_close_frame"), "stall": self._stall,
            "reject-auth": self._reject_auth, "rate-limit": self._rate_limit,
            "malformed": self._malformed, "sim-restart": self._sim_restart,
            "refuse-websockets": self._refuse_websockets,
            "kill9-hybrid": self._kill(HYBRID), "kill9-legacy": self._kill(LEGACY),
            "redis-outage": self._redis_outage, "webhook-outage": self._webhook_outage,
        }

    def sink_env(self, role: str, spill: Path) -> dict[str, str]:
        """Where a process of ``role`` delivers: hybrid into Redis, legacy into the webhook
        (each with its own spill directory)."""
        if role == HYBRID:
            return {"HYBRID_SINK": "redis", "HYBRID_SINK_URL": self.redis_server.url,
                    "HYBRID_REDIS_STREAM": REDIS_STREAM, "HYBRID_SPILL_DIR": str(spill)}
        return {"HYBRID_SINK": "webhook", "HYBRID_SINK_URL": self.receiver.url,
                "HYBRID_SPILL_DIR": str(spill)}

    def build_pods(self) -> dict[str, Pod]:
        """One process per side, both applying ``ROUTING`` from a file."""
        routing = self.workdir / "routing.json"
        routing.write_text(ROUTING.to_json())
        common = {"HYBRID_ROUTING_FILE": str(routing), **FAST}
        return {role: Pod(role, self.workdir / f"{role}.log", build_env(
            self.sim, mode, **common, **self.sink_env(role, self.workdir / f"spill-{role}")))
            for role, mode in ((HYBRID, "cutover"), (LEGACY, "rest"))}

    # -- background activity ----------------------------------------------------------------
    async def trader(self, stop: asyncio.Event) -> None:
        """Market orders round the symbols for as long as the walk runs: 1 or 2 minimum
        sizes, so every symbol stays open (the coverage accounting relies on it)."""
        while not stop.is_set():
            trade(self.sim, self.placed, self.symbols, 1, start=self.trades)
            self.trades += 1
            await sleep_unless(stop, self.config.trade_interval_s)

    async def sample(self) -> Sample:
        """Readiness of each process now (its forwarding is fixed: ``owner_of``)."""
        at = time.time() * 1000
        ready = await asyncio.gather(*(p.ready(self.http) for p in self.pods.values()))
        return Sample(at, dict(zip(self.pods, ready, strict=True)), dict(self.sink_down))

    async def sampler(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.samples.append(await self.sample())
            await sleep_unless(stop, SAMPLE_INTERVAL_S)

    # -- faults -----------------------------------------------------------------------------
    def _span(self, bounds: tuple[float, float]) -> float:
        return round(self.rng.uniform(*bounds), 1)

    def _drop(self, mode: str) -> Callable[[FaultRecord], Awaitable[None]]:
        async def fault(record: FaultRecord) -> None:
            record.detail = f"{await self.sim.control.drop_connections('all', mode)} sockets"
        return fault

    async def _stall(self, record: FaultRecord) -> None:
        seconds = self._span(self.config.stall_s)
        self.sim.control.stall()
        await asyncio.sleep(seconds)
        self.sim.control.unstall()
        record.detail = f"{seconds} s"

    async def _reject_auth(self, record: FaultRecord) -> None:
        count = self.rng.randint(1, 4)
        self.sim.control.reject_auth(count)
        await self.sim.control.drop_connections("private", "clean")
        record.detail = f"{count} auths"

    async def _rate_limit(self, record: FaultRecord) -> None:
        seconds = self._span(self.config.rate_limit_s)
        self.sim.control.rate_limit(seconds=seconds)
        await self.sim.control.drop_connections("private", "reset")  # re-seed into it
        await asyncio.sleep(seconds)
        record.detail = f"{seconds} s"

    async def _malformed(self, record: FaultRecord) -> None:
        kinds = self.rng.sample(MALFORMED_KINDS, self.rng.randint(1, 3))
        for kind in kinds:
            self.sim.control.send_malformed(kind, "all")
        record.detail = ",".join(kinds)

    async def _sim_restart(self, record: FaultRecord) -> None:
        seconds = self._span(self.config.sim_down_s)
        await self.sim.control.restart(seconds)
        record.detail = f"{seconds} s down"

    async def _refuse_websockets(self, record: FaultRecord) -> None:
        seconds = self._span(self.config.websocket_outage_s)
        await self.sim.control.refuse_websockets(seconds)
        await asyncio.sleep(seconds)
        record.detail = f"{seconds} s"

    def _kill(self, role: str) -> Callable[[FaultRecord], Awaitable[None]]:
        async def fault(record: FaultRecord) -> None:
            live = sorted((p for p in self.pods.values() if p.role == role and p.proc),
                          key=lambda p: p.name)
            if not live:
                record.detail = f"no {role} process"
                return
            pod = live[0] if len(live) == 1 else self.rng.choice(live)
            delay = self._span(self.config.kubelet_delay_s)
            pod.kill9()
            await asyncio.sleep(delay)  # the kubelet's restart delay
            if self.pods.get(pod.name) is pod:  # its Pod may have gone meanwhile
                pod.start()
            record.detail = f"restarted after {delay} s" if pod.name == role else \
                f"{pod.name} restarted after {delay} s"
        return fault

    async def _redis_outage(self, record: FaultRecord) -> None:
        seconds = self._span(self.config.redis_outage_s)
        self.sink_down[HYBRID] = True
        await asyncio.to_thread(self.redis_server.stop)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(self.redis_server.start)
        self.sink_down[HYBRID] = False
        record.detail = f"{seconds} s"

    async def _webhook_outage(self, record: FaultRecord) -> None:
        seconds = self._span(self.config.webhook_outage_s)
        self.sink_down[LEGACY] = True
        self.receiver.status = 503
        await asyncio.sleep(seconds)
        self.receiver.status = 200
        self.sink_down[LEGACY] = False
        record.detail = f"{seconds} s"

    # -- observation ------------------------------------------------------------------------
    async def redis_events(self) -> list[dict[str, Any]]:
        """Everything in the Redis stream, read in pages: one XRANGE of ~20 000 entries on a
        loaded machine outlasts the client's 2 s socket timeout."""
        events: list[dict[str, Any]] = []
        start = "-"
        while page := await self.redis.xrange(REDIS_STREAM, min=start, count=REDIS_PAGE):
            events += [json.loads(fields[b"event"]) for _, fields in page]
            start = "(" + page[-1][0].decode()  # exclusive: after the last one read
        return events

    async def fresh_ms(self) -> dict[str, float]:
        """Per side, the exchange time of the newest fact its sink holds that proves its
        whole path works again (0: none): hybrid, an execution (a fill that crossed the
        private socket or its REST recovery); legacy, a position snapshot."""
        recent = await self.redis.xrevrange(REDIS_STREAM, count=200)
        fills = [json.loads(fields[b"event"]) for _, fields in recent]
        hybrid = max((float(e["data"]["execTime"]) for e in fills
                      if e["type"] == "execution"), default=0.0)
        legacy = float(self.receiver.events[-1]["emitTime"]) if self.receiver.events else 0.0
        return {HYBRID: hybrid, LEGACY: legacy}

    async def forwarding_sides(self) -> set[str]:
        """The sides whose sinks must show a fresh fact for the system to have recovered."""
        return {HYBRID, LEGACY}

    async def recovered(self, since_ms: float) -> bool:
        """Every process ready and the sink of each side that forwards anything holds a
        fact newer than ``since_ms``."""
        ready = await asyncio.gather(*(p.ready(self.http) for p in self.pods.values()))
        if not all(ready):
            return False
        try:
            fresh = await self.fresh_ms()
        except aioredis.RedisError:
            return False
        return all(fresh[side] > since_ms for side in await self.forwarding_sides())

    async def wait_recovered(self, since_ms: float, within_s: float) -> float | None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if await self.recovered(since_ms):
                return time.time() * 1000
            await asyncio.sleep(0.25)
        return None

    def heal(self) -> None:
        """After a fault that did not recover: a healthy exchange and running pods, so the
        next fault starts from a known state (the failure stays in the record)."""
        self.sim.control.clear_faults()
        self.receiver.status = 200
        for pod in self.pods.values():
            if pod.proc is None or not pod.proc.alive():
                pod.stop()
                pod.start()

    # -- the walk ---------------------------------------------------------------------------
    async def where(self) -> str:
        """Where the system stood when a fault hit (nothing to tell at the stream level)."""
        return ""

    async def inject(self, kind: str, progress: Callable[[str], None]) -> FaultRecord:
        where = await self.where()
        record = FaultRecord(kind, time.time() * 1000, where=where)
        await self.faults[kind](record)
        record.end_ms = time.time() * 1000
        record.recovered_ms = await self.wait_recovered(record.end_ms,
                                                        self.config.recover_within_s)
        if record.recovered_ms is None:
            self.heal()
            await self.wait_recovered(time.time() * 1000, self.config.recover_within_s)
        shown = "NOT RECOVERED" if record.recover_s is None else f"{record.recover_s:.1f} s"
        progress(f"{kind:<18} {where + ' ' if where else ''}{record.detail:<28} "
                 f"recovered in {shown}")
        return record

    def lost_so_far(self, delivered: list[dict[str, Any]]) -> int:
        """Orders and executions of hybrid-owned symbols not yet at the sink (settling)."""
        seen = {(e["type"], e["data"]["orderId"]) for e in delivered
                if e["type"] in ("order", "execution")}
        return sum((kind, oid) not in seen for symbol, ids in self.placed.items()
                   if self.owner_of[symbol] == HYBRID for oid in ids
                   for kind in ("order", "execution"))

    async def begin(self) -> None:
        """Bring the stream processes up."""
        for pod in self.pods.values():
            pod.start()

    def activities(self, stop: asyncio.Event) -> list[Awaitable[None]]:
        """What runs for the whole walk, until ``stop``."""
        return [self.trader(stop)]

    async def conclude(self, progress: Callable[[str], None]) -> None:
        """After the last fault, before the background activity stops."""

    def fill(self, record: WalkRecord) -> None:
        """What a walk adds to ``record`` beyond the common figures."""
        record.owner_of = dict(self.owner_of)

    async def run(self, kinds: list[str], budget_s: float, record: WalkRecord,
                  progress: Callable[[str], None]) -> None:
        """Start the pods, wait until serving, inject ``kinds`` in order (stopping early when
        ``budget_s`` is spent), settle, and fill ``record``."""
        started = time.monotonic()
        for symbol in self.symbols:  # every symbol open from the start
            self.sim.control.open_position(KEY, symbol, "Buy",
                                           self.sim.market.instruments[symbol].min_qty)
        await self.begin()
        stop = asyncio.Event()
        background = [asyncio.create_task(a) for a in self.activities(stop)]
        try:
            if await self.wait_recovered(time.time() * 1000, 60) is None:
                raise RuntimeError("the stream processes never served: see their logs")
            # Coverage is measured from the moment both sides served (start-up is not a gap).
            background.append(asyncio.create_task(self.sampler(stop)))
            progress(await self.serving())
            for n, kind in enumerate(kinds, 1):
                if time.monotonic() - started > budget_s:
                    progress(f"budget of {budget_s:.0f} s spent after {n - 1} faults")
                    break
                record.faults.append(await self.inject(kind, lambda line, n=n: progress(
                    f"[{n}/{len(kinds)}] {line}")))
                await asyncio.sleep(self._span(self.config.pause_s))
            await self.conclude(progress)
        finally:
            stop.set()
            await asyncio.gather(*background)
        deadline = time.monotonic() + self.config.settle_within_s
        while time.monotonic() < deadline:  # late deliveries (a drained spill) count
            sinks = [await self.redis_events(), list(self.receiver.events)]
            delivered = sinks[0] + sinks[1]
            if not self.lost_so_far(delivered) and not assess_journal(
                    self.sim, delivered, sinks) and await self.recovered(0):
                record.settled = True
                break
            await asyncio.sleep(1)
        record.sinks = [await self.redis_events(), list(self.receiver.events)]
        record.delivered = record.sinks[0] + record.sinks[1]
        account = self.sim.engine.accounts[KEY]
        record.executions = list(account.executions)
        record.orders = list(account.orders.values())
        record.journal = self.sim.control.journal_entries(KEY)
        self.fill(record)
        record.samples = list(self.samples)
        record.orders_placed = self.trades + len(self.symbols)
        record.starts = {name: pod.starts for name, pod in self.pods.items()}
        record.seconds = time.monotonic() - started

    async def serving(self) -> str:
        """What serves, once everything first does (a progress line)."""
        return f"serving: hybrid owns {self.owned(HYBRID)}, legacy {self.owned(LEGACY)}"

    def owned(self, side: str) -> list[str]:
        return [s for s, owner in self.owner_of.items() if owner == side]

    async def close(self) -> None:
        for pod in self.pods.values():
            pod.stop()
        await self.http.close()
        await self.redis.aclose()


def draw_faults(rng: random.Random, count: int, kinds: list[str],
                weights: dict[str, float] | None = None) -> list[str]:
    """``count`` fault kinds drawn with ``weights`` (default 1 each), seeded."""
    w = [(weights or {}).get(k, 1.0) for k in kinds]
    return rng.choices(kinds, weights=w, k=count)


@asynccontextmanager
async def chaos_system(workdir: Path, config: WalkConfig, rng: random.Random,
                       make: Callable[..., ChaosWalk] | None = None) -> AsyncIterator[ChaosWalk]:
    """Simulator, Redis (durable, as production's), webhook receiver and the walk (``make``:
    a ``ChaosWalk`` subclass, or a partial of one); every process started here is stopped
    on exit."""
    await asyncio.to_thread((workdir / "redis").mkdir, parents=True, exist_ok=True)
    redis_server = RedisServer(workdir / "redis", durable=True)
    redis_server.start()
    try:
        async with WebhookReceiver() as receiver, \
                running_simulator(symbols=config.symbols) as sim:
            walk = (make or ChaosWalk)(sim, redis_server, receiver, workdir, config=config,
                                       rng=rng)
            try:
                yield walk
            finally:
                await walk.close()
    finally:
        redis_server.stop()
