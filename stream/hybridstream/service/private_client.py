"""The private WebSocket: authenticate, wait for the ack, subscribe the account topics,
then re-seed positions and recover the orders and executions of the gap from REST, on every
(re)connect.

Order matters: the seed marked itself connected before auth
succeeded and subscribed without waiting (Bybit answers "Request not authorized"). Here a
connection counts as up only after a successful auth ack; positions are re-seeded after the
subscribe ack so that anything opened or closed while we were away is reconciled and no
update can slip between the REST snapshot and the socket (HybridBook.apply_seed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp

from hybridstream.bybit.signing import ws_auth_args
from hybridstream.hybrid.book import HybridBook
from hybridstream.hybrid.decisions import Backoff
from hybridstream.hybrid.events import Source
from hybridstream.hybrid.frames import PRIVATE_TOPICS, CommandAck, Frame, PrivateFrame
from hybridstream.service.pipeline import Pipeline
from hybridstream.service.rest import REST_FAILURES, BybitRest
from hybridstream.service.sockets import (
    ClientConfig,
    FrameSocket,
    connections,
    run_until_first_done,
    sleep_unless,
)

log = logging.getLogger(__name__)
ACK_TIMEOUT = 10.0


class PrivateClient:
    """Keeps the private socket authenticated and the book's positions reconciled."""

    def __init__(self, book: HybridBook, pipeline: Pipeline, rest: BybitRest,
                 config: ClientConfig, on_positions_changed: Callable[[], None]) -> None:
        self.book = book
        self.pipeline = pipeline
        self.rest = rest
        self.config = config
        self.policy = config.policy
        self._changed = on_positions_changed
        self.authenticated = False
        self.seeded = False
        self.connects = 0
        self.stats = {"auth_rejected": 0, "subscribe_failed": 0, "seeds": 0, "bad_frames": 0,
                      "recovered": 0}

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Serve connections until ``stop``."""
        metrics = self.pipeline.metrics
        url = self.config.private_url
        async for sock in connections(session, url, "private", self.policy, stop):
            self.connects += 1
            if self.connects > 1:
                metrics.ws_reconnects.labels(socket="private").inc()
            try:
                await run_until_first_done(
                    sock.read_loop(self._on_frame, self._on_bad_frame),
                    sock.heartbeat(self.policy, self._on_heartbeat_timeout),
                    stop.wait(),
                    self._session(sock, stop),
                )
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
                log.warning("private: connection lost (%s)", exc.__class__.__name__)
            except Exception as exc:  # a bug must cost one connection, never the stream
                self.pipeline.metrics.errors.labels(category="processing").inc()
                log.exception("private: unexpected %s, reconnecting", exc.__class__.__name__)
            finally:
                self.authenticated = False
                self.seeded = False
                self.book.facts.open_gap()
                metrics.socket_down("private")
            log.info("private: disconnected, reconnecting")

    async def _session(self, sock: FrameSocket, stop: asyncio.Event) -> None:
        if not await self._authenticate(sock):
            await sock.ws.close()
            return
        self.pipeline.metrics.socket_up("private")
        ack = sock.expect_ack("subscribe")
        await sock.send({"req_id": sock.next_req_id(), "op": "subscribe",
                         "args": list(PRIVATE_TOPICS)})
        try:
            await asyncio.wait_for(ack, ACK_TIMEOUT)
        except TimeoutError:
            # Not fatal: the topics may still flow; the next reconnect retries.
            self.pipeline.metrics.errors.labels(category="subscription").inc()
            log.warning("private: no subscribe ack within %.0f s", ACK_TIMEOUT)
        await self._seed(sock, stop)
        sock.healthy = True
        await asyncio.get_running_loop().create_future()  # until the reader ends

    async def _authenticate(self, sock: FrameSocket) -> bool:
        ack = sock.expect_ack("auth")
        # ``expires`` is wall-clock ms (Bybit compares it with its clock), 10 s ahead:
        # +1 s is rejected with "Params Error" (pybit#152, #300).
        creds = self.config.credentials
        args = ws_auth_args(creds.key, creds.secret, int(time.time() * 1000))
        await sock.send({"req_id": sock.next_req_id(), "op": "auth", "args": args})
        try:
            result = await asyncio.wait_for(ack, ACK_TIMEOUT)
        except TimeoutError:
            result = None
        if result is None or not result.success:
            self.stats["auth_rejected"] += 1
            self.pipeline.metrics.errors.labels(category="auth").inc()
            log.error("private: authentication %s", "timed out" if result is None
                      else "rejected by the exchange")
            return False
        self.authenticated = True
        return True

    async def _seed(self, sock: FrameSocket, stop: asyncio.Event) -> None:
        """Reconcile positions and recover the gap from REST; retries with backoff while
        the socket is open."""
        delays = Backoff(base=0.5, cap=10.0).delays()
        while not sock.ws.closed and not stop.is_set():
            try:
                await self._reconcile_positions(Source.HYBRID)
                self.stats["seeds"] += 1
                await self.recover()
            except REST_FAILURES as exc:
                log.warning("private: re-seed or recovery of the gap failed (%s), retrying",
                            exc)
                await sleep_unless(stop, next(delays))
                continue
            # Only here, with the socket live since before the read: the REST fallback's
            # recoveries while it was down must not end the gap that reaches the reconnect.
            self.book.facts.close_gap()
            self.seeded = True
            return

    async def _reconcile_positions(self, source: Source, *, changes_only: bool = False) -> None:
        """Read the positions over REST and reconcile the book with them (a seed)."""
        token = self.book.begin_seed()
        items, stamp = await self.rest.fetch_position_snapshot(
            self.config.category, self.config.settle_coin, self.book.desired_symbols())
        self.pipeline.received("position", source, len(items))
        self.pipeline.emit(self.book.apply_seed(token, items, stamp, time.time() * 1000,
                                                changes_only=changes_only))
        self._changed()

    async def recover(self) -> int:
        """Emit the orders and executions the exchange produced since the newest one seen
        (each once: the book's fact log); returns how many were missing."""
        start = self.book.facts.recovery_start(int(time.time() * 1000))
        facts = await self.rest.fetch_facts_since(self.config.category,
                                                  self.config.settle_coin, start)
        events = self.book.apply_recovered(facts, time.time() * 1000)
        for event in events:
            self.pipeline.received(str(event.type), Source.REST)
            self.pipeline.metrics.recovered.labels(type=str(event.type)).inc()
        self.pipeline.emit(events)
        self.stats["recovered"] += len(events)
        return len(events)

    async def poll_fallback(self) -> None:
        """What the socket carries, read over REST while it is down: positions (only those
        that changed are emitted again) and the orders and executions since the newest one
        seen."""
        await self._reconcile_positions(Source.REST, changes_only=True)
        await self.recover()

    def _on_frame(self, frame: Frame, now_ms: float) -> None:
        if isinstance(frame, PrivateFrame):
            self.pipeline.received(frame.topic, Source.HYBRID, len(frame.data))
            self.pipeline.emit(self.book.on_private(frame, now_ms))
            if frame.topic == "position":
                self._changed()
        elif isinstance(frame, CommandAck) and frame.op == "subscribe" and not frame.success:
            self.stats["subscribe_failed"] += 1
            self.pipeline.metrics.subscription_failures.inc()
            self.pipeline.metrics.errors.labels(category="subscription").inc()

    def _on_bad_frame(self) -> None:
        self.stats["bad_frames"] += 1
        self.pipeline.metrics.errors.labels(category="parse").inc()

    def _on_heartbeat_timeout(self) -> None:
        self.pipeline.metrics.errors.labels(category="heartbeat").inc()
