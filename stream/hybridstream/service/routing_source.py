"""Where a stream process learns its routing document, and how it acknowledges it.

* ConfigMap (``HYBRID_ROUTING_CONFIGMAP`` in ``POD_NAMESPACE``): a WATCH through the API,
  because kubelet's ConfigMap volume sync can take a minute (README.md, "Concepts"). The
  watch is re-established with backoff; a 410 Gone (expired resourceVersion) restarts from
  a fresh list. A kube-apiserver that dies mid-watch cuts the chunked response
  (aiohttp's ``ClientPayloadError``, not an ``OSError``): that is re-listed too, or the
  watcher would end silently and no later document would ever be applied or acked.
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
                                  apply: Apply, stop: asyncio.Event) -> None:
    """Watch one ConfigMap and apply each valid document it carries."""
    core = client.CoreV1Api(api)
    delays = Backoff(base=0.5, cap=15.0).delays()
    while not stop.is_set():
        try:
            listing = await core.list_namespaced_config_map(
                namespace, field_selector=f"metadata.name={name}")
            for item in listing.items:
                _apply_configmap(item, apply)
            version = listing.metadata.resource_version
            w = watch.Watch()
            async with w.stream(core.list_namespaced_config_map, namespace,
                                field_selector=f"metadata.name={name}",
                                resource_version=version, timeout_seconds=300) as stream:
                async for event in stream:
                    if event["type"] in ("ADDED", "MODIFIED"):
                        _apply_configmap(event["object"], apply)
                    delays = Backoff(base=0.5, cap=15.0).delays()
        except ApiException as exc:
            log.warning("routing: ConfigMap watch failed (HTTP %s), re-listing", exc.status)
            await sleep_unless(stop, next(delays))
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("routing: ConfigMap watch interrupted (%s)", exc.__class__.__name__)
            await sleep_unless(stop, next(delays))


def _apply_configmap(obj: client.V1ConfigMap, apply: Apply) -> None:
    doc = parse_routing_text((obj.data or {}).get(CONFIGMAP_KEY))
    if doc is not None:
        apply(doc)


async def apply_pod_ack(api: client.ApiClient, namespace: str, pod: str, generation: int) -> None:
    """Annotate our Pod with the applied generation (the operator's handover gate)."""
    body = {"metadata": {"annotations": {ACK_ANNOTATION: str(generation)}}}
    await client.CoreV1Api(api).patch_namespaced_pod(pod, namespace, body)
