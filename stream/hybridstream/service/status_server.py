"""HTTP endpoints of a stream process: Prometheus ``/metrics``, probes, and the JSON status
API the seed documents name (``/api/hybrid/status``, ``/subscriptions``, ``/metrics``).

Everything served here is built from state that never holds credentials (settings are not
serialised; the key and secret live only in :class:`~hybridstream.service.rest.Credentials`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from hybridstream.history.recent import DEFAULT_LIMIT, MAX_LIMIT, HistoryUnavailable
from hybridstream.service.metrics import StreamMetrics

StatusProvider = Callable[[], dict[str, Any]]
#: ``limit`` -> the newest orders and executions (raises HistoryUnavailable)
HistoryProvider = Callable[[int], Awaitable[dict[str, Any]]]


def build_app(metrics: StreamMetrics, status: StatusProvider, ready: Callable[[], bool],
              *, token: str | None = None, history: HistoryProvider | None = None,
              sink: str = "jsonl") -> web.Application:
    """The aiohttp application; ``status()`` returns the full status document, ``history``
    (with the PostgreSQL sink ``sink``) the newest rows of the history. With a ``token``,
    the ``/api/hybrid/*`` endpoints (positions, sizes, PnL, orders) need it as a bearer
    token; metrics and probes stay open for Prometheus and the kubelet."""
    expected = f"Bearer {token.strip()}".encode() if token else None

    @web.middleware
    async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
        if expected is not None and request.path.startswith("/api/"):
            given = request.headers.get("Authorization", "").strip().encode()
            if not hmac.compare_digest(given, expected):
                return web.json_response({"error": "unauthorized"}, status=401)
        return await handler(request)

    async def prometheus(_: web.Request) -> web.Response:
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_: web.Request) -> web.Response:
        is_ready = ready()
        return web.json_response({"ready": is_ready}, status=200 if is_ready else 503)

    async def full_status(_: web.Request) -> web.Response:
        return web.json_response(status())

    async def subscriptions(_: web.Request) -> web.Response:
        doc = status()
        subs = doc.get("hybrid", {}).get("subscriptions", [])
        return web.json_response({"count": len(subs), "topics": [f"tickers.{s}" for s in subs]})

    async def summary(_: web.Request) -> web.Response:
        doc = status()
        return web.json_response({"mode": doc["mode"], "role": doc["role"],
                                  "stats": doc["stats"], "queue": doc["queue"],
                                  "routing": doc["routing"]})

    async def recent_history(request: web.Request) -> web.Response:
        if history is None:
            return web.json_response(
                {"error": f"no PostgreSQL history sink (HYBRID_SINK is {sink})"}, status=404)
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return web.json_response(
                {"error": f"limit must be a whole number from 1 to {MAX_LIMIT}"}, status=400)
        try:
            return web.json_response({"limit": limit, **await history(limit)})
        except HistoryUnavailable as exc:
            return web.json_response({"error": str(exc)}, status=503)

    app = web.Application(middlewares=[require_token])
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/hybrid/status", full_status)
    app.router.add_get("/api/hybrid/subscriptions", subscriptions)
    app.router.add_get("/api/hybrid/metrics", summary)
    app.router.add_get("/api/hybrid/history", recent_history)
    return app
