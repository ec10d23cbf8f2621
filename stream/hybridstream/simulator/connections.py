"""Live WebSocket connections: bounded per-connection send queues and the ways to end them.

Frames are pre-built bytes (see ``framing``) written straight to the connection's transport
by one writer task per connection, in order; aiohttp's own writer is used only for control
frames (pong, close), each of which is a whole frame, so the two never interleave mid-frame.
A consumer that does not read lets its queue fill; droppable pushes (tickers) beyond
``max_bytes`` are counted and dropped instead of growing memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from hybridstream.bybit.messages import ClientRequest, parse_client_request
from hybridstream.simulator.framing import build_text_frame

log = logging.getLogger(__name__)

def build_conn_id(kind: str) -> str:
    """Connection ids shaped like Bybit's: a UUID on public, ``<20 chars>-<2>`` on private."""
    if kind == "public":
        return str(uuid.uuid4())
    raw = uuid.uuid4().hex
    return f"{raw[:20]}-{raw[20:22]}"


def encode_json(message: dict[str, Any]) -> bytes:
    """Compact JSON as Bybit sends it. orjson: encoding was most of the ticker fan-out's cost
    (and every ms of it lands in each client's tick-to-callback latency)."""
    return orjson.dumps(message)


class Connection:
    """One accepted WebSocket with its bounded send queue and writer task."""

    def __init__(self, kind: str, ws: web.WebSocketResponse, request: web.Request,
                 max_bytes: int, delay_ms: Callable[[], int]) -> None:
        self.kind = kind
        self.conn_id = build_conn_id(kind)
        self.ws = ws
        self.transport = request.transport
        self.max_bytes = max_bytes
        self._delay_ms = delay_ms
        #: (enqueued at, frame bytes, number of messages in them)
        self._queue: deque[tuple[float, bytes, int]] = deque()
        self._drained = asyncio.Event()
        self._drained.set()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self.topics: set[str] = set()
        self.account_key: str | None = None
        self.last_activity = time.monotonic()
        self.idle_timeout_s: float | None = None
        self.frames_sent = 0
        self.dropped = 0
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.conn_id}")

    def describe(self) -> dict[str, Any]:
        """What the admin API shows about this connection."""
        return {"conn_id": self.conn_id, "kind": self.kind, "account": self.account_key,
                "topics": sorted(self.topics), "frames_sent": self.frames_sent,
                "dropped": self.dropped, "queued_bytes": self._queued_bytes}

    def send_json(self, message: dict[str, Any]) -> None:
        """Queue a control/private message (never dropped)."""
        self.enqueue(build_text_frame(encode_json(message)))

    def enqueue(self, frame: bytes, droppable: bool = False) -> bool:
        """Queue a pre-built frame; a droppable one is refused when the queue is full."""
        if droppable and self._backlog() + len(frame) > self.max_bytes:
            self.dropped += 1
            return False
        self._push(frame, 1)
        return True

    def _push(self, data: bytes, count: int) -> None:
        self._queue.append((time.monotonic(), data, count))
        self._queued_bytes += len(data)
        self._drained.clear()
        self._wake.set()

    def enqueue_many(self, frames: list[bytes]) -> None:
        """Queue a batch of droppable pushes as one write (the ticker fan-out path)."""
        data = b"".join(frames)
        if self._backlog() + len(data) > self.max_bytes:
            self.dropped += len(frames)
            return
        transport = self.transport
        if (not self._queue and transport is not None and not transport.is_closing()
                and self._delay_ms() <= 0):
            # Nothing queued, no delay fault: write now, without a hop through the writer
            # task (a loop iteration that every client's tick latency would pay). The
            # backlog check above keeps the transport buffer bounded as the writer would.
            transport.write(data)
            self.frames_sent += len(frames)
            return
        self._push(data, len(frames))

    def _backlog(self) -> int:
        buffered = 0 if self.transport is None else self.transport.get_write_buffer_size()
        return self._queued_bytes + buffered

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._write_queued()
            if not self._queue:
                self._drained.set()

    async def _write_queued(self) -> None:
        while self._queue:
            delay = self._delay_ms() / 1000
            if delay > 0:
                due = self._queue[0][0] + delay - time.monotonic()
                if due > 0:
                    await asyncio.sleep(due)
                    continue
            cutoff = time.monotonic() - delay
            chunks: list[bytes] = []
            while self._queue and self._queue[0][0] <= cutoff:
                _, data, count = self._queue.popleft()
                chunks.append(data)
                self.frames_sent += count
            self._queued_bytes -= sum(len(c) for c in chunks)
            if self.transport is None or self.transport.is_closing():
                self._queue.clear()
                self._queued_bytes = 0
                return
            self.transport.write(b"".join(chunks))
            # Backpressure: let the kernel drain before writing more, so the transport
            # buffer stays bounded and further pushes are dropped at ``enqueue``. The
            # transport exposes no drain event to a non-owner, hence the short poll.
            while (not self.transport.is_closing()  # noqa: ASYNC110
                   and self.transport.get_write_buffer_size() > self.max_bytes):
                await asyncio.sleep(0.01)

    async def flush(self) -> None:
        """Wait (at most 5 s) until queued frames were handed to the transport."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), 5)

    async def close_clean(self, code: int = 1000, message: bytes = b"") -> None:
        """Flush, then a proper close handshake (close frame with ``code``)."""
        await self.flush()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, message=message), 5)
        self.stop()

    def close_without_handshake(self) -> None:
        """TCP FIN with no close frame: the client sees close code 1006 (Bybit's idle cut)."""
        if self.transport is not None:
            self.transport.close()
        self.stop()

    def reset(self) -> None:
        """Abrupt TCP reset (RST via SO_LINGER 0): no close frame, no FIN."""
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
        self.stop()

    def stop(self) -> None:
        """Stop the writer task (the socket is being or has been closed)."""
        self._writer.cancel()


class ConnectionRegistry:
    """Every open connection, by id; selection for faults and fan-out."""

    def __init__(self) -> None:
        self._by_id: dict[str, Connection] = {}

    def add(self, conn: Connection) -> None:
        """Track a new connection."""
        self._by_id[conn.conn_id] = conn

    def remove(self, conn: Connection) -> None:
        """Untrack a connection and stop its writer."""
        self._by_id.pop(conn.conn_id, None)
        conn.stop()

    def select(self, kind: str | None = None, account_key: str | None = None,
               conn_id: str | None = None) -> list[Connection]:
        """Connections matching every given filter (``None`` matches all)."""
        return [c for c in self._by_id.values()
                if (kind in (None, "all", c.kind))
                and (account_key is None or c.account_key == account_key)
                and (conn_id is None or c.conn_id == conn_id)]

    def __len__(self) -> int:
        return len(self._by_id)


class SocketHub:
    """The accept-and-read loop shared by the public and private endpoints.

    Subclasses answer requests (``on_request``) and drop their subscriptions (``forget``)."""

    kind = ""

    def __init__(self, registry: ConnectionRegistry, max_bytes: int,
                 delays: dict[str, int]) -> None:
        self.registry = registry
        self._max_bytes = max_bytes
        self._delays = delays

    async def serve(self, request: web.Request,
                    idle_timeout_s: float | None = None) -> web.WebSocketResponse:
        """Upgrade, register, dispatch text frames until the socket ends, then forget it."""
        ws = web.WebSocketResponse(compress=False, autoping=True)
        await ws.prepare(request)
        conn = Connection(self.kind, ws, request, self._max_bytes,
                          lambda: self._delays[self.kind])
        conn.idle_timeout_s = idle_timeout_s
        self.registry.add(conn)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                conn.last_activity = time.monotonic()
                req = parse_client_request(msg.data)
                if req is None:
                    log.debug("unparseable %s message on %s", self.kind, conn.conn_id)
                else:
                    self.on_request(conn, req)
        finally:
            self.forget(conn)
            self.registry.remove(conn)
        return ws

    def on_request(self, conn: Connection, req: ClientRequest) -> None:
        """Answer one client op (subclass)."""
        raise NotImplementedError

    def forget(self, conn: Connection) -> None:
        """Drop the connection's subscriptions (subclass)."""
        raise NotImplementedError
