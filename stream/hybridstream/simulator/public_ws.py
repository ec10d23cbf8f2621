"""Public WebSocket ``/v5/public/linear``: subscribe/unsubscribe/ping and the ticker feed.

Each tick the market moves once, every changed symbol's delta is serialized and framed
once, and the same bytes are queued to every subscriber (one joined write per connection
per tick). Acks, pongs and error strings follow Bybit's linear shapes
(docs/bybit-protocol.md sections 3-5).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from hybridstream.bybit.messages import (
    INVALID_OP_MSG,
    ClientRequest,
    build_already_subscribed_msg,
    build_handler_not_found_msg,
    build_linear_pong,
    build_public_op_ack,
    build_ticker_message,
)
from hybridstream.simulator.clock import now_ms
from hybridstream.simulator.config import SimulatorConfig
from hybridstream.simulator.connections import (
    Connection,
    ConnectionRegistry,
    SocketHub,
    encode_json,
)
from hybridstream.simulator.faults import FaultState
from hybridstream.simulator.framing import build_text_frame
from hybridstream.simulator.market import Market

log = logging.getLogger(__name__)


def decide_subscription(
    topics: list[str], known: set[str], current: set[str], reject_batch: bool
) -> tuple[list[str], str | None]:
    """Which ``topics`` to add and the failure ``ret_msg`` (None: success).

    An unknown topic fails the ack; with ``reject_batch`` it also blocks the valid ones
    (upstream behaviour unverified, hence configurable). A duplicate fails the ack with
    "already subscribed" while the existing subscription keeps delivering."""
    unknown = [t for t in topics if t not in known]
    if unknown and reject_batch:
        return [], build_handler_not_found_msg(unknown[0])
    dup = [t for t in topics if t in current]
    added = list(dict.fromkeys(t for t in topics if t in known and t not in current))
    if unknown:
        return added, build_handler_not_found_msg(unknown[0])
    if dup:
        return added, build_already_subscribed_msg(dup[0])
    return added, None


class PublicHub(SocketHub):
    """Public connections, their ticker subscriptions and the feed task."""

    kind = "public"

    def __init__(self, config: SimulatorConfig, market: Market, faults: FaultState,
                 registry: ConnectionRegistry) -> None:
        super().__init__(registry, config.send_queue_max_bytes, faults.delay_ms)
        self.config = config
        self.market = market
        self.faults = faults
        self.known_topics = {f"tickers.{s}" for s in market.instruments}
        self.subscribers: dict[str, set[Connection]] = {}
        self._pending: dict[str, dict[str, str]] = {}
        self._cs = dict.fromkeys(market.instruments, 20_000_000_000)
        self.messages_built = 0
        self.ticks = 0
        self.ticks_skipped = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The WebSocket endpoint."""
        return await self.serve(request)

    def forget(self, conn: Connection) -> None:
        """Drop the connection's ticker subscriptions."""
        for topic in conn.topics:
            self.subscribers.get(topic, set()).discard(conn)

    def on_request(self, conn: Connection, req: ClientRequest) -> None:
        """One client op."""
        args = [str(a) for a in req.args]
        if req.op == "ping":
            conn.send_json(build_linear_pong(conn.conn_id, req.req_id))
        elif req.op == "subscribe":
            self._subscribe(conn, args, req.req_id)
        elif req.op == "unsubscribe":
            for topic in args:
                conn.topics.discard(topic)
                self.subscribers.get(topic, set()).discard(conn)
            conn.send_json(build_public_op_ack("unsubscribe", conn.conn_id, req.req_id))
        else:
            conn.send_json(build_public_op_ack(req.op, conn.conn_id, req.req_id, False,
                                               INVALID_OP_MSG))

    def _subscribe(self, conn: Connection, topics: list[str], req_id: str | None) -> None:
        added, error = decide_subscription(topics, self.known_topics, conn.topics,
                                           self.config.reject_batch_on_bad_topic)
        for topic in added:
            conn.topics.add(topic)
            self.subscribers.setdefault(topic, set()).add(conn)
        conn.send_json(build_public_op_ack("subscribe", conn.conn_id, req_id, error is None,
                                           error or ""))
        for topic in added:
            symbol = topic.removeprefix("tickers.")
            conn.send_json(build_ticker_message(symbol, "snapshot", self.market.snapshot(symbol),
                                                self._next_cs(symbol), now_ms()))

    def _next_cs(self, symbol: str) -> int:
        self._cs[symbol] += 1
        return self._cs[symbol]

    def publish_changes(self, changes: dict[str, dict[str, str]]) -> int:
        """Fan one tick's deltas out; returns the number of frames queued."""
        ts = now_ms()
        batches: dict[Connection, list[bytes]] = {}
        symbols = set(changes) | set(self._pending) if self._pending else changes.keys()
        for symbol in symbols:
            subs = self.subscribers.get(f"tickers.{symbol}")
            delta = changes.get(symbol)
            if not subs:
                self._pending.pop(symbol, None)  # a new subscriber starts from a snapshot
                continue
            if self.faults.is_stalled(symbol):
                if delta:
                    self._pending.setdefault(symbol, {}).update(delta)
                continue
            withheld = self._pending.pop(symbol, None)
            if withheld:
                delta = {**withheld, **(delta or {})}
            if not delta:
                continue
            data = {"symbol": symbol, **delta}
            frame = build_text_frame(encode_json(build_ticker_message(
                symbol, "delta", data, self._next_cs(symbol), ts)))
            self.messages_built += 1
            for conn in subs:
                batch = batches.get(conn)
                if batch is None:
                    batches[conn] = [frame]
                else:
                    batch.append(frame)
        queued = 0
        for conn, frames in batches.items():
            conn.enqueue_many(frames)
            queued += len(frames)
        return queued

    async def run_feed(self) -> None:
        """Tick forever at ``ticker_interval_ms`` (drift-corrected)."""
        interval = self.config.ticker_interval_ms / 1000
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += interval
            try:
                self.publish_changes(self.market.step())
            except Exception:  # a bug in one tick must not stop the feed
                log.exception("ticker tick failed")
            self.ticks += 1
            delay = next_at - loop.time()
            if delay < -interval:  # fell behind (overload): skip, do not burst
                self.ticks_skipped += int(-delay / interval)
                next_at = loop.time()
            await asyncio.sleep(max(0.0, delay))
