"""The operator's HTTP server: ``/healthz``, ``/metrics``, the Alertmanager webhook
receiver and the emergency rollback endpoint (seed 003's ``/admin/emergency-rollback``).

Alerts and emergency requests are written as annotations on the rollout (durable: a
restart still sees them) and the rollout's loop is woken so it acts within about a second.
Both POST endpoints need ``Authorization: Bearer <HYBRIDSTREAM_OPERATOR_WEBHOOK_TOKEN>``;
without a configured token they refuse everything.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from hybridstream.routing import SCOPE_NAMESPACE, SCOPE_ROLLOUT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hybridstream_operator.clients.kube import list_rollouts, patch_rollout_annotations
from hybridstream_operator.handlers.observability import REGISTRY
from hybridstream_operator.handlers.reconcile import Runtime
from hybridstream_operator.logic.intents import build_alert_annotation, build_intent_annotation
from hybridstream_operator.models.defaults import DEFAULT_ALERT_NAMES
from hybridstream_operator.models.observations import AlertSignal, IntentKind
from hybridstream_operator.models.spec import API_GROUP

log = logging.getLogger(__name__)
RUNTIME_KEY = web.AppKey("runtime", Runtime)
TOKEN_KEY = web.AppKey("token", str)
SCOPE_KEY = web.AppKey("namespaces", list)
# The stream's own scope labels first (every series carries them), then the usual
# relabelled Kubernetes ones.
ROLLOUT_LABELS = (SCOPE_ROLLOUT, "rollout", f"{API_GROUP}/rollout", "hybridstream_io_rollout")
NAMESPACE_LABELS = (SCOPE_NAMESPACE, "namespace")


def _authorized(request: web.Request) -> bool:
    token = request.app[TOKEN_KEY]
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def select_targets(alert: dict[str, Any], rollouts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rollouts a firing alert acts on: those listing its name in ``spec.analysis.alertNames``,
    (the defaults when the stored object has none), narrowed by the alert's namespace and
    rollout labels when present."""
    labels = alert.get("labels") or {}
    name = labels.get("alertname", "")
    namespace = next((labels[k] for k in NAMESPACE_LABELS if k in labels), None)
    rollout = next((labels[k] for k in ROLLOUT_LABELS if k in labels), None)
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
    if not _authorized(request):
        return web.json_response({"error": "unauthorized"}, status=401)
    rt = request.app[RUNTIME_KEY]
    payload = await request.json()
    scope = request.app[SCOPE_KEY]
    rollouts = [obj for ns in (scope or [None]) for obj in await list_rollouts(rt.kube, ns)]
    acted = []
    for alert in payload.get("alerts", []):
        if alert.get("status") != "firing":
            continue
        labels = alert.get("labels") or {}
        signal = AlertSignal(
            name=labels.get("alertname", ""),
            id=f"{alert.get('fingerprint', '')}@{alert.get('startsAt', '')}",
            message=str((alert.get("annotations") or {}).get("summary", ""))[:300])
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
    if not _authorized(request):
        return web.json_response({"error": "unauthorized"}, status=401)
    rt = request.app[RUNTIME_KEY]
    ns, name = request.match_info["namespace"], request.match_info["name"]
    body = await request.json() if request.can_read_body else {}
    reason = f"emergency rollback by {body.get('operator', 'unknown')}: {body.get('reason', '')}"
    annotation = build_intent_annotation(IntentKind.ABORT, datetime.now(UTC), reason[:300])
    await patch_rollout_annotations(rt.kube, ns, name, annotation)
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
    app = web.Application()
    app[RUNTIME_KEY] = rt
    app[TOKEN_KEY] = token or ""
    app[SCOPE_KEY] = namespaces  # empty: cluster-wide
    app.add_routes([
        web.get("/healthz", healthz),
        web.get("/metrics", metrics),
        web.post("/api/v1/alertmanager", alertmanager),
        web.post("/api/v1/rollouts/{namespace}/{name}/emergency-rollback", emergency_rollback),
    ])
    return app
