"""The dashboard's Kubernetes reads, with the caller's own credentials: a watch of the
rollouts, the stream pods and their acks, the rollout's Events, and what each stream pod
says on ``/api/hybrid/status`` through the API server's pod proxy (so nothing new is
exposed, and RBAC decides what the caller sees)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar

from hybridstream.contract import API_GROUP, REVISION_LABEL, ROLE_LABEL, ROLLOUT_LABEL
from kubernetes_asyncio import watch
from kubernetes_asyncio.client.exceptions import ApiException

from hybridstream_operator.clients.kube import Kube, as_dict, parse_ack, pod_ready
from hybridstream_operator.models.spec import API_VERSION, KIND, PLURAL

#: A stream pod gets this long to answer through the pod proxy; a kwok or wedged pod must
#: not hold the page.
POD_STATUS_TIMEOUT = 3.0
#: Watches end and are re-listed this often (the API server's own bound is longer).
WATCH_SECONDS = 240
Key = tuple[str, str]
T = TypeVar("T")


def describe(exc: ApiException) -> str:
    """``403: <the API server's message>`` (it names the missing permission), shown as
    it is: the caller's RBAC is the dashboard's; through the pod proxy, ``503: <the
    pod's own error>``."""
    message = exc.reason or "error"
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        body = json.loads(exc.body)  # the API server's Status, or a stream pod's error
        message = body.get("message") or body.get("error") or message
    return f"{exc.status}: {message}"


async def attempt(read: Awaitable[T]) -> tuple[T | None, str | None]:
    """(result, None), or (None, the API server's refusal): a caller allowed to read the
    rollout but not its pods or Events still sees the rest of the page."""
    try:
        return await read, None
    except ApiException as exc:
        return None, describe(exc)


async def _list(kube: Kube, namespace: str | None, field_selector: str | None
                ) -> dict[str, Any]:
    if namespace:
        return await kube.custom.list_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, PLURAL, field_selector=field_selector)
    return await kube.custom.list_cluster_custom_object(
        API_GROUP, API_VERSION, PLURAL, field_selector=field_selector)


def _key(obj: Mapping[str, Any]) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


async def watch_rollouts(kube: Kube, namespace: str | None, name: str | None = None
                         ) -> AsyncIterator[dict[Key, dict[str, Any]]]:
    """Every rollout of ``namespace`` (all for None), or the one called ``name``: yields
    the whole set after the initial list and after every change (list, then watch from the
    list's resourceVersion; an expired version re-lists)."""
    selector = f"metadata.name={name}" if name else None
    while True:
        listing = await _list(kube, namespace, selector)
        items = {_key(o): o for o in listing.get("items", [])}
        yield dict(items)
        args: tuple[Any, ...] = (API_GROUP, API_VERSION, namespace, PLURAL) if namespace \
            else (API_GROUP, API_VERSION, PLURAL)
        func = kube.custom.list_namespaced_custom_object if namespace \
            else kube.custom.list_cluster_custom_object
        try:
            async with watch.Watch() as w:
                async for event in w.stream(
                        func, *args, field_selector=selector, timeout_seconds=WATCH_SECONDS,
                        _request_timeout=WATCH_SECONDS + 30,
                        resource_version=listing["metadata"]["resourceVersion"]):
                    obj = event["object"]
                    if event["type"] == "DELETED":
                        items.pop(_key(obj), None)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        items[_key(obj)] = obj
                    yield dict(items)
        except ApiException as exc:
            if exc.status != 410:  # Gone: the version expired, list again
                raise


async def stream_pods(kube: Kube, namespace: str, rollout: str) -> list[dict[str, Any]]:
    """The rollout's stream pods: name, role, revision, readiness, acked routing generation."""
    found = as_dict(kube, await kube.core.list_namespaced_pod(
        namespace, label_selector=f"{ROLLOUT_LABEL}={rollout}"))
    return [{"name": p["metadata"]["name"],
             "role": (p["metadata"].get("labels") or {}).get(ROLE_LABEL, "?"),
             "revision": (p["metadata"].get("labels") or {}).get(REVISION_LABEL),
             "ready": pod_ready(p), "ack": parse_ack(p["metadata"].get("annotations"))}
            for p in found["items"] if not p["metadata"].get("deletionTimestamp")]


async def rollout_events(kube: Kube, namespace: str, rollout: str) -> list[dict[str, Any]]:
    """The rollout's Events as API dicts (camelCase)."""
    found = await kube.core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={rollout},involvedObject.kind={KIND}")
    return [kube.core.api_client.sanitize_for_serialization(e) for e in found.items]


async def _proxy_get(kube: Kube, namespace: str, pod: str, port: int, path: str) -> bytes:
    """The body of ``GET path`` on the pod through the pod proxy, as sent: the generated
    client would turn a JSON body into a Python repr (its ``str`` return type), so the
    response is read raw; a status out of 2xx raises ApiException like the client does."""
    resp = await kube.core.connect_get_namespaced_pod_proxy_with_path(
        f"{pod}:{port}", namespace, path, _preload_content=False)
    try:
        raw = await resp.read()
    finally:
        resp.release()
    if not 200 <= resp.status < 300:
        exc = ApiException(status=resp.status, reason=resp.reason)
        exc.body = raw.decode(errors="replace")
        raise exc
    return raw


async def pod_get(kube: Kube, namespace: str, pod: str, port: int, path: str
                  ) -> tuple[dict[str, Any] | None, str | None]:
    """A stream pod's JSON endpoint ``path`` through the pod proxy: (body, None), or
    (None, why not) (a pod that does not answer, a status token the proxy cannot pass,
    the pod's own error such as its database being down)."""
    try:
        raw = await asyncio.wait_for(_proxy_get(kube, namespace, pod, port, path),
                                     POD_STATUS_TIMEOUT)
    except ApiException as exc:
        hint = " (the rollout sets a status token: the pod proxy cannot pass it)" \
            if exc.status == 401 else ""
        return None, describe(exc) + hint
    except TimeoutError:
        return None, f"no answer within {POD_STATUS_TIMEOUT:g} s"
    try:
        body = json.loads(raw)
    except ValueError:
        return None, "not a JSON document"
    return (body, None) if isinstance(body, dict) else (None, "not a JSON document")


async def pod_status(kube: Kube, namespace: str, pod: str, port: int
                     ) -> tuple[dict[str, Any] | None, str | None]:
    """What a stream pod says about itself (``/api/hybrid/status``)."""
    return await pod_get(kube, namespace, pod, port, "api/hybrid/status")


async def pod_history(kube: Kube, namespace: str, pods: list[str], port: int
                      ) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """The newest orders and executions (``/api/hybrid/history``) from the first of
    ``pods`` that answers (every pod writes into the same database): (body, pod, None),
    or (None, the last pod asked, why not)."""
    error, asked = "no stream pod to ask", None
    for asked in pods:
        body, error = await pod_get(kube, namespace, asked, port, "api/hybrid/history")
        if body is not None:
            return body, asked, None
    return None, asked, error


def metrics_port(obj: Mapping[str, Any]) -> int:
    """The stream pods' HTTP port (``spec.workload.metricsPort``)."""
    return int(((obj.get("spec") or {}).get("workload") or {}).get("metricsPort", 8080))

