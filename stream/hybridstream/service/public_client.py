"""The public WebSocket: ``tickers.{symbol}`` for every symbol with an open position,
subscribed and unsubscribed as positions open and close, restored after each reconnect.

Bybit quirks handled here (docs/bybit-protocol.md §3): a duplicate subscribe is answered
``success:false, "error:already subscribed,topic:…"`` while the old subscription keeps
delivering, so it counts as subscribed; other ``success:false`` acks are counted and the
symbol is retried after a cool-down, never fatal (pybit dies on them, PR #373). A socket
whose pongs arrive but whose tickers stop ("stalled") is reconnected after
``ticker_stale_after`` seconds without data while subscriptions exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp

from hybridstream.hybrid.book import HybridBook
from hybridstream.hybrid.decisions import build_topic_batches, decide_subscription_changes
from hybridstream.hybrid.events import Source
from hybridstream.hybrid.frames import (
    TICKER_PREFIX,
    CommandAck,
    Frame,
    TickerFrame,
    parse_duplicate_topic,
)
from hybridstream.service.pipeline import Pipeline
from hybridstream.service.sockets import (
    ClientConfig,
    FrameSocket,
    connections,
    run_until_first_done,
)

log = logging.getLogger(__name__)
RETRY_FAILED_AFTER = 5.0


class PublicClient:
    """Keeps ticker subscriptions equal to the book's open-position symbols."""

    def __init__(self, book: HybridBook, pipeline: Pipeline, config: ClientConfig) -> None:
        self.book = book
        self.pipeline = pipeline
        self.config = config
        self.active: set[str] = set()
        self.connected = False
        self.connects = 0
        self._sock: FrameSocket | None = None
        self.changed = asyncio.Event()
        self._pending: dict[str, list[str]] = {}  # req_id -> symbols
        self._cooling: dict[str, float] = {}  # symbol -> monotonic retry time
        self.stats = {"duplicate_acks": 0, "subscribe_failed": 0, "bad_frames": 0,
                      "stale_reconnects": 0, "subscribe_requests": 0,
                      "unsubscribe_requests": 0}
        # Ticker pushes counted in bare attributes (the hottest line of the service) and
        # handed to the metrics just before each scrape.
        self._tickers_unflushed = 0
        self._last_ticker_ms = 0.0
        pipeline.metrics.add_flush_hook(self._flush_ticker_count)

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Serve connections until ``stop``."""
        metrics = self.pipeline.metrics
        policy = self.config.policy
        async for sock in connections(session, self.config.public_url, "public", policy, stop):
            self.connects += 1
            if self.connects > 1:
                metrics.ws_reconnects.labels(socket="public").inc()
            self._sock = sock
            self.connected = True
            metrics.socket_up("public")
            self.active.clear()
            self._pending.clear()
            self.book.reset_tickers()  # the first frame after (re)subscribing is a snapshot
            try:
                await run_until_first_done(
                    sock.read_loop(self._on_frame, self._on_bad_frame),
                    sock.heartbeat(policy, self._on_heartbeat_timeout),
                    stop.wait(),
                    self._manage(sock),
                )
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
                log.warning("public: connection lost (%s)", exc.__class__.__name__)
            except Exception as exc:  # a bug must cost one connection, never the stream
                self.pipeline.metrics.errors.labels(category="processing").inc()
                log.exception("public: unexpected %s, reconnecting", exc.__class__.__name__)
            finally:
                self.connected = False
                self.active.clear()
                metrics.subscriptions_active.set(0)
                metrics.socket_down("public")
            log.info("public: disconnected, reconnecting")

    async def _manage(self, sock: FrameSocket) -> None:
        """Apply subscription changes as they come; watch for stalled tickers."""
        while not sock.ws.closed:
            now = time.monotonic()
            desired = frozenset(s for s in self.book.desired_symbols()
                                if self._cooling.get(s, 0.0) <= now)
            subscribe, unsubscribe = decide_subscription_changes(desired, self.active)
            for batch in build_topic_batches(unsubscribe):
                self.active.difference_update(batch)
                for symbol in batch:
                    self.book.drop_ticker(symbol)
                await self._request(sock, "unsubscribe", batch)
            for batch in build_topic_batches(subscribe):
                self.active.update(batch)
                await self._request(sock, "subscribe", batch)
            self.pipeline.metrics.subscriptions_active.set(len(self.active))
            if self.active and now - sock.last_data > self.config.ticker_stale_after:
                log.warning("public: no ticker data for %.0f s, reconnecting",
                            now - sock.last_data)
                self.stats["stale_reconnects"] += 1
                self.pipeline.metrics.errors.labels(category="heartbeat").inc()
                await sock.ws.close()
                return
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1.0)

    async def _request(self, sock: FrameSocket, op: str, symbols: list[str]) -> None:
        req_id = sock.next_req_id()
        if op == "subscribe":
            self._pending[req_id] = symbols
            # Data timeout counts from the moment we asked for data.
            sock.last_data = max(sock.last_data, time.monotonic())
        self.stats[f"{op}_requests"] += 1
        await sock.send({"req_id": req_id, "op": op,
                         "args": [TICKER_PREFIX + s for s in symbols]})

    def _on_frame(self, frame: Frame, now_ms: float) -> None:
        if type(frame) is TickerFrame:
            if self._sock is not None:
                self._sock.healthy = True  # data flows: the next reconnect starts fast
            self._tickers_unflushed += 1
            self._last_ticker_ms = now_ms
            if frame.symbol in self.active:
                events = self.book.on_ticker(frame, now_ms)
                if events:  # most pushes do not move the mark price
                    self.pipeline.emit(events)
        elif isinstance(frame, CommandAck) and frame.op == "subscribe":
            self._on_subscribe_ack(frame)

    def _flush_ticker_count(self) -> None:
        count, self._tickers_unflushed = self._tickers_unflushed, 0
        if count:
            self.pipeline.metrics.count_received("ticker", Source.HYBRID.value, count,
                                                 self._last_ticker_ms / 1000)

    def _on_subscribe_ack(self, ack: CommandAck) -> None:
        symbols = self._pending.pop(ack.req_id, [])
        if ack.success:
            return
        if parse_duplicate_topic(ack.ret_msg) is not None:
            self.stats["duplicate_acks"] += 1  # still subscribed: not a failure
            return
        self.stats["subscribe_failed"] += 1
        self.pipeline.metrics.subscription_failures.inc()
        self.pipeline.metrics.errors.labels(category="subscription").inc()
        log.warning("public: subscribe rejected for %d topic(s)", len(symbols))
        retry_at = time.monotonic() + RETRY_FAILED_AFTER
        for symbol in symbols:
            self.active.discard(symbol)
            self._cooling[symbol] = retry_at
        self.changed.set()

    def _on_bad_frame(self) -> None:
        self.stats["bad_frames"] += 1
        self.pipeline.metrics.errors.labels(category="parse").inc()

    def _on_heartbeat_timeout(self) -> None:
        self.pipeline.metrics.errors.labels(category="heartbeat").inc()
