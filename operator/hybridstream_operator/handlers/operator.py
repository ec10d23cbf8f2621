"""The kopf wiring: settings chosen on purpose, the watch-backed caches, one daemon per
rollout that runs a pass when the last one says the next is due (a timer of the phase
machine, at most the resync interval) or at once when woken: by the webhook, by a request
or a new spec appearing on the object in kopf's watch, or by a change the caches saw on the
rollout's Deployments, pods or routing ConfigMap. And the HTTP server's lifecycle.

Why a daemon and not ``@kopf.timer``: the wait must be cut short by those wake-ups, and a
daemon's loop can wait on an event. Nothing depends on kopf's cached body, which lags our
own status writes: a pass decides from the rollout as its last pass left it (the status
write's response) when only its dependencies changed, else from the object read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

import aiohttp
import kopf
from hybridstream.contract import API_GROUP
from hybridstream.kubeconfig import build_api_client
from hybridstream.serving import start_site

from hybridstream_operator.clients.kube import Kube
from hybridstream_operator.handlers import heap, observability
from hybridstream_operator.handlers.reconcile import (
    Runtime,
    describe_failure,
    reconcile_rollout,
    record_failure,
)
from hybridstream_operator.handlers.webhook import build_app
from hybridstream_operator.logic.conditions import RETRY_CAP_SECONDS, retry_delay
from hybridstream_operator.logic.intents import parse_alerts, parse_intent, pending_request
from hybridstream_operator.models.config import OperatorSettings
from hybridstream_operator.models.spec import API_VERSION, PLURAL
from hybridstream_operator.models.status import RolloutStatus

log = logging.getLogger(__name__)
#: Comma-separated namespaces the webhook may act in; empty for cluster-wide (set by the CLI).
SCOPE_ENV = "HYBRIDSTREAM_OPERATOR_SCOPE"
#: Seconds before the first retry of a failing rollout (doubling up to RETRY_CAP_SECONDS).
FAILURE_RETRY = 1.0


@kopf.on.startup()
async def hybridstream_startup(settings: kopf.OperatorSettings, memo: kopf.Memo,
                               **_: Any) -> None:
    """Persistence under our own prefix, our finalizer name, bounded watches; then the
    clients and the HTTP server."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration")
    settings.persistence.finalizer = f"{API_GROUP}/finalizer"
    # Re-list now and then: a silently dead watch must not freeze the operator
    # (kopf docs, "Configuration: API timeouts").
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.posting.level = logging.WARNING  # our own Events carry the story
    op = OperatorSettings()
    settings.peering.lifetime = op.peering_lifetime
    api, _ = await build_api_client()
    scope = [n for n in os.environ.get(SCOPE_ENV, "").split(",") if n]
    rt = Runtime.create(Kube.from_api_client(api), aiohttp.ClientSession(), scope or None,
                        prometheus_concurrency=op.prometheus_concurrency,
                        resync=op.reconcile_interval, ack_role=op.stream_ack_role)
    rt.caches.start()
    memo.trimmer = asyncio.create_task(heap.trim_forever(), name="heap trim")
    token = op.webhook_token.get_secret_value() if op.webhook_token else None
    runner, _ = await start_site(build_app(rt, token, scope), op.http_host, op.http_port)
    log.info("http server on %s:%s (webhook %s)", op.http_host, op.http_port,
             "enabled" if token else "disabled: no token")
    memo.runtime = rt
    memo.runner = runner
    memo.api = api


@kopf.on.cleanup()
async def hybridstream_cleanup(memo: kopf.Memo, **_: Any) -> None:
    """Stop the HTTP server and the caches, close the clients."""
    await memo.runner.cleanup()
    await memo.runtime.caches.stop()
    memo.trimmer.cancel()
    await memo.runtime.http.close()
    await memo.api.close()


@kopf.daemon(API_GROUP, API_VERSION, PLURAL, cancellation_timeout=5.0)
async def hybridstreamrollout_reconcile(name: str, namespace: str, memo: kopf.Memo,
                                        stopped: kopf.DaemonStopped,
                                        logger: logging.Logger, **_: Any) -> None:
    """Run passes until the rollout is deleted or the operator stops."""
    rt: Runtime = memo.runtime
    await rt.caches.wait_synced()
    failures, last_failure = 0, None
    known: dict[str, Any] | None = None  # the rollout as stored after the last pass
    while not stopped:
        delay = rt.resync
        try:
            delay, known = await reconcile_rollout(rt, namespace, name, known)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            known = None
            failures += 1
            observability.RECONCILE_ERRORS.labels(namespace, name).inc()
            failure = describe_failure(exc)
            if failure != last_failure:  # once per change, not once a pass
                last_failure = failure
                logger.error("reconcile failing (%s): %s; retrying with backoff up to %.0f s",
                             *failure, RETRY_CAP_SECONDS,
                             exc_info=failure[0] == "InternalError")  # a bug: its traceback
                with contextlib.suppress(Exception):  # the status may be what fails
                    await record_failure(rt, namespace, name, *failure)
        else:
            if failures:
                logger.info("reconcile recovered after %d failed passes", failures)
            failures, last_failure = 0, None
        if await rt.wakeups.wait(namespace, name,
                                 retry_delay(failures, FAILURE_RETRY) if failures else delay):
            known = None


def has_pending_request(body: kopf.Body, meta: kopf.Meta, **_: Any) -> bool:
    """A spec not reconciled yet, or an intent or a recorded alert on the object not
    handled yet (a filter: kopf logs nothing for the events it drops, our own status writes
    among them)."""
    if meta.get("generation") != (body.get("status") or {}).get("observedGeneration"):
        return True
    annotations = meta.get("annotations") or {}
    if not (parse_intent(annotations) or parse_alerts(annotations)):
        return False  # the common case: no status parsing
    return pending_request(annotations, RolloutStatus.model_validate(body.get("status") or {}))


@kopf.on.event(API_GROUP, API_VERSION, PLURAL, when=has_pending_request)
async def hybridstreamrollout_wake(meta: kopf.Meta, memo: kopf.Memo, **_: Any) -> None:
    """A new spec or a request waiting on the object (``kubectl hsr`` intent, recorded
    alert): the rollout's loop runs its next pass now, not when its next timer is due.
    kopf's own watch of the rollouts brings it; nothing is re-read."""
    memo.runtime.wakeups.wake(meta["namespace"], meta["name"])
