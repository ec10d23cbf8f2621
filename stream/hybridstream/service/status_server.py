"""HTTP endpoints of a stream process: Prometheus ``/metrics``, probes, and the JSON status
API the seed documents name (``/api/hybrid/status``, ``/subscriptions``, ``/metrics``).

Everything served here is built from state that never holds credentials (settings are not
serialised; the key and secret live only in :class:`~hybridstream.service.rest.Credentials`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from hybridstream.service.metrics import StreamMetrics

StatusProvider = Callable[[], dict[str, Any]]


def build_app(metrics: StreamMetrics, status: StatusProvider, ready: Callable[[], bool],
              token: str | None = None) -> web.Application:
    """The aiohttp application; ``status()`` returns the full status document. With a
    ``token``, the ``/api/hybrid/*`` endpoints (positions, sizes, PnL) need it as a bearer
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

    app = web.Application(middlewares=[require_token])
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/hybrid/status", full_status)
    app.router.add_get("/api/hybrid/subscriptions", subscriptions)
    app.router.add_get("/api/hybrid/metrics", summary)
    return app
