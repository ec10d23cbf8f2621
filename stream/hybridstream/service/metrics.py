"""Prometheus metrics of a stream process, exactly as named in docs/CONTRACTS.md.

A private registry per process object (not the global one) so that several services can
live in one test process; the process collector adds ``process_resident_memory_bytes``.
Labels never carry credentials: their values come from fixed enums and exchange symbols.

Per-message counters are batched: a ``labels(...).inc()`` costs several microseconds (label
lookup plus a lock), more than merging a ticker, so messages are counted in a plain dict and
folded into the prometheus_client objects by a collector registered first in the registry,
i.e. just before every scrape (and every ``get_sample_value``). Scrapes see exact values.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily, Metric

from hybridstream.contract import SCOPE_NAMESPACE, SCOPE_POD, SCOPE_REVISION, SCOPE_ROLLOUT
from hybridstream.hybrid.decisions import Agreement, Reference, Unavailable
from hybridstream.hybrid.events import EventType
from hybridstream.routing import Mode, role_of

SOCKETS = ("private", "public")
SOURCES = ("hybrid", "rest")
# "processing": an unexpected exception while handling exchange data (a bug): the seed's
# "critical error in event processing" rollback trigger.
ERROR_CATEGORIES = ("auth", "rate_limit", "subscription", "heartbeat", "parse", "sink",
                    "processing", "rest")

# why an event was never delivered: superseded position snapshot dropped from a full spill,
# or refused by the receiver (HTTP 400/413/415/422) and set aside
DROP_REASONS = ("spill_full", "rejected")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _FlushBeforeCollect:
    """A collector with no series of its own: registered first, it runs ``flush`` before the
    registry collects the real metrics (the registry collects in registration order)."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush

    def collect(self) -> list[object]:
        self._flush()
        return []


class BatchedHistogram:
    """A histogram per ``source`` observed in plain Python and exported at collect time:
    ``observe`` is on every produced event's path, where a prometheus_client
    ``Histogram.observe`` (a lock per call) would cost more than merging the ticker."""

    def __init__(self, name: str, documentation: str, sources: tuple[str, ...],
                 buckets: tuple[float, ...]) -> None:
        self.name, self.documentation, self.buckets = name, documentation, buckets
        # per source: [per-bucket counts (non-cumulative, last = +Inf)], and [sum, count]
        self._counts = {s: [0] * (len(buckets) + 1) for s in sources}
        self._totals = {s: [0.0, 0] for s in sources}

    def observe(self, source: str, seconds: float) -> None:
        self._counts[source][bisect_left(self.buckets, seconds)] += 1
        totals = self._totals[source]
        totals[0] += seconds
        totals[1] += 1

    def collect(self) -> list[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=["source"])
        for source, counts in self._counts.items():
            cumulative, running = [], 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                cumulative.append((repr(bound) if bound != float("inf") else "+Inf", running))
            family.add_metric([source], cumulative, self._totals[source][0])
        return [family]


class _ScopedRegistry:
    """A registry view that adds the scope labels to every sample it yields."""

    def __init__(self, registry: CollectorRegistry, labels: Mapping[str, str]) -> None:
        self._registry, self._labels = registry, dict(labels)

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            family.samples = [s._replace(labels={**self._labels, **s.labels})
                              for s in family.samples]
            yield family


def scope_labels(rollout: str | None, namespace: str | None, pod: str | None,
                 revision: int | None = None) -> dict[str, str]:
    """The scope labels of a pod (those known; none outside Kubernetes)."""
    found = {SCOPE_ROLLOUT: rollout, SCOPE_NAMESPACE: namespace, SCOPE_POD: pod,
             SCOPE_REVISION: None if revision is None else str(revision)}
    return {k: v for k, v in found.items() if v}


class StreamMetrics:
    """All ``hybridstream_*`` series; attributes are the prometheus_client objects.
    ``scope`` labels (:func:`scope_labels`) are added to every exported series."""

    def __init__(self, scope: Mapping[str, str] | None = None) -> None:
        r = self.registry = CollectorRegistry()
        #: what ``/metrics`` serves: the registry, with the scope labels on every sample
        self.exported = _ScopedRegistry(r, scope) if scope else r
        self._received: dict[tuple[str, str], int] = {}
        #: unix time of the last exchange message per source: pending, and as last flushed
        self._last_received, self.last_event_at = dict[str, float](), dict[str, float]()
        self._before_flush: list[Callable[[], None]] = []
        r.register(_FlushBeforeCollect(self.flush_received))
        ProcessCollector(registry=r)
        p = "hybridstream_"
        self.ws_connected = Gauge(p + "ws_connected", "1 while the socket is up", ["socket"],
                                  registry=r)
        self.ws_disconnected_seconds = Gauge(
            p + "ws_disconnected_seconds", "Seconds since the socket went down (0 when up)",
            ["socket"], registry=r)
        self.ws_reconnects = Counter(p + "ws_reconnects", "Socket reconnections", ["socket"],
                                     registry=r)
        self.events = Counter(p + "events", "Messages received", ["type", "source"],
                              registry=r)
        self.events_forwarded = Counter(p + "events_forwarded", "Events handed to the sink",
                                        ["source"], registry=r)
        self.last_event_timestamp = Gauge(p + "last_event_timestamp_seconds",
                                          "Unix time of the last event received", ["source"],
                                          registry=r)
        self.positions_open = Gauge(p + "positions_open", "Open positions", registry=r)
        self.subscriptions_active = Gauge(p + "subscriptions_active",
                                          "Active ticker subscriptions", registry=r)
        self.subscription_failures = Counter(p + "subscription_failures",
                                             "Rejected subscribe requests", registry=r)
        self.tick_to_emit = Histogram(p + "tick_to_emit_seconds",
                                      "Exchange timestamp to sink emit", ["source"],
                                      buckets=LATENCY_BUCKETS, registry=r)
        # Observed for every event produced, forwarded or not: latency is known in Canary
        # and Parallel too, before hybrid carries any symbol.
        self.tick_to_event = BatchedHistogram(
            p + "tick_to_event_seconds", "Exchange timestamp to merged event (forwarded or not)",
            SOURCES, LATENCY_BUCKETS)
        r.register(self.tick_to_event)
        self.poll_interval = Gauge(p + "poll_interval_seconds",
                                   "REST poll interval of a legacy (rest-mode) pod", registry=r)
        self._price_series(p, r)
        self.routing_generation = Gauge(p + "routing_generation",
                                        "Applied routing generation", registry=r)
        self.routing_range = Gauge(p + "routing_range", "Forwarded bucket range", ["bound"],
                                   registry=r)
        self.errors = Counter(p + "errors", "Errors by category", ["category"], registry=r)
        self.events_buffered = Gauge(p + "events_buffered",
                                     "Events waiting for the sink", ["where"], registry=r)
        self.spill_bytes = Gauge(p + "spill_bytes", "Bytes of events spilled to disk",
                                 registry=r)
        self.sink_up = Gauge(p + "sink_up", "0 while sink deliveries fail and are retried",
                             registry=r)
        self.sink_retries = Counter(p + "sink_retries", "Failed sink deliveries, retried",
                                    registry=r)
        self.events_dropped = Counter(p + "events_dropped", "Events never delivered",
                                      ["type", "reason"], registry=r)
        self.mode = Gauge(p + "mode", "1 for the active mode", ["mode", "role"], registry=r)
        self.degraded = Gauge(p + "degraded", "1 while a socket's data comes from REST polls "
                              "(the socket is down)", ["socket"], registry=r)
        self.recovered = Counter(p + "recovered_events", "Orders and executions missed by "
                                 "the private socket, read back over REST", ["type"],
                                 registry=r)
        self._down_since: dict[str, float | None] = {}
        self._divergence_symbols: set[str] = set()
        for socket in SOCKETS:
            self.ws_connected.labels(socket=socket).set(0)
            self.ws_reconnects.labels(socket=socket)
            self._down_since[socket] = time.monotonic()
            self.ws_disconnected_seconds.labels(socket=socket).set_function(
                self._down_for(socket))
            self.degraded.labels(socket=socket).set(0)
        for category in ERROR_CATEGORIES:
            self.errors.labels(category=category)
        for kind in ("order", "execution"):
            self.recovered.labels(type=kind)
        # Zero-valued series from the start, so rate() and absent() work before any event.
        for source in SOURCES:
            self.events_forwarded.labels(source=source)
            self.tick_to_emit.labels(source=source)
        self.sink_up.set(1)
        for kind in EventType:
            for reason in DROP_REASONS:
                self.events_dropped.labels(type=kind.value, reason=reason)
        # Children resolved once: ``labels()`` per delivered event was a hot-path cost.
        self.forwarded_by_source = {s: self.events_forwarded.labels(source=s) for s in SOURCES}
        self.tick_to_emit_by_source = {s: self.tick_to_emit.labels(source=s) for s in SOURCES}

    def _price_series(self, p: str, r: CollectorRegistry) -> None:
        """Parallel's comparison series, zero-valued from the start."""
        self.price_divergence = Gauge(p + "price_divergence_ratio",
                                      "abs(ws-ref)/ref against stable's (or REST's) mark, "
                                      "last per symbol", ["symbol"], registry=r)
        self.price_comparisons = Counter(p + "price_comparisons",
                                         "WS mark prices compared with stable's or REST's",
                                         ["result", "against"], registry=r)
        self.price_fallbacks = Counter(p + "price_reference_fallbacks",
                                       "Comparisons that could not use stable's price, by why",
                                       ["reason"], registry=r)
        for result in Agreement:
            for against in Reference:
                self.price_comparisons.labels(result=result.value, against=against.value)
        for reason in Unavailable:
            self.price_fallbacks.labels(reason=reason.value)

    def exposition(self) -> bytes:
        """The text exposition served on ``/metrics``, with the scope labels."""
        return generate_latest(self.exported)  # type: ignore[arg-type]

    def set_divergence(self, symbol: str, ratio: float) -> None:
        """``price_divergence_ratio{symbol}`` (remembered, so it can be forgotten)."""
        self.price_divergence.labels(symbol=symbol).set(ratio)
        self._divergence_symbols.add(symbol)

    def forget_divergence(self, keep: frozenset[str] = frozenset()) -> None:
        """Drop ``price_divergence_ratio`` of every symbol not in ``keep``: a closed
        position's or a past mode's last ratio must not stay exported for ever."""
        for symbol in self._divergence_symbols - keep:
            self.price_divergence.remove(symbol)
        self._divergence_symbols &= keep

    def count_received(self, kind: str, source: str, count: int, now: float) -> None:
        """Count ``count`` exchange messages of ``kind`` read at unix time ``now`` (batched)."""
        key = (kind, source)
        self._received[key] = self._received.get(key, 0) + count
        self._last_received[source] = now

    def add_flush_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before each flush: for a reader that counts in a bare int and hands
        the total over with :meth:`count_received` only when someone looks."""
        self._before_flush.append(hook)

    def flush_received(self) -> None:
        """Fold the batched counts into ``hybridstream_events_total`` and the last-event
        gauge (swap first: a scrape from another thread never loses a count)."""
        for hook in self._before_flush:
            hook()
        pending, self._received = self._received, {}
        last, self._last_received = self._last_received, {}
        for (kind, source), count in pending.items():
            self.events.labels(type=kind, source=source).inc(count)
        for source, now in last.items():
            self.last_event_timestamp.labels(source=source).set(now)
        self.last_event_at.update(last)

    def last_event_ages(self, now: float) -> dict[str, float]:
        """Seconds since the last exchange message per source (``/api/hybrid/status``;
        the dashboard shows it): flushes first, so batched readers are counted."""
        self.flush_received()
        return {source: round(max(0.0, now - at), 3) for source, at in self.last_event_at.items()}

    def _down_for(self, socket: str) -> Callable[[], float]:
        def seconds() -> float:
            since = self._down_since[socket]
            return 0.0 if since is None else time.monotonic() - since
        return seconds

    def socket_up(self, socket: str) -> None:
        """Record that ``socket`` connected (and authenticated, for private)."""
        self.ws_connected.labels(socket=socket).set(1)
        self._down_since[socket] = None

    def socket_down(self, socket: str) -> None:
        """Record that ``socket`` went down; idempotent (keeps the first down time)."""
        self.ws_connected.labels(socket=socket).set(0)
        if self._down_since[socket] is None:
            self._down_since[socket] = time.monotonic()

    def set_mode(self, mode: Mode) -> None:
        """Exactly one ``hybridstream_mode`` series is 1."""
        for m in Mode:
            self.mode.labels(mode=m.value, role=role_of(m).value).set(1 if m is mode else 0)

    def socket_is_up(self, socket: str) -> bool:
        return self._down_since[socket] is None

    def disconnected_seconds(self, socket: str) -> float:
        return self._down_for(socket)()
