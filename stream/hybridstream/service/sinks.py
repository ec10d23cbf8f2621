"""Where forwarded events go: JSON lines on stdout (default), an HTTP webhook, or a Redis
Stream. A sink takes a batch of wire dicts; failures raise :class:`SinkError` after the
sink's own retries, and the caller counts them (``hybridstream_errors_total{category="sink"}``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import IO, Any, Protocol

import aiohttp
import redis.asyncio as redis_asyncio

from hybridstream.hybrid.decisions import Backoff
from hybridstream.settings import SinkKind, StreamSettings


class SinkError(RuntimeError):
    """A batch could not be delivered (message never contains credentials or URLs' auth)."""


class Sink(Protocol):
    async def send(self, batch: list[dict[str, Any]]) -> None: ...

    async def close(self) -> None: ...


class JsonLinesSink:
    """One JSON object per line, flushed per batch (stdout unless a stream is given)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout

    async def send(self, batch: list[dict[str, Any]]) -> None:
        self._stream.write("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in batch))
        self._stream.flush()

    async def close(self) -> None:
        self._stream.flush()


class WebhookSink:
    """POST ``{"events": [...]}``; retries 5xx and connection errors with jittered backoff."""

    def __init__(self, url: str, attempts: int = 6, backoff: Backoff | None = None) -> None:
        self._url = url
        self._attempts = attempts
        self._backoff = backoff or Backoff(base=0.2, cap=5.0)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, batch: list[dict[str, Any]]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        delays = self._backoff.delays()
        last = "no attempt"
        for _ in range(self._attempts):
            try:
                async with self._session.post(self._url, json={"events": batch}) as resp:
                    if resp.status < 300:
                        return
                    last = f"HTTP {resp.status}"
                    if resp.status < 500 and resp.status != 429:
                        break  # the receiver rejects this batch; retrying cannot help
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = exc.__class__.__name__
            await asyncio.sleep(next(delays))
        raise SinkError(f"webhook delivery failed: {last}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class RedisStreamSink:
    """``XADD <stream> MAXLEN ~ <maxlen> * event <json>`` per event, one pipeline per batch."""

    def __init__(self, url: str, stream: str, maxlen: int = 100_000) -> None:
        self._client = redis_asyncio.Redis.from_url(url)
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
            raise SinkError(f"redis delivery failed: {exc.__class__.__name__}") from None

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
