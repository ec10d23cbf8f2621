"""Run ``hybridstream run`` as real child processes against an in-test simulator."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from hybridstream.routing import RoutingDocument
from hybridstream.simulator.app import Simulator

from tests.plugins.processes import LoggedProcess, free_port

from .harness import KEY, SECRET


class StreamProcess:
    """A ``hybridstream run`` child; stdout (JSON lines) and stderr (logs) in one file."""

    def __init__(self, proc: LoggedProcess, port: int, host: str = "127.0.0.1") -> None:
        self.proc = proc
        self.port = port
        self.host = host

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def output(self) -> str:
        return self.proc.log.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output().splitlines()
                if line.startswith("{")]

    async def get(self, path: str, token: str | None = None) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as session, \
                session.get(self.base + path, headers=headers) as resp:
            return resp.status, await resp.text()

    async def status(self) -> dict[str, Any]:
        code, body = await self.get("/api/hybrid/status")
        assert code == 200, body
        return json.loads(body)


def write_document(path: Path, doc: RoutingDocument) -> None:
    """Replace a routing file atomically: a reader never sees half a document."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(doc.to_json())
    os.replace(tmp, path)


def build_env(sim: Simulator, mode: str, **extra: str) -> dict[str, str]:
    """Environment of a stream child pointed at ``sim`` (fast test timings)."""
    return {"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET, "HYBRID_MODE": mode,
            "BYBIT_REST_URL": sim.rest_url, "BYBIT_WS_PUBLIC_URL": sim.ws_public_url,
            "BYBIT_WS_PRIVATE_URL": sim.ws_private_url, "HYBRID_HTTP_HOST": "127.0.0.1",
            "HYBRID_POLL_INTERVAL": "0.5", "HYBRID_HEARTBEAT_INTERVAL": "2",
            "HYBRID_PONG_TIMEOUT": "2", "HYBRID_BACKOFF_BASE": "0.2", "HYBRID_BACKOFF_CAP": "2",
            **extra}


@contextmanager
def stream_process(log: Path, env: dict[str, str], log_level: str = "INFO",
                   port: int | None = None) -> Iterator[StreamProcess]:
    """Start a child (HTTP on ``HYBRID_HTTP_HOST`` and ``port``, a free one by default),
    stop it with SIGTERM (graceful path) on exit."""
    port = port or free_port()
    proc = LoggedProcess([sys.executable, "-m", "hybridstream.cli", "run",
                          "--log-level", log_level], log,
                         env={**env, "HYBRID_HTTP_PORT": str(port)})
    try:
        yield StreamProcess(proc, port, env.get("HYBRID_HTTP_HOST", "127.0.0.1"))
    finally:
        proc.stop(timeout=20)
