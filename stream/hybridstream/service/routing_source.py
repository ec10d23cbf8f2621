"""Where a stream process learns its routing document, and how it acknowledges it.

* ConfigMap (``HYBRID_ROUTING_CONFIGMAP`` in ``POD_NAMESPACE``): a WATCH through the API,
  because kubelet's ConfigMap volume sync can take a minute (README.md, "Concepts"). Each
  watch lasts ``WATCH_SECONDS`` and the next cycle lists again, so a lost event or a silent
  connection costs one cycle at most, never the rest of the pod's life (the operator's
  handover waits for our ack; its progress deadline is minutes). A failed cycle (410 Gone,
  an apiserver that died mid-watch: aiohttp's ``ClientPayloadError``, not an ``OSError``;
  even a bug in applying a document) is logged and re-listed after a backoff: the watcher
  never ends silently while the pod runs.
* File (``HYBRID_ROUTING_FILE``): polled every 0.5 s (local runs and tests).

An invalid document is logged and ignored: the last valid one stays in force, which keeps
the handover invariant (a half-applied or gapped routing is never used).
The ack is a merge patch of our own Pod's annotation ``hybridstream.io/routing-ack``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import aiohttp
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from hybridstream.contract import ACK_ANNOTATION, CONFIGMAP_KEY
from hybridstream.hybrid.decisions import Backoff
from hybridstream.routing import RoutingDocument
from hybridstream.service.sockets import sleep_unless

log = logging.getLogger(__name__)
FILE_POLL_SECONDS = 0.5
WATCH_SECONDS = 60  # one list + watch cycle; the server ends the watch, we list again
WATCH_GRACE = 15  # s past the server's end before the client gives up on a silent watch
ACK_TIMEOUT = 10  # s for the ack's PATCH (it takes milliseconds): a lost one is retried
Apply = Callable[[RoutingDocument], None]


def parse_routing_text(text: str | None) -> RoutingDocument | None:
    """The document in ``text``, or None (logged) if it is missing or invalid."""
    if not text:
        return None
    try:
        return RoutingDocument.parse(text)
    except ValidationError as exc:
        log.error("routing: invalid document ignored: %s", exc.errors()[0].get("msg"))
        return None


async def watch_routing_file(path: Path, apply: Apply, stop: asyncio.Event) -> None:
    """Apply the file's document whenever its content changes."""
    last: str | None = None
    while not stop.is_set():
        try:
            text = await asyncio.to_thread(path.read_text)
        except OSError:
            text = None
        if text is not None and text != last:
            last = text
            doc = parse_routing_text(text)
            if doc is not None:
                apply(doc)
        await sleep_unless(stop, FILE_POLL_SECONDS)


async def watch_routing_configmap(api: client.ApiClient, namespace: str, name: str,
                                  apply: Apply, stop: asyncio.Event, *,
                                  watch_seconds: int = WATCH_SECONDS) -> None:
    """Watch one ConfigMap and apply each valid document it carries (a text already
    applied is not again), listing it again every ``watch_seconds``."""
    core = client.CoreV1Api(api)
    selector = f"metadata.name={name}"
    fresh_delays = Backoff(base=0.5, cap=15.0).delays
    delays = fresh_delays()
    last: str | None = None

    def take(obj: client.V1ConfigMap) -> None:
        nonlocal last
        text = (obj.data or {}).get(CONFIGMAP_KEY)
        if text == last:
            return
        doc = parse_routing_text(text)
        if doc is not None:
            apply(doc)
        last = text  # only once applied: a failed apply is tried again on the next list

    while not stop.is_set():
        try:
            listing = await core.list_namespaced_config_map(namespace, field_selector=selector)
            for item in listing.items:
                take(item)
            delays = fresh_delays()
            async with watch.Watch().stream(
                    core.list_namespaced_config_map, namespace, field_selector=selector,
                    resource_version=listing.metadata.resource_version,
                    timeout_seconds=watch_seconds,
                    _request_timeout=watch_seconds + WATCH_GRACE) as stream:
                async for event in stream:
                    if event["type"] in ("ADDED", "MODIFIED"):
                        take(event["object"])
        except ApiException as exc:
            log.warning("routing: ConfigMap watch failed (HTTP %s), re-listing", exc.status)
            await sleep_unless(stop, next(delays))
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("routing: ConfigMap watch interrupted (%s)", exc.__class__.__name__)
            await sleep_unless(stop, next(delays))
        except Exception:  # a bug must not end the watcher: no later document would apply
            log.exception("routing: ConfigMap watch cycle failed, re-listing")
            await sleep_unless(stop, next(delays))


async def apply_pod_ack(api: client.ApiClient, namespace: str, pod: str, generation: int) -> None:
    """Annotate our Pod with the applied generation (the operator's handover gate)."""
    body = {"metadata": {"annotations": {ACK_ANNOTATION: str(generation)}}}
    await client.CoreV1Api(api).patch_namespaced_pod(pod, namespace, body,
                                                     _request_timeout=ACK_TIMEOUT)
