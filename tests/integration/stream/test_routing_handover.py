"""Two real processes (legacy ``rest`` and hybrid ``cutover``) share one routing document
while hybridHigh/legacyLow move forward and back by the handover protocol (raise h, wait
for hybrid's ack, raise l; roll back: lower l, wait for legacy's ack, lower h). The union of
what both forwarded must cover every symbol throughout: no per-symbol gap in forwarded
events longer than a few legacy poll intervals, although each step is held longer than that
(so a real hole would show)."""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
from hybridstream.routing import RoutingDocument, bucket_of
from hybridstream.simulator.app import Simulator, running_simulator

from tests.plugins.waiting import eventually

from .harness import KEY
from .processes import StreamProcess, build_env, stream_process, write_document

HOLD_SECONDS = 4.0
MAX_GAP_MS = 3000
STEPS = [(0, 0), (50, 0), (50, 50), (100, 50), (100, 100), (100, 0), (50, 0), (0, 0)]


async def wait_ack(proc: StreamProcess, generation: int) -> None:
    async def acked() -> bool:
        try:
            return (await proc.status())["routing"]["generation"] >= generation
        except aiohttp.ClientError:
            assert proc.proc.alive(), proc.proc.tail()
            return False  # still starting
    deadline = asyncio.get_running_loop().time() + 30
    while not await acked():
        assert asyncio.get_running_loop().time() < deadline, "no ack within 30 s"
        await asyncio.sleep(0.1)


def open_everything(sim: Simulator) -> list[str]:
    """A position on every symbol, with marks scripted to move every 200 ms."""
    symbols = sorted(sim.market.tickers)
    for symbol in symbols:
        inst = sim.market.instruments[symbol]
        sim.control.open_position(KEY, symbol, "Buy", inst.min_qty)
        base, tick = sim.market.mark_price(symbol), Decimal(inst.tick_size)
        sim.control.script_prices(symbol, [str(base + (i % 5) * tick) for i in range(600)],
                                  200)
    return symbols


def max_gaps(events: list[dict], symbols: list[str], start: float, end: float) -> dict:
    times: dict[str, list[float]] = {s: [start] for s in symbols}
    for e in events:
        if e["type"] == "position.update" and start <= e["emitTime"] <= end:
            times[e["symbol"]].append(e["emitTime"])
    return {s: max(b - a for a, b in itertools.pairwise(sorted([*t, end])))
            for s, t in times.items()}


async def test_handover_never_leaves_a_symbol_uncovered(tmp_path: Path) -> None:
    routing = tmp_path / "routing.json"
    generation = itertools.count(1)
    write_document(routing, RoutingDocument(generation=next(generation), hybridMode="cutover"))
    async with running_simulator(symbols=10) as sim:
        symbols = open_everything(sim)
        assert {bucket_of(s) < 50 for s in symbols} == {True, False}  # both halves used
        env = {"HYBRID_ROUTING_FILE": str(routing)}
        with stream_process(tmp_path / "legacy.log", build_env(sim, "rest", **env)) as legacy, \
                stream_process(tmp_path / "hybrid.log",
                               build_env(sim, "cutover", **env)) as hybrid:
            for proc in (legacy, hybrid):
                await wait_ack(proc, 1)
            await eventually(lambda: len(legacy.events()) > 0, "legacy forwarding")
            start = asyncio.get_running_loop().time()
            start_ms = time.time() * 1000
            previous = STEPS[0]
            for high, low in STEPS[1:]:
                # Forward: h rises first (ack by hybrid); back: l falls first (ack by legacy).
                doc = RoutingDocument(generation=next(generation), hybridMode="cutover",
                                      hybridHigh=high, legacyLow=low)
                write_document(routing, doc)
                waiter = hybrid if high != previous[0] else legacy
                await wait_ack(waiter, doc.generation)
                await asyncio.sleep(HOLD_SECONDS)
                previous = (high, low)
            assert asyncio.get_running_loop().time() - start >= HOLD_SECONDS * (len(STEPS) - 1)
            end_ms = max(e["emitTime"] for e in legacy.events() + hybrid.events())
            events = legacy.events() + hybrid.events()
            gaps = max_gaps(events, symbols, start_ms, end_ms)
            assert max(gaps.values()) < MAX_GAP_MS, gaps
            # Both sides really forwarded during the run (not one process doing it all).
            assert {e["source"] for e in events} == {"rest", "hybrid"}
            hybrid_symbols = {e["symbol"] for e in hybrid.events()}
            assert hybrid_symbols == set(symbols)
