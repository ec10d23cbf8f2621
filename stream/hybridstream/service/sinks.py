"""Where forwarded events go: JSON lines on stdout (default), an HTTP webhook, or a Redis
Stream. A sink makes one attempt per ``send`` and raises :class:`SinkError` if the batch was
not delivered (:class:`SinkRejected` if the receiver refused its content); the pipeline
retries, so that retrying and its bounds live in one place (docs/delivery.md).
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any, Protocol

import aiohttp
import redis.asyncio as redis_asyncio

from hybridstream.hybrid.delivery import Verdict, classify_http_status
from hybridstream.settings import SinkKind, StreamSettings


class SinkError(RuntimeError):
    """A batch could not be delivered (message never contains credentials or URLs' auth)."""


class SinkRejected(SinkError):
    """The receiver refused the batch's content (HTTP 400, 413, 415, 422): sending the same
    events again cannot succeed, other events can."""


class Sink(Protocol):
    async def send(self, batch: list[dict[str, Any]]) -> None: ...

    async def close(self) -> None: ...


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


def build_sink(settings: StreamSettings) -> Sink:
    """The sink ``HYBRID_SINK`` names (``HYBRID_SINK_URL`` for webhook and redis)."""
    if settings.sink is SinkKind.JSONL:
        return JsonLinesSink()
    if not settings.sink_url:
        raise ValueError(f"HYBRID_SINK={settings.sink.value} needs HYBRID_SINK_URL")
    if settings.sink is SinkKind.WEBHOOK:
        return WebhookSink(settings.sink_url)
    return RedisStreamSink(settings.sink_url, settings.redis_stream)
