"""How the operator writes the objects of a rollout, against the real kube-apiserver: a
new object is created in one request (adoption of a thousand rollouts would otherwise
read every object first), a taken name is never taken over, and the fields a create set
belong to the operator as an applier afterwards, so a field a later manifest drops really
goes (server-side apply removes only what its manager applied). A status decided from a
rollout is written only if nothing it was decided from changed since."""

from __future__ import annotations

from typing import Any

import pytest
from hybridstream.contract import API_GROUP
from hybridstream_operator.clients.kube import (
    FIELD_MANAGER,
    MERGE,
    Kube,
    NotOwned,
    fetch_rollout,
    write_manifest,
)
from hybridstream_operator.handlers.reconcile import write_status
from hybridstream_operator.logic.builders import Owner, build_stable_service
from kubernetes_asyncio import client
from operator_harness import rollout_manifest


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(entry["manager"], entry["operation"]) for entry in obj["metadata"]["managedFields"]
            if entry["manager"] == FIELD_MANAGER]


@pytest.fixture
async def owner(cluster, operator_crds, namespace, kube: client.ApiClient) -> Owner:
    """A real rollout (no operator runs): the garbage collector keeps what it owns."""
    cluster.apply(rollout_manifest("writes", "http://127.0.0.1:9"), namespace=namespace)
    found = await client.CustomObjectsApi(kube).get_namespaced_custom_object(
        API_GROUP, "v1alpha1", namespace, "hybridstreamrollouts", "writes")
    return Owner("writes", namespace, found["metadata"]["uid"])


async def test_a_created_object_drops_a_field_a_later_manifest_leaves_out(
        cluster, namespace, kube: client.ApiClient, owner: Owner) -> None:
    ops = Kube.from_api_client(kube)
    made = await write_manifest(ops, build_stable_service(owner, 1, 8080), create=True)
    assert managers(made) == [(FIELD_MANAGER, "Update")]  # what a create records

    # a new stable revision serves another port: the old one must not stay beside it
    await write_manifest(ops, build_stable_service(owner, 2, 9090), create=False)
    service = cluster.get_json("service", "writes-stable", "-n", namespace,
                               "--show-managed-fields")
    assert [p["port"] for p in service["spec"]["ports"]] == [9090], service["spec"]
    assert service["spec"]["selector"]["hybridstream.io/revision"] == "2"
    assert managers(service) == [(FIELD_MANAGER, "Apply")]


async def test_create_on_a_name_taken_by_someone_else_changes_nothing(
        cluster, namespace, kube: client.ApiClient, owner: Owner) -> None:
    theirs = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "writes-stable"},
              "spec": {"selector": {"app": "someone-else"}, "ports": [{"port": 80}]}}
    cluster.apply(theirs, namespace=namespace)
    with pytest.raises(NotOwned, match="Service writes-stable exists and is not owned"):
        await write_manifest(Kube.from_api_client(kube), build_stable_service(owner, 1, 8080),
                             create=True)
    service = cluster.get_json("service", "writes-stable", "-n", namespace)
    assert service["spec"]["selector"] == {"app": "someone-else"}
    assert not service["metadata"].get("ownerReferences")


async def test_create_on_our_own_object_applies_the_manifest(
        cluster, namespace, kube: client.ApiClient, owner: Owner) -> None:
    """A first pass killed after some creates: its retry finds them and applies."""
    ops = Kube.from_api_client(kube)
    await write_manifest(ops, build_stable_service(owner, 1, 8080), create=True)
    written = await write_manifest(ops, build_stable_service(owner, 1, 9090), create=True)
    assert [p["port"] for p in written["spec"]["ports"]] == [9090]
    assert managers(written) == [(FIELD_MANAGER, "Apply")]


async def test_a_status_write_that_lost_only_to_metadata_is_made_on_the_fresh_version(
        namespace, kube: client.ApiClient, owner: Owner) -> None:
    ops = Kube.from_api_client(kube)

    async def patch(body: dict[str, Any]) -> None:
        await ops.custom.patch_namespaced_custom_object(
            API_GROUP, "v1alpha1", namespace, "hybridstreamrollouts", "writes", body,
            _content_type=MERGE)

    async def message() -> str | None:
        return ((await fetch_rollout(ops, namespace, "writes")) or {}).get(
            "status", {}).get("message")

    decided_from = await fetch_rollout(ops, namespace, "writes")
    # what kopf's finalizer is to a new rollout's first pass: a change it does not read
    await patch({"metadata": {"labels": {"team": "desk-1"}}})
    assert await write_status(ops, decided_from, {"message": "decided"})
    assert await message() == "decided"

    # an intent is what a pass decides from: the write is refused (the pass decides again)
    decided_from = await fetch_rollout(ops, namespace, "writes")
    await patch({"metadata": {"annotations": {"hybridstream.io/intent": "abort@t1"}}})
    assert not await write_status(ops, decided_from, {"message": "stale"})
    assert await message() == "decided"
