"""The kopf wiring: settings chosen on purpose, one daemon per rollout that runs a
reconcile pass every tick (or at once when woken: by the webhook, or by a request appearing
on the object in kopf's watch), and the HTTP server's lifecycle.

Why a daemon and not ``@kopf.timer``: the webhook must be able to cut the wait short, and
a daemon's loop can wait on an event; every pass still re-reads the object, so nothing
depends on kopf's cached body.
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
from hybridstream_operator.handlers import observability
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
    rt = Runtime(Kube.from_api_client(api), aiohttp.ClientSession(), interval=op.reconcile_interval,
                 ack_role=op.stream_ack_role)
    token = op.webhook_token.get_secret_value() if op.webhook_token else None
    scope = [n for n in os.environ.get(SCOPE_ENV, "").split(",") if n]
    runner, _ = await start_site(build_app(rt, token, scope), op.http_host, op.http_port)
    log.info("http server on %s:%s (webhook %s)", op.http_host, op.http_port,
             "enabled" if token else "disabled: no token")
    memo.runtime = rt
    memo.runner = runner
    memo.api = api


@kopf.on.cleanup()
async def hybridstream_cleanup(memo: kopf.Memo, **_: Any) -> None:
    """Stop the HTTP server and close the clients."""
    await memo.runner.cleanup()
    await memo.runtime.http.close()
    await memo.api.close()


@kopf.daemon(API_GROUP, API_VERSION, PLURAL, cancellation_timeout=5.0)
async def hybridstreamrollout_reconcile(name: str, namespace: str, memo: kopf.Memo,
                                        stopped: kopf.DaemonStopped,
                                        logger: logging.Logger, **_: Any) -> None:
    """Run passes until the rollout is deleted or the operator stops."""
    rt: Runtime = memo.runtime
    failures, last_failure = 0, None
    while not stopped:
        try:
            await reconcile_rollout(rt, namespace, name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
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
        await rt.wakeups.wait(namespace, name, retry_delay(failures, rt.interval))


def has_pending_request(body: kopf.Body, meta: kopf.Meta, **_: Any) -> bool:
    """An intent or a recorded alert on the object not handled yet (a filter: kopf logs
    nothing for the events it drops, our own status writes among them)."""
    annotations = meta.get("annotations") or {}
    if not (parse_intent(annotations) or parse_alerts(annotations)):
        return False  # the common case: no status parsing
    return pending_request(annotations, RolloutStatus.model_validate(body.get("status") or {}))


@kopf.on.event(API_GROUP, API_VERSION, PLURAL, when=has_pending_request)
async def hybridstreamrollout_wake(meta: kopf.Meta, memo: kopf.Memo, **_: Any) -> None:
    """A request waiting on the object (``kubectl hsr`` intent, recorded alert): the
    rollout's loop runs its next pass now, not at its next tick. kopf's own watch of the
    rollouts brings it; nothing is re-read."""
    memo.runtime.wakeups.wake(meta["namespace"], meta["name"])
