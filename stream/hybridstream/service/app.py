"""Wiring of one stream process: settings -> core, clients, pipeline, routing, HTTP.

``StreamService`` is an async context manager so tests run a real service in-process (over
real sockets) with the same code path as ``hybridstream run``. Shutdown (SIGTERM) stops the
producers first, then drains the outbox into the sink for at most ``HYBRID_DRAIN_TIMEOUT``,
persists what is left to the spill directory, then closes sockets and the sink.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType
from typing import Any, Self

import aiohttp
from kubernetes_asyncio import client as kube_client
from kubernetes_asyncio import config as kube_config

from hybridstream.contract import LEGACY_REVISION, SinkKind
from hybridstream.history.recent import RecentHistory
from hybridstream.hybrid.decisions import (
    Backoff,
    build_forward_range,
    build_standalone_document,
    decide_hybrid_mode,
)
from hybridstream.kubeconfig import build_api_client
from hybridstream.routing import Mode, Role, RoutingDocument, role_of
from hybridstream.service.hybrid_runner import HybridRunner
from hybridstream.service.metrics import StreamMetrics, scope_labels
from hybridstream.service.outbox import Outbox
from hybridstream.service.pipeline import Pipeline
from hybridstream.service.rest import BybitRest, Credentials
from hybridstream.service.rest_poller import RestPoller
from hybridstream.service.routing_source import (
    apply_pod_ack,
    watch_routing_configmap,
    watch_routing_file,
)
from hybridstream.service.sinks import PreparedSink, Sink, build_sink
from hybridstream.service.sockets import ClientConfig, SocketPolicy
from hybridstream.service.spill import SpillDir
from hybridstream.service.status_server import build_app
from hybridstream.serving import start_site
from hybridstream.settings import StreamSettings

log = logging.getLogger(__name__)
#: beyond the drain timeout, for a sink attempt under way when it passes (the webhook
#: timeout); after it the attempt is cancelled and its batch persisted, undelivered
SEND_GRACE = 10.0


class StreamService:
    """One stream process (legacy poller or hybrid), started with ``async with``."""

    def __init__(self, settings: StreamSettings, sink: Sink | None = None) -> None:
        self.settings = settings
        self.role = role_of(settings.mode)
        self.metrics = StreamMetrics(scope_labels(settings.rollout, settings.pod_namespace,
                                                  settings.pod_name, settings.revision))
        spill = None
        if settings.spill_dir is not None:
            dropped = self.metrics.events_dropped
            spill = SpillDir(settings.spill_dir, settings.spill_max_bytes,
                             lambda kind, n: dropped.labels(type=kind, reason="spill_full").inc(n))
        self.pipeline = Pipeline(self.role, self.metrics, Outbox(settings.queue_size, spill),
                                 sink or build_sink(settings),
                                 revision=settings.revision,
                                 backoff=Backoff(base=settings.sink_backoff_base,
                                                 cap=settings.sink_backoff_cap))
        self.credentials = Credentials(settings.api_key.get_secret_value(),
                                       settings.api_secret.get_secret_value())
        self.stop = asyncio.Event()
        self.http_port = 0
        self.hybrid: HybridRunner | None = None
        self.poller: RestPoller | None = None
        self.acked_generation: int | None = None
        self._kube: kube_client.ApiClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._http: Any = None
        self._producers: list[asyncio.Task[None]] = []
        self._watchers: list[asyncio.Task[None]] = []
        self._drain: asyncio.Task[None] | None = None
        self._ack_task: asyncio.Task[None] | None = None
        #: set once the routing source (if any) delivered its first document
        self._routed = asyncio.Event()

    async def __aenter__(self) -> Self:
        s = self.settings
        # the status API's token; a candidate also reads stable's status API with it
        token = s.status_token.get_secret_value() if s.status_token else None
        if isinstance(self.pipeline.sink, PreparedSink):  # before any producer: no event
            await self.pipeline.sink.prepare()           # waits on the sink's start-up
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        rest = BybitRest(self._session, s.rest_url, self.credentials,
                         on_rate_limit=self.metrics.errors.labels(category="rate_limit").inc)
        if self.role is Role.LEGACY:
            self.poller = RestPoller(self.pipeline, rest, s.category, s.settle_coin,
                                     s.poll_interval)
            self.metrics.set_mode(Mode.REST)
            self._producers.append(asyncio.create_task(self.poller.run(self.stop)))
        else:
            policy = SocketPolicy(s.heartbeat_interval, s.pong_timeout,
                                  Backoff(base=s.backoff_base, cap=s.backoff_cap))
            config = ClientConfig(s.ws_private_url, s.ws_public_url, self.credentials, policy,
                                  s.category, s.settle_coin, s.ticker_stale_after,
                                  s.poll_interval, s.fallback_after)
            self.hybrid = HybridRunner(self.pipeline, rest, config, s.mode, token)
            self.hybrid.set_mode(s.mode)
            self._producers.append(asyncio.create_task(self._run_hybrid_when_routed()))
        self.apply_document(build_standalone_document(s.mode))
        if not (s.routing_configmap or s.routing_file):
            self._routed.set()
        await self._start_routing_source()
        self._drain = asyncio.create_task(self.pipeline.drain())
        history = RecentHistory(s.sink_url.get_secret_value()).read \
            if s.sink is SinkKind.POSTGRES and s.sink_url else None
        app = build_app(self.metrics, self.status, self.is_ready, token=token,
                        history=history, sink=s.sink.value)
        self._http, self.http_port = await start_site(app, s.http_host, s.http_port)
        log.info("stream started: mode=%s role=%s http=%s:%d", s.mode.value, self.role.value,
                 s.http_host, self.http_port)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop.set()
        for task in self._watchers:
            task.cancel()  # a ConfigMap watch blocks in a long poll; stop does not reach it
        await asyncio.gather(*self._producers, *self._watchers, return_exceptions=True)
        if self._drain is not None:
            await self._finish_drain(self._drain)
        await self.pipeline.sink.close()
        if self._ack_task is not None:
            await asyncio.gather(self._ack_task, return_exceptions=True)
        if self._http is not None:
            await self._http.cleanup()
        if self._session is not None:
            await self._session.close()
        if self._kube is not None:
            await self._kube.close()
        log.info("stream stopped")

    async def _finish_drain(self, drain: asyncio.Task[None]) -> None:
        """Deliver the batch in flight and everything queued within the drain timeout,
        then persist what is left to the spill directory (lost, and logged, without one)."""
        outbox, timeout = self.pipeline.outbox, self.settings.drain_timeout
        outbox.close()
        self.pipeline.deadline = time.monotonic() + timeout
        try:
            await asyncio.wait_for(drain, timeout + SEND_GRACE)
        except TimeoutError:
            log.error("sink: an attempt still hung %.0f s after the drain timeout",
                      SEND_GRACE)
        except Exception:  # a bug killed the drain earlier; nothing reported it yet
            log.exception("sink: the drain task failed")
        left = len(outbox)
        try:
            lost = outbox.persist()
        except OSError as exc:
            lost = left - outbox.spilled
            log.error("spill: persisting failed (%s)", exc.__class__.__name__)
        if outbox.spill is not None:
            outbox.spill.close()
        if lost:
            log.error("sink: %d events undelivered after %.0f s of shutdown, lost", lost,
                      timeout)
        elif left:
            log.warning("sink: %d events undelivered after %.0f s of shutdown, kept in %s for "
                        "the next start", left, timeout, self.settings.spill_dir)

    async def _run_hybrid_when_routed(self) -> None:
        """Start the hybrid side once its routing is known. Its first seed re-reads the last
        minute (the restart look-back) and each event is forwarded or not under the
        document in force when it is produced: under the stand-alone one (hybrid forwards
        nothing) a pod restarted mid-Cutover would drop the fills of its downtime."""
        assert self.hybrid is not None and self._session is not None
        waits = [asyncio.create_task(self._routed.wait()), asyncio.create_task(self.stop.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        if not self.stop.is_set():
            await self.hybrid.run(self._session, self.stop)

    def _apply_from_source(self, doc: RoutingDocument) -> None:
        self.apply_document(doc)
        self._routed.set()

    async def _start_routing_source(self) -> None:
        s = self.settings
        if s.routing_configmap:
            self._kube, _ = await build_api_client()
        elif s.pod_name and s.pod_namespace:
            # Acks go to our Pod whatever the routing source (CONTRACTS.md); without API
            # access (a local run with POD_NAME set) the stream still works, unacknowledged.
            try:
                self._kube, _ = await build_api_client()
            except (OSError, ValueError, kube_config.ConfigException) as exc:
                log.warning("routing: no Kubernetes API access (%s), acks disabled",
                            exc.__class__.__name__)
        if s.routing_configmap:
            assert self._kube is not None
            namespace = s.pod_namespace or "default"
            self._watchers.append(asyncio.create_task(watch_routing_configmap(
                self._kube, namespace, s.routing_configmap, self._apply_from_source, self.stop)))
        elif s.routing_file:
            self._watchers.append(asyncio.create_task(
                watch_routing_file(s.routing_file, self._apply_from_source, self.stop)))

    def apply_document(self, doc: RoutingDocument) -> None:
        """Apply a routing document now, then acknowledge it on our Pod (if in one)."""
        self.pipeline.apply_document(doc)
        side = self.pipeline.side
        if self.hybrid is not None:
            self.hybrid.set_mode(decide_hybrid_mode(doc, side))
            self.hybrid.stable.endpoint = doc.stable_status
            self.hybrid.stable_is_poller = doc.stable_revision == LEGACY_REVISION
        log.info("routing: applied generation %d (side %s, forwarding buckets %s)",
                 doc.generation, side.value if side else "none",
                 build_forward_range(doc, side))
        s = self.settings
        if self._kube is not None and s.pod_name and s.pod_namespace:
            self._ack_task = asyncio.create_task(self._ack(doc.generation))
        else:
            self.acked_generation = doc.generation

    async def _ack(self, generation: int) -> None:
        assert self._kube is not None and self.settings.pod_name and self.settings.pod_namespace
        delays = Backoff(base=0.5, cap=10.0).delays()
        while not self.stop.is_set() and self.pipeline.doc.generation == generation:
            try:
                await apply_pod_ack(self._kube, self.settings.pod_namespace,
                                    self.settings.pod_name, generation)
            except Exception as exc:  # whatever failed, the handover waits for this ack
                log.warning("routing: ack of generation %d failed (%s), retrying", generation,
                            getattr(exc, "status", exc.__class__.__name__))
                await asyncio.sleep(next(delays))
                continue
            self.acked_generation = generation
            return

    def is_ready(self) -> bool:
        """Readiness: hybrid authenticated + seeded + public up; legacy polled once; and
        the sink takes deliveries (events only wait while it does not)."""
        if not self.pipeline.health.up:
            return False
        if self.hybrid is not None:
            return self.hybrid.ready
        return self.poller is not None and self.poller.ready

    def open_symbols(self) -> dict[str, int]:
        """Symbols with an open position in this process's book, and how many of them it
        forwards now (``kubectl hsr get NAME`` shows it per side)."""
        book = self.hybrid.book if self.hybrid is not None else \
            self.poller.book if self.poller is not None else None
        symbols = set(book.desired_symbols()) if book else set()
        return {"open": len(symbols),
                "forwarded": sum(1 for s in symbols if self.pipeline.forwards(s))}

    def status(self) -> dict[str, Any]:
        """``/api/hybrid/status``: mode, routing, queue, counters, and the book."""
        doc = self.pipeline.doc
        side = self.pipeline.side
        low, high = build_forward_range(doc, side)
        mode = self.hybrid.mode if self.hybrid is not None else Mode.REST
        outbox = self.pipeline.outbox
        body: dict[str, Any] = {
            "mode": mode.value,
            "role": self.role.value,
            "side": side.value if side else None,
            "revision": self.settings.revision,
            "ready": self.is_ready(),
            "routing": {"generation": doc.generation, "hybridMode": doc.hybrid_mode.value,
                        "hybridHigh": doc.hybrid_high, "legacyLow": doc.legacy_low,
                        "stableRevision": doc.stable_revision,
                        "candidateRevision": doc.candidate_revision,
                        "stableStatus": doc.stable_status,
                        "forwardLow": low, "forwardHigh": high,
                        "ackedGeneration": self.acked_generation},
            "queue": {"depth": len(outbox), "capacity": outbox.capacity,
                      "inMemory": outbox.in_memory, "spilled": outbox.spilled,
                      "spilledBytes": outbox.spill.bytes if outbox.spill else 0,
                      "spillMaxBytes": outbox.spill.max_bytes if outbox.spill else 0,
                      "coalesced": outbox.coalesced_total, "overflowed": outbox.overflowed,
                      "dropped": dict(outbox.spill.dropped) if outbox.spill else {}},
            "openSymbols": self.open_symbols(),
            "sink": {"kind": self.settings.sink.value, **self.pipeline.health.status()},
            "stats": dict(self.pipeline.stats),
            "lastEventAgeSeconds": self.pipeline.metrics.last_event_ages(time.time()),
        }
        if self.hybrid is not None:
            body["hybrid"] = self.hybrid.status()
        if self.poller is not None:
            body["legacy"] = self.poller.status()
        return body
