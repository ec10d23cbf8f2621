"""The operator's HTTP server: ``/healthz``, ``/metrics``, the Alertmanager webhook
receiver and the emergency rollback endpoint (seed 003's ``/admin/emergency-rollback``).

Alerts and emergency requests are written as annotations on the rollout (durable: a
restart still sees them) and the rollout's loop is woken so it acts within about a second.
Both POST endpoints need ``Authorization: Bearer <HYBRIDSTREAM_OPERATOR_WEBHOOK_TOKEN>``;
without a configured token they refuse everything. Input is never trusted: 400 for a
malformed or wrong-shaped body, 404 for a rollout this operator does not serve, 413 above
``MAX_BODY``; each refusal is counted in ``hybridstream_operator_webhook_refused_total``.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from hybridstream.contract import ROLLOUT_LABEL, SCOPE_NAMESPACE, SCOPE_ROLLOUT
from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hybridstream_operator.clients.kube import (
    fetch_rollout,
    list_rollouts,
    patch_rollout_annotations,
)
from hybridstream_operator.handlers.observability import REFUSED, REGISTRY
from hybridstream_operator.handlers.reconcile import Runtime
from hybridstream_operator.logic.intents import (
    build_alert_annotation,
    build_intent_annotation,
    parse_instant,
)
from hybridstream_operator.models.defaults import DEFAULT_ALERT_NAMES
from hybridstream_operator.models.observations import AlertSignal, IntentKind

log = logging.getLogger(__name__)
RUNTIME_KEY = web.AppKey("runtime", Runtime)
TOKEN_KEY = web.AppKey("token", str)
SCOPE_KEY = web.AppKey("namespaces", list)
# The stream's own scope labels first (every series carries them), then the usual
# relabelled Kubernetes ones.
ROLLOUT_LABELS = (SCOPE_ROLLOUT, "rollout", ROLLOUT_LABEL, "hybridstream_io_rollout")
NAMESPACE_LABELS = (SCOPE_NAMESPACE, "namespace")


#: The largest body either POST endpoint reads (an Alertmanager group of ~100 alerts fits).
MAX_BODY = 256 * 1024


class Refused(Exception):
    """A request refused for its input: answered with ``status``, counted by ``reason``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


def _authorize(request: web.Request) -> None:
    token = request.app[TOKEN_KEY]
    given = request.headers.get("Authorization", "").strip()
    if not (token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())):
        raise Refused(401, "unauthorized", "unauthorized")


async def _read_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object body: 413 above MAX_BODY, 400 when malformed or not an object."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Refused(413, "too_large", f"body larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise Refused(413, "too_large", f"body larger than {MAX_BODY} bytes")
    if optional and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, "malformed", "body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise Refused(400, "wrong_shape", "body must be a JSON object")
    return body


@web.middleware
async def refuse_bad_input(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                           ) -> web.StreamResponse:
    """Answer refused input with its status (never a 500) and count it."""
    try:
        return await handler(request)
    except Refused as exc:
        REFUSED.labels(request.path.rsplit("/", 1)[-1], exc.reason).inc()
        return web.json_response({"error": str(exc)}, status=exc.status)


def alert_scope(alert: dict[str, Any]) -> tuple[str | None, str | None]:
    """The alert's namespace and rollout labels, when present."""
    labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
    return (next((labels[k] for k in NAMESPACE_LABELS if k in labels), None),
            next((labels[k] for k in ROLLOUT_LABELS if k in labels), None))


def select_targets(alert: dict[str, Any], rollouts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rollouts a firing alert acts on: those listing its name in ``spec.analysis.alertNames``,
    (the defaults when the stored object has none), narrowed by the alert's namespace and
    rollout labels when present."""
    labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
    name = labels.get("alertname", "")
    namespace, rollout = alert_scope(alert)
    chosen = []
    for obj in rollouts:
        meta = obj["metadata"]
        names = ((obj.get("spec") or {}).get("analysis") or {}).get("alertNames")
        if name not in (DEFAULT_ALERT_NAMES if names is None else names):
            continue
        if namespace and meta["namespace"] != namespace:
            continue
        if rollout and meta["name"] != rollout:
            continue
        chosen.append(obj)
    return chosen


async def alertmanager(request: web.Request) -> web.Response:
    """Alertmanager webhook (v4 payload): each firing alert acts on its rollouts once."""
    _authorize(request)
    payload = await _read_object(request)
    alerts = payload.get("alerts", [])
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise Refused(400, "wrong_shape", "alerts must be a list of objects")
    rt = request.app[RUNTIME_KEY]
    scope = request.app[SCOPE_KEY]
    listed: list[dict[str, Any]] | None = None
    acted = []
    for alert in alerts:
        if alert.get("status") != "firing":
            continue
        namespace, rollout = alert_scope(alert)
        if namespace and rollout:  # one rollout named: read it, not every rollout served
            found = (await fetch_rollout(rt.kube, namespace, rollout)
                     if not scope or namespace in scope else None)
            rollouts = [found] if found else []
        else:
            if listed is None:
                listed = [obj for ns in (scope or [None])
                          for obj in await list_rollouts(rt.kube, ns)]
            rollouts = listed
        labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
        signal = AlertSignal(
            name=str(labels.get("alertname", "")),
            id=f"{alert.get('fingerprint', '')}@{alert.get('startsAt', '')}",
            message=str((alert.get("annotations") or {}).get("summary", ""))[:300],
            started_at=parse_instant(alert.get("startsAt")))
        for obj in select_targets(alert, rollouts):
            meta = obj["metadata"]
            await patch_rollout_annotations(rt.kube, meta["namespace"], meta["name"],
                                            build_alert_annotation(signal))
            rt.wakeups.wake(meta["namespace"], meta["name"])
            acted.append(f"{meta['namespace']}/{meta['name']}")
    log.info("alertmanager webhook acted on %s", acted)
    return web.json_response({"acted": acted})


async def emergency_rollback(request: web.Request) -> web.Response:
    """``POST /api/v1/rollouts/{namespace}/{name}/emergency-rollback`` with optional
    ``{"reason": ..., "operator": ...}``: abort now."""
    _authorize(request)
    rt = request.app[RUNTIME_KEY]
    ns, name = request.match_info["namespace"], request.match_info["name"]
    scope = request.app[SCOPE_KEY]
    if scope and ns not in scope:  # this operator does not serve that namespace
        raise Refused(404, "unknown_rollout", f"rollout {ns}/{name} not found")
    body = await _read_object(request, optional=True)
    reason = (f"emergency rollback by {str(body.get('operator', 'unknown'))[:100]}: "
              f"{str(body.get('reason', ''))[:200]}")
    annotation = build_intent_annotation(IntentKind.ABORT, datetime.now(UTC), reason[:300])
    try:
        await patch_rollout_annotations(rt.kube, ns, name, annotation)
    except ApiException as exc:
        if exc.status == 404:
            raise Refused(404, "unknown_rollout", f"rollout {ns}/{name} not found") from exc
        raise
    rt.wakeups.wake(ns, name)
    return web.json_response({"rollout": f"{ns}/{name}", "status": "rolling back"}, status=202)


async def healthz(_: web.Request) -> web.Response:
    """Liveness of the HTTP server."""
    return web.Response(text="ok")


async def metrics(_: web.Request) -> web.Response:
    """The operator's Prometheus metrics."""
    return web.Response(body=generate_latest(REGISTRY),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(rt: Runtime, token: str | None, namespaces: list[str]) -> web.Application:
    """The aiohttp application (served by the operator, also mountable in tests)."""
    app = web.Application(middlewares=[refuse_bad_input], client_max_size=MAX_BODY)
    app[RUNTIME_KEY] = rt
    app[TOKEN_KEY] = (token or "").strip()
    app[SCOPE_KEY] = namespaces  # empty: cluster-wide
    app.add_routes([
        web.get("/healthz", healthz),
        web.get("/metrics", metrics),
        web.post("/api/v1/alertmanager", alertmanager),
        web.post("/api/v1/rollouts/{namespace}/{name}/emergency-rollback", emergency_rollback),
    ])
    return app
