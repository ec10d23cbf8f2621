"""Where forwarded events go: JSON lines on stdout (default), an HTTP webhook, a Redis
Stream, or the PostgreSQL history (docs/history.md). A sink makes one attempt per ``send``
and raises :class:`SinkError` if the batch was not delivered (:class:`SinkRejected` if the
receiver refused its content); the pipeline retries, so that retrying and its bounds live
in one place (docs/delivery.md).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import IO, Any, Protocol, runtime_checkable

import aiohttp
import asyncpg
import redis.asyncio as redis_asyncio

from hybridstream.history.connect import connect, describe
from hybridstream.history.rows import MalformedEvent, build_rows
from hybridstream.history.store import write_rows
from hybridstream.hybrid.delivery import Verdict, classify_http_status
from hybridstream.settings import SinkKind, StreamSettings

log = logging.getLogger(__name__)


class SinkError(RuntimeError):
    """A batch could not be delivered (message never contains credentials or URLs' auth)."""


class SinkRejected(SinkError):
    """The receiver refused the batch's content (HTTP 400, 413, 415, 422): sending the same
    events again cannot succeed, other events can."""


class Sink(Protocol):
    async def send(self, batch: list[dict[str, Any]]) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class PreparedSink(Protocol):
    """A sink with work to do once at start (a schema to migrate): the service calls
    ``prepare`` before it produces events; a failure there is logged, not fatal (the
    sink may be down at start: the first ``send`` tries again)."""

    async def prepare(self) -> None: ...


class JsonLinesSink:
    """One JSON object per line, flushed per batch (stdout unless a stream is given)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout

    async def send(self, batch: list[dict[str, Any]]) -> None:
        try:
            self._stream.write("".join(json.dumps(e, separators=(",", ":")) + "\n"
                                       for e in batch))
            self._stream.flush()
        except OSError as exc:  # a closed pipe: the reader may come back (a restart)
            raise SinkError(f"stdout unavailable: {exc.__class__.__name__}") from None

    async def close(self) -> None:
        self._stream.flush()


class WebhookSink:
    """POST ``{"events": [...]}``; any 2xx delivers."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._url = url
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def send(self, batch: list[dict[str, Any]]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout))
        try:
            async with self._session.post(self._url, json={"events": batch}) as resp:
                verdict = classify_http_status(resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SinkError(f"webhook unavailable: {exc.__class__.__name__}") from None
        if verdict is Verdict.REJECTED:
            raise SinkRejected(f"webhook rejected the batch: HTTP {resp.status}")
        if verdict is Verdict.UNAVAILABLE:
            raise SinkError(f"webhook unavailable: HTTP {resp.status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class RedisStreamSink:
    """``XADD <stream> MAXLEN ~ <maxlen> * event <json>`` per event, one pipeline per batch."""

    def __init__(self, url: str, stream: str, maxlen: int = 100_000) -> None:
        # timeouts: a Redis that hangs must fail the attempt, not stall the drain for ever
        self._client = redis_asyncio.Redis.from_url(url, socket_connect_timeout=5,
                                                    socket_timeout=10)
        self._stream = stream
        self._maxlen = maxlen

    async def send(self, batch: list[dict[str, Any]]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for event in batch:
                    pipe.xadd(self._stream, {"event": json.dumps(event, separators=(",", ":"))},
                              maxlen=self._maxlen, approximate=True)
                await pipe.execute()
        except (redis_asyncio.RedisError, OSError) as exc:
            # a ResponseError (wrong key type, OOM) is a misconfigured sink: retried too
            raise SinkError(f"redis unavailable: {exc.__class__.__name__}") from None

    async def close(self) -> None:
        await self._client.aclose()


class PostgresSink:
    """One transaction per batch into the history tables, keyed by exchange ids so that a
    batch sent again (a retry after a lost commit answer, the spill replayed after a
    restart, another replica, REST recovery) adds no row. The schema is migrated on every
    (re)connection, before the first write."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: asyncpg.Connection | None = None

    async def prepare(self) -> None:
        """Connect and migrate at start, so that the schema is there before any event."""
        try:
            self._conn = await connect(self._url)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            log.warning("postgres sink: not reachable at start (%s); the first batch "
                        "retries", describe(exc))

    async def send(self, batch: list[dict[str, Any]]) -> None:
        try:
            rows = build_rows(batch)
        except MalformedEvent as exc:
            raise SinkRejected(f"postgres rejected the batch: {exc}") from None
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await connect(self._url)
            await write_rows(self._conn, rows)
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError,
                ValueError) as exc:
            # SQLSTATE classes 22/23, or a value the driver cannot encode (a ValueError):
            # this content, not the database
            if self._conn is not None and not self._conn.is_closed():
                raise SinkRejected(f"postgres rejected the batch: {describe(exc)}") from None
            raise SinkError(f"postgres unavailable: {describe(exc)}") from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            await self._drop_connection()
            raise SinkError(f"postgres unavailable: {describe(exc)}") from None

    async def _drop_connection(self) -> None:
        """Forget a connection whose state is unknown (the next attempt opens a fresh one)."""
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if conn.is_in_transaction():  # an attempt cancelled at shutdown: abandon it
            conn.terminate()
            return
        try:
            await conn.close(timeout=5)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
            conn.terminate()


def build_sink(settings: StreamSettings) -> Sink:
    """The sink ``HYBRID_SINK`` names (``HYBRID_SINK_URL`` for webhook, redis, postgres)."""
    if settings.sink is SinkKind.JSONL:
        return JsonLinesSink()
    if not settings.sink_url:
        raise ValueError(f"HYBRID_SINK={settings.sink.value} needs HYBRID_SINK_URL")
    url = settings.sink_url.get_secret_value()
    if settings.sink is SinkKind.WEBHOOK:
        return WebhookSink(url)
    if settings.sink is SinkKind.POSTGRES:
        return PostgresSink(url)
    return RedisStreamSink(url, settings.redis_stream)
