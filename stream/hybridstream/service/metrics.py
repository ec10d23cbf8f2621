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
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from hybridstream.routing import Mode, role_of

SOCKETS = ("private", "public")
SOURCES = ("hybrid", "rest")
ERROR_CATEGORIES = ("auth", "rate_limit", "subscription", "heartbeat", "parse", "sink")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _FlushBeforeCollect:
    """A collector with no series of its own: registered first, it runs ``flush`` before the
    registry collects the real metrics (the registry collects in registration order)."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush

    def collect(self) -> list[object]:
        self._flush()
        return []


class StreamMetrics:
    """All ``hybridstream_*`` series; attributes are the prometheus_client objects."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._received: dict[tuple[str, str], int] = {}
        self._last_received: dict[str, float] = {}
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
        self.price_divergence = Gauge(p + "price_divergence_ratio",
                                      "abs(ws-rest)/rest, last per symbol", ["symbol"],
                                      registry=r)
        self.price_comparisons = Counter(p + "price_comparisons", "WS vs REST mark prices",
                                         ["result"], registry=r)
        self.routing_generation = Gauge(p + "routing_generation",
                                        "Applied routing generation", registry=r)
        self.routing_range = Gauge(p + "routing_range", "Forwarded bucket range", ["bound"],
                                   registry=r)
        self.errors = Counter(p + "errors", "Errors by category", ["category"], registry=r)
        self.mode = Gauge(p + "mode", "1 for the active mode", ["mode", "role"], registry=r)
        self._down_since: dict[str, float | None] = {}
        for socket in SOCKETS:
            self.ws_connected.labels(socket=socket).set(0)
            self.ws_reconnects.labels(socket=socket)
            self._down_since[socket] = time.monotonic()
            self.ws_disconnected_seconds.labels(socket=socket).set_function(
                self._down_for(socket))
        for category in ERROR_CATEGORIES:
            self.errors.labels(category=category)
        # Zero-valued series from the start, so rate() and absent() work before any event.
        for source in SOURCES:
            self.events_forwarded.labels(source=source)
            self.tick_to_emit.labels(source=source)
        for result in ("agree", "warn", "critical"):
            self.price_comparisons.labels(result=result)
        # Children resolved once: ``labels()`` per delivered event was a hot-path cost.
        self.forwarded_by_source = {s: self.events_forwarded.labels(source=s) for s in SOURCES}
        self.tick_to_emit_by_source = {s: self.tick_to_emit.labels(source=s) for s in SOURCES}

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
