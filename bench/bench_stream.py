"""Stream benchmark: our hybrid stream vs pybit's WebSocket vs ccxt's watch_ticker, fed by
the same simulator, plus our parse+merge+route core alone (no sockets).

Per load (symbols x push interval), one simulator process (a position open on every symbol,
so our stream subscribes every ticker like the others) serves every client. The clients take
turns: each runs alone, in its own process, for one window per round, the order reversed
every other round; the simulator is pinned to one core and the client to the other(s), so a
client's latency is its own and not the CPU another client burnt. Reported per client:
ticker messages per CPU-second of the client process and latency from the instant the
simulator took a push's ``ts`` (logged to the microsecond) to the first point user code
holds the new merged mark price (ours: the sink; pybit: its callback; ccxt: after ``await
watch_ticker``), p50/p99 over every mark-changing push, and ratios to ours. *floor* (bare
aiohttp + orjson) is a reference, not a competitor. Bounded: about 3-4 minutes per load with
the defaults. Results: bench/results/stream.md.

    python bench/bench_stream.py [--seconds 10] [--rounds 2] [--loads 60x50,500x100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro
import orjson
import pybit.unified_trading as ut
from hybridstream.hybrid.book import HybridBook
from hybridstream.hybrid.events import Source
from hybridstream.hybrid.frames import PrivateFrame, parse_frame
from hybridstream.routing import Mode, Role, RoutingDocument
from hybridstream.service.app import StreamService
from hybridstream.service.metrics import StreamMetrics
from hybridstream.service.outbox import Outbox
from hybridstream.service.pipeline import Pipeline
from hybridstream.settings import StreamSettings
from hybridstream.simulator.app import running_simulator
from hybridstream.simulator.config import AccountConfig, SimulatorConfig
from hybridstream.simulator.market import build_instruments

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "stream.md"
KEY = "BENCHKEY0000000000"
SECRET = "BENCHSECRET000000000000000000000000000"
HISTORY_MARKER = "## Before / after"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentiles(latencies_ms: list[float]) -> tuple[float, float]:
    """(p50, p99) in ms."""
    if len(latencies_ms) < 2:
        return (latencies_ms[0], latencies_ms[0]) if latencies_ms else (0.0, 0.0)
    qs = statistics.quantiles(latencies_ms, n=100)
    return round(qs[49], 2), round(qs[98], 2)


def latencies_ms(samples: dict[str, float], ticks: dict[int, float]) -> list[float]:
    """Tick -> user code, in ms, for every sample whose tick the simulator logged."""
    out = []
    for key, arrived in samples.items():
        at = tick_time(ticks, int(key.rpartition("|")[2]))
        if at is not None:
            out.append((arrived - at) * 1000)
    return out


def summarise(rounds: list[dict[str, Any]], ticks: dict[int, float]) -> dict[str, Any]:
    """One client over all its windows: throughput from its own counts and CPU, latency
    percentiles over the pooled samples, and each window's p99 (the spread)."""
    messages, cpu_s = sum(r["messages"] for r in rounds), sum(r["cpu_s"] for r in rounds)
    per_round = [latencies_ms(r["samples"], ticks) for r in rounds]
    p50, p99 = percentiles([x for lat in per_round for x in lat])
    return {"messages": messages, "cpu_s": round(cpu_s, 4),
            "msgs_per_cpu_s": round(messages / cpu_s, 1) if cpu_s else 0.0,
            "samples": sum(len(lat) for lat in per_round), "p50_ms": p50, "p99_ms": p99,
            "round_p99_ms": [percentiles(lat)[1] for lat in per_round]}


# -- the core alone ---------------------------------------------------------------------------
def build_feed(symbols: list[str], count: int, rng: random.Random) -> list[str]:
    """Ticker frames shaped like Bybit's: a snapshot per symbol, then sparse deltas."""
    frames, marks, ts = [], {s: 100.0 + i for i, s in enumerate(symbols)}, 1_700_000_000_000
    for s in symbols:
        frames.append(json.dumps({"topic": f"tickers.{s}", "type": "snapshot", "cs": 1,
                                  "ts": ts, "data": {"symbol": s, "markPrice": f"{marks[s]:.2f}",
                                                     "lastPrice": f"{marks[s]:.2f}",
                                                     "bid1Price": "1", "ask1Price": "2"}}))
    for i in range(count - len(symbols)):
        s = symbols[i % len(symbols)]
        data: dict[str, str] = {"symbol": s, "bid1Size": f"{rng.random() * 50:.3f}"}
        if rng.random() < 0.3:
            marks[s] += rng.choice((-0.01, 0.01))
            data["markPrice"] = f"{marks[s]:.2f}"
        frames.append(json.dumps({"topic": f"tickers.{s}", "type": "delta", "cs": i,
                                  "ts": ts + i, "data": data}))
    return frames


def bench_core(seconds_budget: float = 3.0) -> dict[str, Any]:
    """parse_frame + HybridBook.on_ticker + the pipeline's routing decision and outbox (the
    code the public client runs per frame, minus the socket), single thread."""
    symbols = [f"SYM{i:03d}USDT" for i in range(50)]
    book = HybridBook()
    book.on_private(PrivateFrame("position", 1, [
        {"symbol": s, "positionIdx": 0, "side": "Buy", "size": "1", "entryPrice": "100",
         "seq": 1} for s in symbols]), 0.0)
    pipeline = Pipeline(Role.HYBRID, StreamMetrics(), Outbox(10_000), build_sink_null(),
                        RoutingDocument(generation=1, hybridMode=Mode.CUTOVER, hybridHigh=50))
    feed = build_feed(symbols, 100_000, random.Random(7))
    processed = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds_budget:
        for text in feed:
            frame = parse_frame(text)
            pipeline.received("ticker", Source.HYBRID)
            events = book.on_ticker(frame, 0.0)  # type: ignore[arg-type]
            if events:
                pipeline.emit(events)
        processed += len(feed)
    elapsed = time.perf_counter() - start
    return {"messages": processed, "seconds": round(elapsed, 2),
            "msgs_per_s": round(processed / elapsed),
            "position_events": pipeline.stats["produced"],
            "routed_out": pipeline.stats["produced"] - pipeline.stats["filtered"]}


def build_sink_null() -> Any:
    """A sink that is never drained to (the core bench measures up to the outbox)."""

    class NullSink:
        async def send(self, batch: list[dict[str, Any]]) -> None:
            return None

        async def close(self) -> None:
            return None

    return NullSink()


# -- the simulator process ------------------------------------------------------------------
async def serve_simulator(port: int, symbols: int, interval_ms: int) -> None:
    """The simulator, plus a log of every tick: its ``ts`` (what the frames carry, in ms) ->
    the unix time, to the microsecond, at which the simulator took that ``ts``. Latencies are
    measured from that instant, so the ms rounding of ``ts`` does not blur them."""
    config = SimulatorConfig(port=port, symbols=symbols, ticker_interval_ms=interval_ms,
                             accounts=(AccountConfig(api_key=KEY, api_secret=SECRET),))
    ticks: dict[int, float] = {}
    async with running_simulator(config) as sim:
        publish = sim.public.publish_changes

        def logged_publish(changes: dict[str, dict[str, str]]) -> int:
            now = time.time()
            ticks[int(now * 1000)] = now  # publish_changes stamps ts a few us later
            return publish(changes)

        sim.public.publish_changes = logged_publish  # type: ignore[method-assign]
        for symbol, inst in sim.market.instruments.items():
            sim.control.open_position(KEY, symbol, "Buy", inst.min_qty)
        print("READY", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    print(json.dumps(ticks), flush=True)


def tick_time(ticks: dict[int, float], ts: int) -> float | None:
    """When the simulator took ``ts``: logged under ts, or under ts - 1 when a ms boundary
    fell between the log and the stamp."""
    return ticks.get(ts, ticks.get(ts - 1))


# -- the clients ----------------------------------------------------------------------------
# Every client runs alone (see run_load) and reports ``{"messages", "cpu_s", "wall_s",
# "samples"}`` for its window [start_at, start_at + seconds] (unix time). ``samples`` maps
# "SYMBOL|ts" (the simulator's ``ts`` of the ticker push) to the unix time at which user code
# first held the new merged mark price. Only pushes that change a symbol's mark price are
# sampled, for every client alike.
class Window:
    """One client's measurement window: CPU and counts are differences across it."""

    def __init__(self, start_at: float, seconds: float) -> None:
        self.start_at, self.end_at = start_at, start_at + seconds
        self.cpu0 = self.cpu1 = 0.0
        self.samples: dict[str, float] = {}

    def open(self, now: float) -> bool:
        return self.start_at <= now < self.end_at

    def sample(self, symbol: str, ts: int) -> None:
        now = time.time()
        if self.open(now):
            self.samples[f"{symbol}|{ts}"] = now

    def result(self, messages: int) -> dict[str, Any]:
        return {"messages": messages, "cpu_s": round(self.cpu1 - self.cpu0, 4),
                "wall_s": round(self.end_at - self.start_at, 2), "samples": self.samples}


async def client_hybridstream(base: str, window: Window) -> dict:
    """Our service as deployed (production mode); user code = the sink."""

    class LatencySink:
        async def send(self, batch: list[dict[str, Any]]) -> None:
            for event in batch:
                if event["type"] == "position.update":
                    window.sample(event["symbol"], event["exchangeTime"])

        async def close(self) -> None:
            return None

    settings = StreamSettings.model_validate({
        "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET, "HYBRID_MODE": "production",
        "BYBIT_REST_URL": f"http://{base}", "BYBIT_WS_PUBLIC_URL": f"ws://{base}/v5/public/linear",
        "BYBIT_WS_PRIVATE_URL": f"ws://{base}/v5/private", "HYBRID_HTTP_HOST": "127.0.0.1",
        "HYBRID_HTTP_PORT": 0})
    async with StreamService(settings, sink=LatencySink()) as service:
        def tickers() -> float:
            return service.metrics.registry.get_sample_value(
                "hybridstream_events_total", {"type": "ticker", "source": "hybrid"}) or 0.0
        await asyncio.sleep(window.start_at - time.time())
        n0, window.cpu0 = tickers(), cpu_seconds()
        await asyncio.sleep(window.end_at - time.time())
        n1, window.cpu1 = tickers(), cpu_seconds()
    return window.result(int(n1 - n0))


def client_pybit(base: str, window: Window, symbols: list[str]) -> dict:
    """pybit's WebSocket (its own thread); user code = the ticker callback (merged data)."""
    ut.PUBLIC_WSS = f"ws://{base}/v5/public/{{CHANNEL_TYPE}}"
    marks: dict[str, str] = {}
    count = {"n": 0}

    def callback(msg: dict) -> None:
        if window.open(time.time()):
            count["n"] += 1
        data = msg["data"]
        mark = data.get("markPrice")
        if mark is not None and marks.get(data["symbol"]) != mark:
            marks[data["symbol"]] = mark
            window.sample(data["symbol"], msg["ts"])

    ws = ut.WebSocket(testnet=False, channel_type="linear")
    for i in range(0, len(symbols), 10):
        ws.ticker_stream(symbol=symbols[i:i + 10], callback=callback)
    time.sleep(max(0.0, window.start_at - time.time()))
    window.cpu0 = cpu_seconds()
    time.sleep(max(0.0, window.end_at - time.time()))
    window.cpu1 = cpu_seconds()
    ws.exit()
    return window.result(count["n"])


async def client_ccxt(base: str, window: Window, symbols: list[str]) -> dict:
    """ccxt.pro, one ``watch_ticker`` loop per symbol (ccxt resolves one future per update);
    user code = the statement after ``await watch_ticker`` (merged ticker)."""
    ex = ccxtpro.bybit({"enableRateLimit": False})
    api = ex.urls["api"]
    for key in ("spot", "futures", "v2", "public", "private"):
        api[key] = f"http://{base}"
    api["ws"]["public"]["linear"] = f"ws://{base}/v5/public/linear"
    await ex.load_markets()
    count = {"n": 0}

    async def watch(market_id: str) -> None:
        symbol, mark = ex.markets_by_id[market_id][0]["symbol"], None
        while True:
            ticker = await ex.watch_ticker(symbol)
            if window.open(time.time()):
                count["n"] += 1
            new_mark = ticker["info"].get("markPrice")
            if new_mark is not None and new_mark != mark:
                mark = new_mark
                window.sample(market_id, ticker["timestamp"])

    tasks = [asyncio.create_task(watch(s)) for s in symbols]
    await asyncio.sleep(window.start_at - time.time())
    window.cpu0 = cpu_seconds()
    await asyncio.sleep(window.end_at - time.time())
    window.cpu1 = cpu_seconds()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await ex.close()
    return window.result(count["n"])


async def client_floor(base: str, window: Window, symbols: list[str]) -> dict:
    """Reference, not a competitor: aiohttp + orjson and a dict of marks, nothing else. No
    client can beat its latency (simulator send + kernel + one process wake-up)."""
    marks: dict[str, str] = {}
    count = {"n": 0}

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return
            frame = orjson.loads(msg.data)
            data = frame.get("data")
            if not isinstance(data, dict) or "ts" not in frame:
                continue  # acks
            if window.open(time.time()):
                count["n"] += 1
            mark = data.get("markPrice")
            if mark is not None and marks.get(data["symbol"]) != mark:
                marks[data["symbol"]] = mark
                window.sample(data["symbol"], frame["ts"])

    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"ws://{base}/v5/public/linear") as ws:
        for i in range(0, len(symbols), 10):
            await ws.send_str(json.dumps({"op": "subscribe", "args": [
                f"tickers.{s}" for s in symbols[i:i + 10]]}))
        reader = asyncio.create_task(read(ws))
        await asyncio.sleep(window.start_at - time.time())
        window.cpu0 = cpu_seconds()
        await asyncio.sleep(window.end_at - time.time())
        window.cpu1 = cpu_seconds()
        reader.cancel()
    return window.result(count["n"])


def run_client(name: str, base: str, window: Window, symbols: list[str]) -> dict:
    if name == "hybridstream":
        return asyncio.run(client_hybridstream(base, window))
    if name == "pybit":
        return client_pybit(base, window, symbols)
    if name == "floor":
        return asyncio.run(client_floor(base, window, symbols))
    return asyncio.run(client_ccxt(base, window, symbols))


# -- orchestration ----------------------------------------------------------------------------
CLIENTS = ("hybridstream", "pybit", "ccxt")
REFERENCES = ("floor",)  # measured in the same run, not a competitor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_window(args: argparse.Namespace, port: int, symbols: int, name: str,
               cpus: str) -> dict[str, Any]:
    """One client alone against the simulator for one window, in its own process."""
    start_at = time.time() + args.startup
    proc = subprocess.run(
        [sys.executable, __file__, "--role", f"client-{name}", "--base", f"127.0.0.1:{port}",
         "--seconds", str(args.seconds), "--symbols", str(symbols), "--start-at", str(start_at),
         "--cpus", cpus], check=False, stdout=subprocess.PIPE, text=True,
        timeout=args.startup + args.seconds + 90)
    if proc.returncode != 0:
        raise RuntimeError(f"client {name} exited {proc.returncode}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def split_cores() -> tuple[str, str]:
    """(simulator cores, client cores) as ``taskset``-style lists: the simulator gets the
    first core, the client the rest, so neither waits for the other's CPU. One core: both
    share it (""), which the report says."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return "", ""
    return str(cores[0]), ",".join(str(c) for c in cores[1:])


def pin(cpus: str) -> None:
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


def window_order(round_index: int) -> list[str]:
    """Alternate the order each round, so a drift in machine load hits every client alike."""
    names = list(CLIENTS + REFERENCES)
    return names if round_index % 2 == 0 else names[::-1]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def build_load_table(clients: dict[str, dict]) -> list[str]:
    """One load's comparison table."""
    ours = clients["hybridstream"]
    lines = [
        "| client | messages | CPU s | msgs/CPU-s | p50 ms | p99 ms | p99 per round ms | "
        "samples | msgs/CPU-s: ours / client | p99: client / ours |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in CLIENTS + REFERENCES:
        r = clients[name]
        rounds = ", ".join(str(x) for x in r["round_p99_ms"])
        lines.append(f"| {name} | {r['messages']} | {r['cpu_s']} | {r['msgs_per_cpu_s']} | "
                     f"{r['p50_ms']} | {r['p99_ms']} | {rounds} | {r['samples']} | "
                     f"{ratio(ours['msgs_per_cpu_s'], r['msgs_per_cpu_s'])} | "
                     f"{ratio(r['p99_ms'], ours['p99_ms'])} |")
    return lines


def write_report(core: dict, runs: list[tuple[int, int, dict[str, dict]]],
                 args: argparse.Namespace) -> str:
    sim_cpus, client_cpus = split_cores()
    placement = (f"the simulator pinned to core {sim_cpus}, each client to core(s) "
                 f"{client_cpus}" if sim_cpus else "one core shared by the simulator and the "
                 "client (no pinning possible)")
    lines = [
        "# Stream benchmark",
        "",
        f"Run: `python bench/bench_stream.py --seconds {args.seconds} --rounds {args.rounds} "
        f"--loads {args.loads}` on {os.cpu_count()} cores, {placement}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "## Same simulator feed, one client at a time",
        "",
        "Per load (symbols, one ticker push per symbol per interval), one simulator process "
        "fans the feed out and the clients take turns against it: each runs alone, in its own "
        f"process, for a {args.seconds} s window per round, {args.rounds} rounds, the order "
        "reversed every other round so a drift in machine load hits all alike. The simulator "
        "has a core to itself and the client the other(s): when every client ran at once on "
        "these 2 cores (this bench before 2026-12-01), each client's latency mostly measured "
        "the CPU the other clients burnt.",
        "",
        "* *messages*: ticker frames the client handed to user code in its windows; *CPU s*: "
        "user+system CPU of the client's own process (`getrusage(RUSAGE_SELF)`, all its "
        "threads) across its windows; *msgs/CPU-s* = messages / CPU s (higher is better).",
        "* *latency*: from the instant the simulator took the push's `ts` (logged by the "
        "simulator to the microsecond; the frame carries it in ms) to the wall clock at the "
        "first point user code holds the new merged mark price: ours, the sink "
        "(`position.update`, after merge, routing and the outbox); pybit, its ticker "
        "callback; ccxt, the statement after `await watch_ticker`. Only pushes that change a "
        "symbol's mark price are sampled, for every client. *p50/p99* are over all of the "
        "client's windows; *p99 per round* is each window's own p99 (the spread). Our "
        "message count is read from `hybridstream_events_total` at the window edges.",
        "* *floor* is a reference measured in the same run, not a competitor: a bare aiohttp "
        "reader that decodes with orjson and tracks marks, nothing else. Its latency is what "
        "the simulator's fan-out, the kernel and one process wake-up cost.",
        "",
        "| load | pushes/s | msgs/CPU-s: ours / pybit | ours / ccxt | "
        "p99: pybit / ours | ccxt / ours | p99 ms: ours, pybit, ccxt, floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for symbols, interval_ms, clients in runs:
        o, p, c, f = (clients[n] for n in ("hybridstream", "pybit", "ccxt", "floor"))
        lines.append(
            f"| {symbols} x {interval_ms} ms | {symbols * 1000 // interval_ms} | "
            f"{ratio(o['msgs_per_cpu_s'], p['msgs_per_cpu_s'])} | "
            f"{ratio(o['msgs_per_cpu_s'], c['msgs_per_cpu_s'])} | "
            f"{ratio(p['p99_ms'], o['p99_ms'])} | {ratio(c['p99_ms'], o['p99_ms'])} | "
            f"{o['p99_ms']}, {p['p99_ms']}, {c['p99_ms']}, {f['p99_ms']} |")
    for symbols, interval_ms, clients in runs:
        lines += ["", f"### {symbols} symbols, a push per symbol every {interval_ms} ms", ""]
        lines += build_load_table(clients)
    lines += [
        "",
        "## Our parse + merge + route path alone (no sockets, one core)",
        "",
        f"{core['messages']} ticker frames in {core['seconds']} s: **{core['msgs_per_s']} "
        f"msgs/s** (target >= 50,000): `parse_frame`, the received counter, "
        "`HybridBook.on_ticker` (merge, PnL) and `Pipeline.emit` (routing decision + "
        f"coalescing outbox). {core['position_events']} position events produced (30 % of "
        "frames move the mark of a symbol with an open position), "
        f"{core['routed_out']} of them routed to the outbox (routing document: cutover, "
        "hybridHigh=50).",
        "",
    ]
    return "\n".join(lines)


def parse_loads(text: str) -> list[tuple[int, int]]:
    """``60x50,500x100`` -> [(60, 50), (500, 100)] (symbols x push interval in ms)."""
    loads = []
    for part in text.split(","):
        symbols, _, interval = part.strip().partition("x")
        if not (symbols.isdigit() and interval.isdigit()):
            raise argparse.ArgumentTypeError(f"load {part!r}: want SYMBOLSxINTERVAL_MS")
        loads.append((int(symbols), int(interval)))
    return loads


def run_load(args: argparse.Namespace, symbols: int, interval_ms: int) -> dict[str, dict]:
    """One simulator process at this load; every client against it alone, round by round."""
    port = free_port()
    sim_cpus, client_cpus = split_cores()
    sim = subprocess.Popen([sys.executable, __file__, "--role", "simulator", "--base", str(port),
                            "--symbols", str(symbols), "--interval-ms", str(interval_ms),
                            "--cpus", sim_cpus], stdout=subprocess.PIPE, text=True)
    windows: dict[str, list[dict[str, Any]]] = {n: [] for n in CLIENTS + REFERENCES}
    try:
        assert sim.stdout is not None and sim.stdout.readline().strip() == "READY"
        for round_index in range(args.rounds):
            for name in window_order(round_index):
                raw = run_window(args, port, symbols, name, client_cpus)
                windows[name].append(raw)
                print(f"{symbols}x{interval_ms} round {round_index + 1}/{args.rounds} {name}: "
                      f"{raw['messages']} messages, {raw['cpu_s']} CPU s", flush=True)
    finally:
        sim.send_signal(signal.SIGTERM)
        out, _ = sim.communicate(timeout=20)
    ticks = {int(ts): at for ts, at in json.loads(out.strip().splitlines()[-1]).items()}
    return {name: summarise(rounds, ticks) for name, rounds in windows.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="window per client and round")
    parser.add_argument("--rounds", type=int, default=2, help="windows per client and load")
    parser.add_argument("--loads", default="60x50,500x100",
                        help="comma-separated SYMBOLSxINTERVAL_MS feeds to compare under")
    parser.add_argument("--symbols", type=int, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--interval-ms", type=int, default=50, help=argparse.SUPPRESS)
    parser.add_argument("--startup", type=float, default=8.0,
                        help="seconds a client gets to import, connect and subscribe")
    parser.add_argument("--role", default="main")
    parser.add_argument("--base", default="")
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--cpus", default="", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    args = parser.parse_args()
    pin(args.cpus)
    if args.role == "simulator":
        asyncio.run(serve_simulator(int(args.base), args.symbols, args.interval_ms))
        return 0
    if args.role.startswith("client-"):
        symbols = [i.symbol for i in build_instruments(args.symbols, 1)]
        window = Window(args.start_at, args.seconds)
        print(json.dumps(run_client(args.role[7:], args.base, window, symbols)), flush=True)
        # The measurement is over: skip interpreter teardown, which pybit's non-daemon
        # WebSocket threads can hang after ``exit()`` (seen once in about ten runs).
        os._exit(0)
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be >= 1 and --seconds > 0")
    loads = parse_loads(args.loads)
    core = bench_core()
    print("core:", core, flush=True)
    runs = []
    for symbols, interval_ms in loads:
        clients = run_load(args, symbols, interval_ms)
        for name, r in clients.items():
            print(f"{symbols}x{interval_ms}", name, r, flush=True)
        runs.append((symbols, interval_ms, clients))
    report = write_report(core, runs, args)
    if RESULTS.exists() and HISTORY_MARKER in RESULTS.read_text():
        previous = RESULTS.read_text()  # the hand-kept history survives a re-run
        report += "\n" + previous[previous.index(HISTORY_MARKER):]
    if args.no_write:
        print(report)
    else:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(report)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
