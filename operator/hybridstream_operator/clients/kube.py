"""Kubernetes I/O for one rollout: read everything a pass needs, server-side-apply what it
decided, write the status with an optimistic lock. No decisions live here."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hybridstream.contract import ACK_ANNOTATION, API_GROUP
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.client.rest import RESTResponse

from hybridstream_operator.logic.builders import Manifest
from hybridstream_operator.logic.intents import build_intent_annotation
from hybridstream_operator.models.observations import IntentKind
from hybridstream_operator.models.spec import API_VERSION, KIND, PLURAL, SecretKeyRef

FIELD_MANAGER = "hybridstream-operator"
APPLY = "application/apply-patch+yaml"  # JSON is YAML: the generated client sends JSON
MERGE = "application/merge-patch+json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kube:
    """The typed API groups one process uses (one shared ApiClient)."""

    core: client.CoreV1Api
    apps: client.AppsV1Api
    rbac: client.RbacAuthorizationV1Api
    custom: client.CustomObjectsApi
    networking: client.NetworkingV1Api
    policy: client.PolicyV1Api

    @classmethod
    def from_api_client(cls, api: client.ApiClient) -> Kube:
        """All API groups over one shared client."""
        return cls(client.CoreV1Api(api), client.AppsV1Api(api),
                   client.RbacAuthorizationV1Api(api), client.CustomObjectsApi(api),
                   client.NetworkingV1Api(api), client.PolicyV1Api(api))


def _missing(exc: ApiException) -> bool:
    return exc.status == 404


async def fetch_rollout(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    """The rollout as stored now (never kopf's cached body: decisions need fresh status)."""
    try:
        return await kube.custom.get_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, PLURAL, name)
    except ApiException as exc:
        if _missing(exc):
            return None
        raise


def as_dict(kube: Kube, obj: Any) -> dict[str, Any]:
    """An API response object as the API serves it (camelCase dict)."""
    return kube.core.api_client.sanitize_for_serialization(obj)


async def call_raw(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``call``'s response as the API serves it (camelCase dict), never built into the
    client's model objects (their construction is most of a pass's CPU at scale); errors
    raise ApiException as usual."""
    response = await call(*args, _preload_content=False, **kwargs)
    async with response:
        data = await response.read()
    if not 200 <= response.status <= 299:
        raise ApiException(http_resp=RESTResponse(response, data))
    return json.loads(data)


async def scale_deployment(kube: Kube, namespace: str, name: str,
                           replicas: int) -> dict[str, Any]:
    """Set a Deployment's replicas (a retired revision's goes to zero); the Deployment
    as written."""
    return await call_raw(kube.apps.patch_namespaced_deployment, name, namespace,
                          {"spec": {"replicas": replicas}}, _content_type=MERGE)


async def delete_deployment(kube: Kube, namespace: str, name: str) -> None:
    """Delete a forgotten revision's Deployment (already gone is fine)."""
    try:
        await kube.apps.delete_namespaced_deployment(name, namespace)
    except ApiException as exc:
        if not _missing(exc):
            raise


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Ready and not terminating (terminating pods no longer count, acked or not); ``pod``
    as the API serves it (camelCase)."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def parse_ack(annotations: Mapping[str, str] | None) -> int:
    """A pod's acknowledged generation, -1 when absent or garbage."""
    try:
        return int((annotations or {}).get(ACK_ANNOTATION, "-1"))
    except ValueError:
        return -1


_APPLIERS = {
    "Deployment": ("apps", "patch_namespaced_deployment"),
    "Service": ("core", "patch_namespaced_service"),
    "ConfigMap": ("core", "patch_namespaced_config_map"),
    "ServiceAccount": ("core", "patch_namespaced_service_account"),
    "Role": ("rbac", "patch_namespaced_role"),
    "RoleBinding": ("rbac", "patch_namespaced_role_binding"),
    "NetworkPolicy": ("networking", "patch_namespaced_network_policy"),
    "PodDisruptionBudget": ("policy", "patch_namespaced_pod_disruption_budget"),
}


class NotOwned(Exception):
    """An object with the name we need exists and is not ours: we never take it over."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name} exists and is not owned by this rollout; "
                         "delete or rename it (the operator does not adopt objects)")


def _call(kube: Kube, manifest: Manifest, verb: str) -> Any:
    """The typed client's ``{verb}_namespaced_{kind}`` method for the manifest's kind."""
    group, method = _APPLIERS[manifest["kind"]]
    return getattr(getattr(kube, group), method.replace("patch_", f"{verb}_", 1))


def _created_entry(found: Mapping[str, Any]) -> int | None:
    """The index of our ``Update`` managed-fields entry on an object we created and have
    never applied (``None`` otherwise)."""
    ours = [(i, entry) for i, entry in enumerate(found["metadata"].get("managedFields") or [])
            if entry.get("manager") == FIELD_MANAGER and not entry.get("subresource")]
    if any(entry.get("operation") == "Apply" for _, entry in ours):
        return None
    return next((i for i, entry in ours if entry.get("operation") == "Update"), None)


async def _claim_created_fields(kube: Kube, manifest: Manifest,
                                found: Mapping[str, Any]) -> None:
    """Make the fields our create set ours as an applier (kubectl's client-side to
    server-side apply upgrade, ``csaupgrade``): an apply removes only fields its manager
    applied before, so without this a field a later manifest drops (a Service port after
    the metrics port changed) would stay forever, owned by the create. The patch tests the
    entry, not the resourceVersion: a Deployment's status changes all the time, and only
    our own entry must be where we read it."""
    index = _created_entry(found)
    if index is None:
        return
    meta = found["metadata"]
    entry = f"/metadata/managedFields/{index}"
    await call_raw(_call(kube, manifest, "patch"), meta["name"], meta["namespace"], [
        {"op": "test", "path": f"{entry}/manager", "value": FIELD_MANAGER},
        {"op": "test", "path": f"{entry}/operation", "value": "Update"},
        {"op": "replace", "path": f"{entry}/operation", "value": "Apply"}],
        _content_type="application/json-patch+json")


async def _create(kube: Kube, manifest: Manifest) -> dict[str, Any] | None:
    """Create the object; None when the name is taken (by us or anyone: it must be read)."""
    try:
        return await call_raw(_call(kube, manifest, "create"), manifest["metadata"]["namespace"],
                              manifest, field_manager=FIELD_MANAGER)
    except ApiException as exc:
        if exc.status == 409:
            return None
        raise


async def write_manifest(kube: Kube, manifest: Manifest, *, create: bool) -> dict[str, Any]:
    """Make the object what ``manifest`` says without ever taking over one that is not ours
    (NotOwned); the object as written. ``create``: it is most likely absent (a new rollout,
    a new revision), so one create does it, and refuses a taken name atomically. Otherwise,
    or when the name was taken after all: read it, check our controller reference, and
    server-side apply."""
    if create and (made := await _create(kube, manifest)) is not None:
        return made
    meta = manifest["metadata"]
    try:
        found = await call_raw(_call(kube, manifest, "read"), meta["name"], meta["namespace"])
    except ApiException as exc:
        if not _missing(exc):
            raise
    else:
        ours = {ref["uid"] for ref in meta.get("ownerReferences", [])}
        if not ours & {ref["uid"] for ref in found["metadata"].get("ownerReferences") or []}:
            raise NotOwned(manifest["kind"], meta["name"])
        await _claim_created_fields(kube, manifest, found)
    return await _apply(kube, manifest)


class SecretUnavailable(Exception):
    """A referenced Secret key cannot be read. The message names the Secret and key, never
    a value: it ends up in status and Events."""


async def read_secret_key(kube: Kube, namespace: str, ref: SecretKeyRef) -> str:
    """One key of a Secret, decoded (the operator may read only the Secrets the chart's
    ``rbac.prometheusSecretNames`` lists, so 403 is a configuration error, said plainly)."""
    try:
        secret = await kube.core.read_namespaced_secret(ref.name, namespace)
    except ApiException as exc:
        if exc.status == 403:
            raise SecretUnavailable(
                f"the operator may not read Secret {ref.name!r} (list it in the chart's "
                "rbac.prometheusSecretNames)") from None
        if _missing(exc):
            raise SecretUnavailable(f"Secret {ref.name!r} not found") from None
        raise
    encoded = (secret.data or {}).get(ref.key)
    if encoded is None:
        raise SecretUnavailable(f"Secret {ref.name!r} has no key {ref.key!r}")
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SecretUnavailable(f"Secret {ref.name!r} key {ref.key!r} is not UTF-8 text") from None


async def _apply(kube: Kube, manifest: Manifest) -> dict[str, Any]:
    """Server-side apply (idempotent; fields we do not set stay with their owners); the
    object as written."""
    meta = manifest["metadata"]
    return await call_raw(_call(kube, manifest, "patch"), meta["name"], meta["namespace"],
                          manifest, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY)


async def patch_rollout_status(kube: Kube, namespace: str, name: str, resource_version: str,
                               status: dict[str, Any]) -> dict[str, Any] | None:
    """Persist the status once per pass, only if nobody wrote the object since we read it;
    the rollout as stored after (None on 409: the next pass re-decides from the fresh
    object)."""
    body = {"metadata": {"resourceVersion": resource_version}, "status": status}
    try:
        return await kube.custom.patch_namespaced_custom_object_status(
            API_GROUP, API_VERSION, namespace, PLURAL, name, body, _content_type=MERGE)
    except ApiException as exc:
        if exc.status == 409:
            return None
        raise


async def patch_rollout_conditions(kube: Kube, namespace: str, name: str,
                                   conditions: list[dict[str, Any]]) -> None:
    """Replace ``status.conditions`` alone (a failing pass has no other status to write)."""
    await kube.custom.patch_namespaced_custom_object_status(
        API_GROUP, API_VERSION, namespace, PLURAL, name, {"status": {"conditions": conditions}},
        _content_type=MERGE)


async def replace_rollout_workload(kube: Kube, namespace: str, name: str,
                                   resource_version: str, workload: dict[str, Any]) -> None:
    """Replace ``spec.workload`` whole (a merge patch would keep fields the old revision did
    not set), only if nobody wrote the rollout since it was read (409 otherwise)."""
    body = [{"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "replace", "path": "/spec/workload", "value": workload}]
    await kube.custom.patch_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, PLURAL, name, body,
        _content_type="application/json-patch+json")


async def patch_rollout_annotations(kube: Kube, namespace: str, name: str,
                                    annotations: Mapping[str, str | None]) -> None:
    """Merge annotations into the rollout (intents, alerts); None removes one."""
    await kube.custom.patch_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, PLURAL, name,
        {"metadata": {"annotations": annotations}}, _content_type=MERGE)


async def send_intent(kube: Kube, namespace: str, name: str, kind: IntentKind,
                      reason: str = "") -> None:
    """Request an intent on one rollout (``kubectl hsr promote`` and the dashboard's
    buttons): the operator applies it once, on its next pass."""
    await patch_rollout_annotations(kube, namespace, name, build_intent_annotation(
        kind, datetime.now(UTC), reason))


async def list_rollouts(kube: Kube, namespace: str | None) -> list[dict[str, Any]]:
    """Rollouts in one namespace, or cluster-wide for None."""
    if namespace:
        found = await kube.custom.list_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, PLURAL)
    else:
        found = await kube.custom.list_cluster_custom_object(API_GROUP, API_VERSION, PLURAL)
    return list(found.get("items", []))


async def apply_event(kube: Kube, rollout: Mapping[str, Any], type_: str, reason: str,
                      message: str) -> None:
    """A core/v1 Event on the rollout (best effort: a lost Event must not stop a pass)."""
    meta = rollout["metadata"]
    now = datetime.now(UTC)
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name=f"{meta['name']}.", namespace=meta["namespace"]),
        involved_object=client.V1ObjectReference(
            api_version=f"{API_GROUP}/{API_VERSION}", kind=KIND, name=meta["name"],
            namespace=meta["namespace"], uid=meta["uid"]),
        reason=reason, message=message[:1024], type=type_, count=1,
        first_timestamp=now, last_timestamp=now,
        source=client.V1EventSource(component=FIELD_MANAGER),
        reporting_component=FIELD_MANAGER, reporting_instance=FIELD_MANAGER,
    )
    with contextlib.suppress(ApiException):
        await call_raw(kube.core.create_namespaced_event, meta["namespace"], event)
