"""Durable delivery, the parts without a network: the coalescing FIFO, the spill's bound and
drop policy, the outbox across memory / spill / overflow, persistence over a restart, and
the pipeline's retry, split and shutdown deadline against an in-process sink."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hybridstream.hybrid.decisions import Backoff
from hybridstream.hybrid.delivery import (
    CoalescingQueue,
    Verdict,
    classify_http_status,
    drop_superseded,
)
from hybridstream.hybrid.events import Event, EventType, Source, event_from_dict
from hybridstream.routing import INITIAL, Mode, Role, RoutingDocument
from hybridstream.service.metrics import StreamMetrics
from hybridstream.service.outbox import Outbox
from hybridstream.service.pipeline import Pipeline
from hybridstream.service.sinks import SinkError, SinkRejected
from hybridstream.service.spill import SpillDir

SYMBOLS = ("AUSDT", "BUSDT", "CUSDT")
FORWARD_ALL = RoutingDocument(generation=1, hybridMode=Mode.PRODUCTION, hybridHigh=100)


def order(symbol: str, n: int) -> Event:
    return Event(EventType.ORDER, Source.HYBRID, symbol, {"orderId": f"{symbol}-{n}"}, n, n, 0.0)


def position(symbol: str, n: int) -> Event:
    return Event(EventType.POSITION_UPDATE, Source.HYBRID, symbol,
                 {"positionIdx": 0, "size": str(n)}, n, n, 0.0)


def wallet(n: int) -> Event:
    return Event(EventType.WALLET, Source.HYBRID, "", {"accountType": "UNIFIED"}, n, n, 0.0)


def mixed(count: int, seed: int = 3) -> list[Event]:
    """Orders and positions of a few symbols, ``seq`` rising per symbol."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        symbol = rng.choice(SYMBOLS)
        events.append((order if rng.random() < 0.4 else position)(symbol, n))
    return events


def assert_per_symbol_subsequence(sent: list[Event], got: list[Any]) -> None:
    """Per symbol, what arrived is in the order sent, every order arrived, and the newest
    position of each symbol arrived."""
    def by_symbol(events: list[Any]) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for e in events:
            kind, symbol, seq = ((e["type"], e["symbol"], e["seq"]) if isinstance(e, dict)
                                 else (str(e.type), e.symbol, e.seq))
            out[symbol].append((kind, seq))
        return out
    want, have = by_symbol(sent), by_symbol(got)
    for symbol, events in want.items():
        seqs = [seq for _, seq in have[symbol]]
        assert seqs == sorted(seqs), f"{symbol} out of order: {seqs}"
        assert [s for k, s in events if k == "order"] == [s for k, s in have[symbol]
                                                          if k == "order"]
        assert events[-1][1] in seqs or events[-1][0] == "order"
        newest_position = max((s for k, s in events if k != "order"), default=None)
        assert newest_position is None or newest_position in seqs


def test_coalescing_queue_keeps_per_symbol_order() -> None:
    queue = CoalescingQueue()
    events = mixed(400)
    for event in events:
        queue.put(event)
    got = queue.take(1000)
    assert queue.coalesced > 0 and len(got) + queue.coalesced == len(events)
    assert_per_symbol_subsequence(events, got)


def test_drop_policy_keeps_newest_position_and_every_order_and_wallet() -> None:
    newer: set[tuple[str, ...]] = set()
    late, dropped_late = drop_superseded([position("AUSDT", 5), wallet(6)], newer)
    early, dropped_early = drop_superseded(
        [position("AUSDT", 1), order("AUSDT", 2), position("BUSDT", 3), wallet(4)], newer)
    assert [e.seq for e in early + late] == [2, 3, 4, 5, 6]
    assert dropped_early == {"position.update": 1} and not dropped_late


@pytest.mark.parametrize(("status", "verdict"), [
    (200, Verdict.DELIVERED), (204, Verdict.DELIVERED), (400, Verdict.REJECTED),
    (413, Verdict.REJECTED), (422, Verdict.REJECTED), (401, Verdict.UNAVAILABLE),
    (403, Verdict.UNAVAILABLE), (404, Verdict.UNAVAILABLE), (429, Verdict.UNAVAILABLE),
    (503, Verdict.UNAVAILABLE), (302, Verdict.UNAVAILABLE)])
def test_http_status_verdicts(status: int, verdict: Verdict) -> None:
    assert classify_http_status(status) is verdict


def test_backoff_is_capped_and_jittered() -> None:
    delays = Backoff(base=0.2, cap=5.0).delays(random.Random(1))
    taken = [next(delays) for _ in range(40)]
    assert all(0.1 <= d <= 5.0 for d in taken) and max(taken) > 2.5
    assert len({round(d, 6) for d in taken[-10:]}) > 1  # jitter even at the cap


def test_wire_form_round_trips() -> None:
    event = position("AUSDT", 7)
    assert event_from_dict(event.to_dict()).to_dict() == event.to_dict()


def drain(spill: SpillDir, limit: int = 7) -> list[Event]:
    out = []
    while batch := spill.head(limit):
        out += batch
        spill.ack(len(batch))
    return out


def test_spill_is_ordered_bounded_and_survives_a_reopen(tmp_path: Path) -> None:
    spill = SpillDir(tmp_path, 1 << 20, segment_bytes=2_000)
    events = [order(SYMBOLS[n % 3], n) for n in range(60)]
    for event in events[:30]:
        assert spill.append(event)
    assert [e.seq for e in spill.head(10)] == list(range(10))
    spill.ack(4)  # four delivered, the rest of that segment not yet
    for event in events[30:]:
        assert spill.append(event)
    with pytest.raises(RuntimeError, match="used by another process"):
        SpillDir(tmp_path, 1 << 20)
    spill.close()
    reopened = SpillDir(tmp_path, 1 << 20, segment_bytes=2_000)
    assert [e.seq for e in drain(reopened)] == list(range(4, 60))
    assert reopened.events == 0 and reopened.bytes == 0
    reopened.close()


def test_a_full_spill_drops_superseded_positions_only(tmp_path: Path) -> None:
    dropped: dict[str, int] = defaultdict(int)

    def count(kind: str, n: int) -> None:
        dropped[kind] += n
    spill = SpillDir(tmp_path, 40_000, count)
    sent = []
    n = 0
    while True:  # positions fill it; orders among them
        event = order("AUSDT", n) if n % 10 == 0 else position(SYMBOLS[n % 3], n)
        if not spill.append(event):
            break
        sent.append(event)
        n += 1
        assert n < 10_000, "the spill never filled"
    # full of orders and the newest positions: nothing left that may be dropped
    assert spill.append(position("AUSDT", n)) is False
    got = drain(spill, 500)
    assert sum(dropped.values()) > 0 and set(dropped) == {"position.update"}
    assert len(got) + sum(dropped.values()) == len(sent)
    assert_per_symbol_subsequence(sent, got)
    assert sum(1 for e in got if e.type is EventType.ORDER) == len(
        [e for e in sent if e.type is EventType.ORDER])
    spill.close()


class FlakySink:
    """An in-process receiver: fails while ``down``, refuses batches holding a ``bad``
    event, records what it took."""

    def __init__(self, down_for: int = 0) -> None:
        self.down_for = down_for
        self.got: list[dict[str, Any]] = []
        self.calls = 0

    async def send(self, batch: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.calls <= self.down_for:
            raise SinkError("test sink unavailable")
        if any(e["data"].get("bad") for e in batch):
            raise SinkRejected("test sink rejects: HTTP 400")
        self.got += batch

    async def close(self) -> None:
        return None


def build_pipeline(sink: FlakySink, outbox: Outbox) -> Pipeline:
    pipeline = Pipeline(Role.HYBRID, StreamMetrics(), outbox, sink, INITIAL,
                        backoff=Backoff(base=0.001, cap=0.01))
    pipeline.apply_document(FORWARD_ALL)
    return pipeline


async def deliver_all(pipeline: Pipeline) -> None:
    """A closed outbox: the drain hands out everything queued, then returns."""
    pipeline.outbox.close()
    await asyncio.wait_for(pipeline.drain(), 20)


async def test_outage_spill_and_overflow_deliver_everything_in_order(tmp_path: Path) -> None:
    """Memory (capacity 20) fills, then the spill (small), then memory past every bound;
    the sink fails 50 times meanwhile. Every order arrives, per symbol in order."""
    spill = SpillDir(tmp_path, 12_000)
    outbox = Outbox(20, spill)
    sink = FlakySink(down_for=50)
    pipeline = build_pipeline(sink, outbox)
    events = [order(SYMBOLS[n % 3], n) for n in range(300)]
    pipeline.emit(events)
    assert outbox.in_memory > 20 and outbox.spilled > 0 and outbox.overflowed > 0
    await deliver_all(pipeline)
    assert [e["seq"] for e in sink.got] == list(range(300))
    assert pipeline.health.up and pipeline.stats["sink_failures"] == 50
    assert pipeline.metrics.registry.get_sample_value("hybridstream_sink_retries_total") == 50
    assert len(outbox) == 0 and spill.bytes == 0
    spill.close()


async def test_one_rejected_event_is_set_aside_and_the_rest_delivered() -> None:
    sink = FlakySink()
    pipeline = build_pipeline(sink, Outbox(1000))
    events = [order("AUSDT", n) for n in range(40)]
    events[17].data["bad"] = True
    pipeline.emit(events)
    await deliver_all(pipeline)
    assert [e["seq"] for e in sink.got] == [n for n in range(40) if n != 17]
    assert pipeline.metrics.registry.get_sample_value(
        "hybridstream_events_dropped_total", {"type": "order", "reason": "rejected"}) == 1


async def test_past_the_deadline_the_rest_is_persisted_then_delivered_first(
        tmp_path: Path) -> None:
    """Shutdown while the sink is down: the drain gives up at the deadline, the batch in
    flight and what is queued go to the spill, and the next process delivers them before
    its own events."""
    outbox = Outbox(1000, SpillDir(tmp_path, 1 << 20))
    sink = FlakySink(down_for=10**6)
    pipeline = build_pipeline(sink, outbox)
    pipeline.emit([order("AUSDT", n) for n in range(30)])
    pipeline.deadline = time.monotonic() + 0.2
    outbox.close()
    await asyncio.wait_for(pipeline.drain(), 20)
    assert outbox.persist() == 0
    assert outbox.spill is not None
    outbox.spill.close()

    restarted = Outbox(1000, SpillDir(tmp_path, 1 << 20))
    sink = FlakySink()
    pipeline = build_pipeline(sink, restarted)
    pipeline.emit([order("AUSDT", n) for n in range(30, 40)])
    await deliver_all(pipeline)
    assert [e["seq"] for e in sink.got] == list(range(40))
    assert restarted.spill is not None
    restarted.spill.close()
