"""WebSocket plumbing shared by the private and public clients.

* :func:`connections` is reconnection as an ``async for`` over connections (the shape of
  python-websockets' ``connect``): each attempt waits a jittered, capped exponential delay;
  the delay sequence restarts only after a connection was marked healthy, so a server that
  accepts and at once closes (auth rejected, clean close without an exception) can never
  make us spin.
* :class:`FrameSocket` reads frames, answers command acks to waiters, and runs the 20 s
  heartbeat with a pong deadline. Timeouts use the monotonic clock (the seed used
  ``datetime.now()``, which jumps with NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hybridstream.hybrid.decisions import Backoff
from hybridstream.hybrid.frames import (
    CommandAck,
    Frame,
    FrameError,
    Pong,
    TickerFrame,
    parse_frame,
)
from hybridstream.service.rest import Credentials

log = logging.getLogger(__name__)
_TEXT, _BINARY = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY


@dataclass(frozen=True, slots=True)
class SocketPolicy:
    """Timing knobs of one socket."""

    heartbeat_interval: float = 20.0
    pong_timeout: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What the hybrid clients need to know about the exchange."""

    private_url: str
    public_url: str
    credentials: Credentials
    policy: SocketPolicy
    category: str = "linear"
    settle_coin: str = "USDT"
    ticker_stale_after: float = 30.0
    poll_interval: float = 5.0
    fallback_after: float = 3.0


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class FrameSocket:
    """One open WebSocket: frame dispatch, ack waiters, heartbeat."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, name: str) -> None:
        self.ws = ws
        self.name = name
        self.healthy = False
        self.last_pong = time.monotonic()
        self._pong = asyncio.Event()
        self.last_data = time.monotonic()
        self._ack_waiters: dict[str, asyncio.Future[CommandAck]] = {}
        self._req = 0

    def next_req_id(self) -> str:
        self._req += 1
        return f"{self.name}-{self._req}"

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(payload))

    def expect_ack(self, op: str) -> asyncio.Future[CommandAck]:
        """A future resolved by the next ack of ``op`` read from the socket."""
        fut: asyncio.Future[CommandAck] = asyncio.get_running_loop().create_future()
        self._ack_waiters[op] = fut
        return fut

    async def read_loop(self, on_frame: Callable[[Frame, float], None],
                        on_bad_frame: Callable[[], None]) -> None:
        """Dispatch frames until the socket closes (cleanly or not); never raises on data."""
        # ``receive()`` directly, not ``async for``: one coroutine frame less per message,
        # and the ticker branch first, because nearly every frame is a ticker push.
        receive = self.ws.receive
        while True:
            msg = await receive()
            if msg.type is not _TEXT and msg.type is not _BINARY:
                break  # CLOSE/CLOSING/CLOSED/ERROR: the socket is done
            now_ms = time.time() * 1000
            try:
                frame = parse_frame(msg.data)
            except FrameError as exc:
                log.warning("%s: malformed frame dropped (%s)", self.name, exc)
                on_bad_frame()
                continue
            if type(frame) is TickerFrame:
                self.last_data = time.monotonic()
                on_frame(frame, now_ms)
                continue
            if isinstance(frame, Pong):
                self.last_pong = time.monotonic()
                self._pong.set()
                continue
            self.last_data = time.monotonic()
            if isinstance(frame, CommandAck):
                waiter = self._ack_waiters.pop(frame.op, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
            on_frame(frame, now_ms)

    async def heartbeat(self, policy: SocketPolicy, on_timeout: Callable[[], None]) -> None:
        """Ping every interval; close the socket if no pong arrives within the deadline."""
        while not self.ws.closed:
            await asyncio.sleep(policy.heartbeat_interval)
            self._pong.clear()
            await self.send({"req_id": self.next_req_id(), "op": "ping"})
            try:
                await asyncio.wait_for(self._pong.wait(), policy.pong_timeout)
            except TimeoutError:
                log.warning("%s: no pong within %.1f s, reconnecting", self.name,
                            policy.pong_timeout)
                on_timeout()
                await self.ws.close()
                return


async def connections(session: aiohttp.ClientSession, url: str, name: str, policy: SocketPolicy,
                      stop: asyncio.Event) -> AsyncIterator[FrameSocket]:
    """Yield a :class:`FrameSocket` per successful connect, forever (until ``stop``)."""
    delays = policy.backoff.delays()
    while not stop.is_set():
        try:
            ws = await session.ws_connect(url, autoping=True, heartbeat=None,
                                          timeout=aiohttp.ClientWSTimeout(ws_close=5.0))
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("%s: connect failed (%s)", name, exc.__class__.__name__)
        else:
            sock = FrameSocket(ws, name)
            try:
                yield sock
            finally:
                await ws.close()
            if sock.healthy:
                delays = policy.backoff.delays()
        await sleep_unless(stop, next(delays))


async def run_until_first_done(*aws: Awaitable[Any]) -> None:
    """Run coroutines together; when one finishes (or fails) cancel the rest, re-raise."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for t in done:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]
