"""From core events to the sink: the forwarding filter (mode + routing document), the
outbox, and the drain task that stamps ``emitTime`` and feeds the sink, retrying until the
sink takes each batch (docs/delivery.md).

The forwarding decision is taken when an event is produced, against the routing document
applied at that instant, so a generation acknowledged to the operator is in force for every
event produced after the ack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from hybridstream.hybrid.decisions import Backoff, build_forward_range, decide_forward
from hybridstream.hybrid.events import Event, Source
from hybridstream.routing import INITIAL, Role, RoutingDocument
from hybridstream.service.metrics import StreamMetrics
from hybridstream.service.outbox import Outbox
from hybridstream.service.sinks import Sink, SinkError, SinkRejected

log = logging.getLogger(__name__)


@dataclass
class SinkHealth:
    """Whether the sink takes deliveries; ``failing_since`` is a monotonic instant."""

    up: bool = True
    failing_since: float | None = None
    failures: int = 0  # consecutive, reset when the sink answers again
    last_error: str | None = None

    def status(self) -> dict[str, Any]:
        down_for = (time.monotonic() - self.failing_since) if self.failing_since else 0.0
        return {"up": self.up, "downSeconds": round(down_for, 3),
                "consecutiveFailures": self.failures, "lastError": self.last_error}


@dataclass
class Pipeline:
    """Counts what was received, filters what is forwarded, and drains to the sink."""

    role: Role  # of the process's mode; ``side`` is where the document puts it
    metrics: StreamMetrics
    outbox: Outbox
    sink: Sink
    doc: RoutingDocument = INITIAL
    revision: int | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.2, cap=5.0))
    #: set at shutdown (monotonic): past it, a failing delivery is not retried any more
    deadline: float | None = None
    health: SinkHealth = field(default_factory=SinkHealth)
    stats: dict[str, int] = field(default_factory=lambda: {"produced": 0, "forwarded": 0,
                                                           "filtered": 0, "sink_failures": 0,
                                                           "rejected": 0})
    side: Role | None = field(init=False)
    _forward_doc: RoutingDocument | None = field(default=None, repr=False)
    _forward_by_symbol: dict[str, bool] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.side = self.doc.side_of(self.role, self.revision)
        outbox, metrics = self.outbox, self.metrics
        metrics.events_buffered.labels(where="memory").set_function(lambda: outbox.in_memory)
        metrics.events_buffered.labels(where="disk").set_function(lambda: outbox.spilled)
        metrics.spill_bytes.set_function(lambda: outbox.spill.bytes if outbox.spill else 0)

    def received(self, kind: str, source: Source, count: int = 1) -> None:
        """Count exchange messages (``hybridstream_events_total``)."""
        self.metrics.count_received(kind, source.value, count, time.time())

    def forwards(self, symbol: str) -> bool:
        """``decide_forward`` under the current document, memoised per symbol: a symbol's
        bucket is a SHA-256 (routing.bucket_of), too dear to hash on every mark change."""
        if self.doc is not self._forward_doc:
            self._forward_doc, self._forward_by_symbol = self.doc, {}
        verdict = self._forward_by_symbol.get(symbol)
        if verdict is None:
            verdict = self._forward_by_symbol[symbol] = decide_forward(self.doc, self.side,
                                                                       symbol)
        return verdict

    def emit(self, events: list[Event]) -> None:
        """Queue the events this process forwards under the current routing document, and
        observe every event's tick-to-event latency, forwarded or not."""
        now_ms = time.time() * 1000
        observe = self.metrics.tick_to_event.observe
        for event in events:
            self.stats["produced"] += 1
            if event.exchange_time:
                observe(str(event.source), max(0.0, (now_ms - event.exchange_time) / 1000))
            if self.forwards(event.symbol):
                if not self.outbox.put(event):
                    self.metrics.errors.labels(category="sink").inc()  # past every bound
            else:
                self.stats["filtered"] += 1

    def apply_document(self, doc: RoutingDocument) -> None:
        """Switch forwarding to ``doc`` and publish it in metrics."""
        self.doc = doc
        self.side = doc.side_of(self.role, self.revision)
        low, high = build_forward_range(doc, self.side)
        self.metrics.routing_generation.set(doc.generation)
        self.metrics.routing_range.labels(bound="low").set(low)
        self.metrics.routing_range.labels(bound="high").set(high)

    async def drain(self) -> None:
        """Hand the outbox's batches to the sink until it is closed and empty, or the
        shutdown deadline passes with a batch undelivered (left in the outbox, which the
        service then persists). A batch is delivered inline, not in a task of its own: one
        loop iteration less on every event's way to the sink."""
        while batch := await self.outbox.next_batch():
            done = await self._deliver(batch)
            self.outbox.ack(done)
            if done < len(batch):
                return

    async def _deliver(self, batch: list[Event]) -> int:
        """Send ``batch``, retrying with capped jittered backoff while the sink is
        unavailable, for as long as it takes (until the shutdown deadline). A rejected
        batch is split in halves, sent in order, until the one event refused is found and
        set aside. Returns how many events, a prefix of the batch, are done with."""
        delays = self.backoff.delays()
        while True:
            now = time.time()
            for event in batch:
                event.emit_time = now * 1000
            try:
                await self.sink.send([e.to_dict() for e in batch])
            except SinkRejected as exc:
                self._sink_answered()
                if len(batch) == 1:
                    self._set_aside(batch[0], exc)
                    return 1
                half = len(batch) // 2
                done = await self._deliver(batch[:half])
                return done if done < half else half + await self._deliver(batch[half:])
            except SinkError as exc:
                self._sink_failed(exc)
                delay = next(delays)
                if self.deadline is not None:
                    delay = min(delay, self.deadline - time.monotonic())
                    if delay <= 0:
                        return 0
                await asyncio.sleep(delay)
                continue
            self._sink_answered()
            self._count_delivered(batch, now)
            return len(batch)

    def _sink_failed(self, exc: SinkError) -> None:
        health = self.health
        self.stats["sink_failures"] += 1
        self.metrics.errors.labels(category="sink").inc()
        self.metrics.sink_retries.inc()
        self.metrics.sink_up.set(0)
        if health.up:  # once per outage: the retries are counted, not logged
            log.error("sink: %s; retrying until it recovers (%d events waiting)", exc,
                      len(self.outbox))
            health.up, health.failing_since = False, time.monotonic()
        health.failures += 1
        health.last_error = str(exc)

    def _sink_answered(self) -> None:
        health = self.health
        if not health.up:
            log.warning("sink: recovered after %.1f s and %d failed attempts (%d events "
                        "waiting)", time.monotonic() - (health.failing_since or 0.0),
                        health.failures, len(self.outbox))
            health.up, health.failing_since, health.failures = True, None, 0
            self.metrics.sink_up.set(1)

    def _set_aside(self, event: Event, exc: SinkRejected) -> None:
        """The receiver refuses this one event: log it whole (events carry no secrets) so
        that it can be replayed by hand, count it, and go on."""
        self.stats["rejected"] += 1
        self.metrics.events_dropped.labels(type=str(event.type), reason="rejected").inc()
        log.error("sink: %s; event set aside: %s", exc,
                  json.dumps(event.to_dict(), separators=(",", ":")))

    def _count_delivered(self, batch: list[Event], now: float) -> None:
        self.stats["forwarded"] += len(batch)
        latency = self.metrics.tick_to_emit_by_source
        per_source: dict[str, int] = {}
        for event in batch:
            source = str(event.source)  # the plain value, cheaper than .value
            per_source[source] = per_source.get(source, 0) + 1
            if event.exchange_time:
                latency[source].observe(max(0.0, now - event.exchange_time / 1000))
        for source, count in per_source.items():  # one locked inc per batch, not per event
            self.metrics.forwarded_by_source[source].inc(count)
