"""Helpers for running a real StreamService against a real simulator in one event loop.

Events are collected through the real JSON-lines sink writing into a buffer, so what the
tests read is exactly what ``hybridstream run`` prints.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from hybridstream.bybit.signing import rest_headers
from hybridstream.service.app import StreamService
from hybridstream.service.sinks import JsonLinesSink
from hybridstream.serving import start_site
from hybridstream.settings import StreamSettings
from hybridstream.simulator.app import Simulator

KEY = "SIMKEY000000000000"
SECRET = "SIMSECRET0000000000000000000000000000"


class EventBuffer(io.StringIO):
    """What the JSON-lines sink wrote, parsed on demand."""

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines() if line]


class WebhookReceiver:
    """A real aiohttp webhook receiver on loopback: answers ``status`` (change it to take
    the receiver down or up) and keeps the events of every batch it answered 2xx, in
    arrival order."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.events: list[dict[str, Any]] = []
        self.answers: dict[int, int] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        status = self.status
        if status < 300:
            self.events.extend((await request.json())["events"])
        self.answers[status] = self.answers.get(status, 0) + 1
        return web.Response(status=status)

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/hook", self._hook)
        self._runner, port = await start_site(app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def build_settings(sim: Simulator, **env: Any) -> StreamSettings:
    """Settings pointing at ``sim`` with fast timings for tests (overridable)."""
    values: dict[str, Any] = {
        "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET, "HYBRID_MODE": "production",
        "BYBIT_REST_URL": sim.rest_url, "BYBIT_WS_PUBLIC_URL": sim.ws_public_url,
        "BYBIT_WS_PRIVATE_URL": sim.ws_private_url, "HYBRID_HTTP_HOST": "127.0.0.1",
        "HYBRID_HTTP_PORT": 0, "HYBRID_HEARTBEAT_INTERVAL": 2, "HYBRID_PONG_TIMEOUT": 2,
        "HYBRID_BACKOFF_BASE": 0.2, "HYBRID_BACKOFF_CAP": 2, "HYBRID_POLL_INTERVAL": 1,
        "HYBRID_TICKER_STALE_AFTER": 5,
    }
    values.update(env)
    return StreamSettings.model_validate(values)


@asynccontextmanager
async def running_stream(settings: StreamSettings) -> AsyncIterator[tuple[StreamService,
                                                                          EventBuffer]]:
    """A started service whose forwarded events land in the returned buffer."""
    buffer = EventBuffer()
    async with StreamService(settings, sink=JsonLinesSink(buffer)) as service:
        yield service, buffer


async def place_market_order(sim: Simulator, symbol: str, side: str, qty: str, *,
                             reduce_only: bool = False, position_idx: int = 0) -> dict:
    """``POST /v5/order/create`` signed like any Bybit client."""
    body = json.dumps({"category": "linear", "symbol": symbol, "side": side,
                       "orderType": "Market", "qty": qty, "positionIdx": position_idx,
                       "reduceOnly": reduce_only})
    headers = rest_headers(KEY, SECRET, int(time.time() * 1000), body)
    headers["Content-Type"] = "application/json"
    async with aiohttp.ClientSession() as session, session.post(
            f"{sim.rest_url}/v5/order/create", data=body, headers=headers) as resp:
        reply = await resp.json()
    assert reply["retCode"] == 0, reply
    return reply["result"]


def open_positions(service: StreamService) -> dict[tuple[str, int], dict[str, Any]]:
    """The stream's book (hybrid or legacy)."""
    book = service.hybrid.book if service.hybrid is not None else service.poller.book
    return dict(book.positions)


def truth(sim: Simulator) -> dict[tuple[str, int], dict[str, Any]]:
    """The simulator's open positions keyed like the stream's book."""
    return {(p["symbol"], int(p["positionIdx"])): p for p in sim.control.positions(KEY)
            if p["size"] not in ("0", "")}


def assert_book_matches_truth(service: StreamService, sim: Simulator) -> bool:
    """Same open keys, sizes, sides and seqs as the exchange."""
    ours, theirs = open_positions(service), truth(sim)
    return ours.keys() == theirs.keys() and all(
        (ours[k]["size"], ours[k]["side"], ours[k]["seq"]) ==
        (theirs[k]["size"], theirs[k]["side"], int(theirs[k]["seq"])) for k in ours)
