"""From core events to the sink: the forwarding filter (mode + routing document), the
outbox, and the drain task that stamps ``emitTime`` and feeds the sink.

The forwarding decision is taken when an event is produced, against the routing document
applied at that instant, so a generation acknowledged to the operator is in force for every
event produced after the ack.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from hybridstream.hybrid.decisions import build_forward_range, decide_forward
from hybridstream.hybrid.events import Event, Source
from hybridstream.routing import INITIAL, Role, RoutingDocument
from hybridstream.service.metrics import StreamMetrics
from hybridstream.service.outbox import Outbox
from hybridstream.service.sinks import Sink, SinkError

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """Counts what was received, filters what is forwarded, and drains to the sink."""

    role: Role
    metrics: StreamMetrics
    outbox: Outbox
    sink: Sink
    doc: RoutingDocument = INITIAL
    stats: dict[str, int] = field(default_factory=lambda: {"produced": 0, "forwarded": 0,
                                                           "filtered": 0, "sink_failures": 0})
    _forward_doc: RoutingDocument | None = field(default=None, repr=False)
    _forward_by_symbol: dict[str, bool] = field(default_factory=dict, repr=False)

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
            verdict = self._forward_by_symbol[symbol] = decide_forward(self.doc, self.role,
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
                    self.metrics.errors.labels(category="sink").inc()  # backpressure
            else:
                self.stats["filtered"] += 1

    def apply_document(self, doc: RoutingDocument) -> None:
        """Switch forwarding to ``doc`` and publish it in metrics."""
        self.doc = doc
        low, high = build_forward_range(doc, self.role)
        self.metrics.routing_generation.set(doc.generation)
        self.metrics.routing_range.labels(bound="low").set(low)
        self.metrics.routing_range.labels(bound="high").set(high)

    async def drain(self) -> None:
        """Hand the outbox's batches to the sink until it is closed and empty. A batch is
        delivered inline, not in a task of its own: one loop iteration less on every
        event's way to the sink. So that no batch is abandoned half-sent, shutdown closes
        the outbox and waits for this to return instead of cancelling it."""
        while batch := await self.outbox.get_batch():
            await self._deliver(batch)

    async def _deliver(self, batch: list[Event]) -> None:
        now = time.time()
        for event in batch:
            event.emit_time = now * 1000
        try:
            await self.sink.send([e.to_dict() for e in batch])
        except SinkError as exc:
            self.stats["sink_failures"] += 1
            self.metrics.errors.labels(category="sink").inc()
            log.error("sink: %s (%d events dropped)", exc, len(batch))
            return
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
