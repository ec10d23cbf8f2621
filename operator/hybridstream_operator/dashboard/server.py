"""``kubectl hsr dashboard``: a small aiohttp server on loopback that serves the page
(static files, no CDN) and JSON/server-sent events built by :mod:`.views` from the
caller's own API access. Actions are the plugin's intents.

Served only to this machine: requests must name a loopback Host (no DNS rebinding), and
actions must be JSON with a same-origin ``Origin`` (a web page elsewhere cannot post one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from hybridstream.serving import start_site
from kubernetes_asyncio.client.exceptions import ApiException

from hybridstream_operator.clients.kube import Kube, fetch_rollout, list_rollouts, send_intent
from hybridstream_operator.dashboard import reads, views

STATIC = Path(__file__).parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
#: The rollout page re-reads pods, Events and the pods' status this often (none of them
#: is the rollout object the watch follows); the list only sends a keep-alive.
DETAIL_REFRESH = 3.0
KEEPALIVE = 15.0
#: Ready stream pods asked in turn for the history before the page shows the last error.
HISTORY_PODS = 3
KUBE = web.AppKey("kube", Kube)
NAMESPACE = web.AppKey("namespace", str)  # "" for every namespace
CLOSING = web.AppKey("closing", asyncio.Event)
WAKERS = web.AppKey("wakers", set[asyncio.Event])  # one per open event stream


def _api_error(exc: ApiException) -> web.Response:
    """The API server's refusal, shown as it is (403 names the missing permission)."""
    return web.json_response({"error": reads.describe(exc)},
                             status=exc.status if 400 <= (exc.status or 0) < 600 else 502)


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if host not in LOOPBACK:
        return web.json_response({"error": "the dashboard answers on loopback only"},
                                 status=403)
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if request.content_type != "application/json" or (
                origin is not None and origin != f"http://{request.host}"):
            return web.json_response({"error": "actions must be same-origin JSON"},
                                     status=403)
    try:
        return await handler(request)
    except ApiException as exc:
        return _api_error(exc)


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def rows(request: web.Request) -> web.Response:
    kube, ns = request.app[KUBE], request.app[NAMESPACE]
    return web.json_response({"namespace": ns or None,
                              "rows": views.rollout_rows(await list_rollouts(kube, ns or None))})


async def _detail(kube: Kube, obj: dict[str, Any]) -> dict[str, Any]:
    ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    (pods, pods_error), (events, events_error) = await asyncio.gather(
        reads.attempt(reads.stream_pods(kube, ns, name)),
        reads.attempt(reads.rollout_events(kube, ns, name)))
    pods = pods or []
    port = reads.metrics_port(obj)
    spec = obj.get("spec") or {}
    # every pod writes the same database: a few Ready ones are asked in turn, until one
    # reads it (one database read per refresh, not one per pod)
    history_pods = [p["name"] for p in pods if p["ready"]][:HISTORY_PODS] \
        if views.history_configured(spec) else []
    *answers, (history, asked, history_error) = await asyncio.gather(
        *(reads.pod_status(kube, ns, p["name"], port) for p in pods),
        reads.pod_history(kube, ns, history_pods, port))
    stream = [views.stream_pod_view(p["name"], p["role"], body, error)
              for p, (body, error) in zip(pods, answers, strict=True)]
    return views.rollout_detail(
        obj, pods, events or [], stream, datetime.now(UTC),
        history=views.history_view(spec, history, asked, pods_error or history_error),
        problems={"pods": pods_error, "events": events_error})


async def detail(request: web.Request) -> web.Response:
    kube = request.app[KUBE]
    obj = await fetch_rollout(kube, request.match_info["ns"], request.match_info["name"])
    if obj is None:
        return web.json_response({"error": "404: no such rollout"}, status=404)
    return web.json_response(await _detail(kube, obj))


async def action(request: web.Request) -> web.Response:
    try:
        kind, reason = views.parse_action(await request.json())
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": f"400: {exc}"}, status=400)
    ns, name = request.match_info["ns"], request.match_info["name"]
    await send_intent(request.app[KUBE], ns, name, kind, reason)
    return web.json_response({"message": f"{kind.value} requested for {ns}/{name}"},
                             status=202)


async def _events(request: web.Request, source: AsyncIterator[Any],
                  render: Callable[[Any], Awaitable[dict[str, Any]]],
                  refresh: float) -> web.StreamResponse:
    """Server-sent events: ``render(latest)`` after every change of ``source`` and every
    ``refresh`` seconds, sent only when it differs from the last one sent (a comment
    keeps the connection alive otherwise). A failure of the watch is sent as a
    ``problem`` event and ends the stream (the browser reconnects by itself)."""
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    latest: list[Any] = []
    changed, closing = asyncio.Event(), request.app[CLOSING]
    request.app[WAKERS].add(changed)

    async def follow() -> None:
        async for item in source:
            latest[:] = [item]
            changed.set()

    task = asyncio.create_task(follow())
    sent = ""
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), refresh)
            changed.clear()
            if closing.is_set():
                return resp
            if task.done():
                exc = task.exception()
                problem = json.dumps({"error": reads.describe(exc)
                                      if isinstance(exc, ApiException)
                                      else f"watch ended: {exc or 'closed'}"})
                await resp.write(f"event: problem\ndata: {problem}\n\n".encode())
                return resp
            if not latest:
                continue
            try:
                payload = json.dumps(await render(latest[0]), sort_keys=True)
            except ApiException as exc:
                payload = json.dumps({"error": reads.describe(exc)})
            except (aiohttp.ClientError, TimeoutError) as exc:  # the API server unreachable
                payload = json.dumps({"error": f"API server: {exc or type(exc).__name__}"})
            if payload != sent:
                await resp.write(f"data: {payload}\n\n".encode())
                sent = payload
            else:
                await resp.write(b": keep-alive\n\n")
    except ConnectionResetError:
        return resp  # the tab was closed
    finally:
        request.app[WAKERS].discard(changed)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task  # its failure, if any, was sent as the problem event


async def rows_stream(request: web.Request) -> web.StreamResponse:
    kube, ns = request.app[KUBE], request.app[NAMESPACE]

    async def render(items: dict[reads.Key, dict[str, Any]]) -> dict[str, Any]:
        return {"namespace": ns or None, "rows": views.rollout_rows(items.values())}
    return await _events(request, reads.watch_rollouts(kube, ns or None), render, KEEPALIVE)


async def detail_stream(request: web.Request) -> web.StreamResponse:
    kube = request.app[KUBE]
    ns, name = request.match_info["ns"], request.match_info["name"]

    async def render(items: dict[reads.Key, dict[str, Any]]) -> dict[str, Any]:
        obj = items.get((ns, name))
        return {"error": f"404: rollout {ns}/{name} does not exist"} if obj is None \
            else await _detail(kube, obj)
    return await _events(request, reads.watch_rollouts(kube, ns, name), render,
                         DETAIL_REFRESH)


async def _close_streams(app: web.Application) -> None:
    """At shutdown (Ctrl-C) every open event stream ends now: aiohttp waits for running
    handlers, and an event stream never ends by itself (the process hung with a tab open)."""
    app[CLOSING].set()
    for wake in app[WAKERS]:
        wake.set()


def build_app(kube: Kube, namespace: str | None) -> web.Application:
    """The dashboard for ``namespace`` (every namespace for None)."""
    app = web.Application(middlewares=[_guard])
    app[KUBE], app[NAMESPACE] = kube, namespace or ""
    app[CLOSING], app[WAKERS] = asyncio.Event(), set()
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/api/rollouts", rows)
    app.router.add_get("/api/rollouts/stream", rows_stream)
    app.router.add_get("/api/rollouts/{ns}/{name}", detail)
    app.router.add_get("/api/rollouts/{ns}/{name}/stream", detail_stream)
    app.router.add_post("/api/rollouts/{ns}/{name}/actions", action)
    return app


async def serve(kube: Kube, namespace: str | None, port: int) -> None:
    """Serve on 127.0.0.1 until cancelled (Ctrl-C); prints the URL once it listens
    (``--port 0`` picks a free port, which the line shows)."""
    # Open event streams never finish by themselves: Ctrl-C cancels them after a second.
    runner, bound = await start_site(build_app(kube, namespace), "127.0.0.1", port,
                                     shutdown_timeout=1.0)
    where = f"namespace {namespace}" if namespace else "every namespace"
    print(f"dashboard on http://127.0.0.1:{bound}/ ({where}); Ctrl-C stops it", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
