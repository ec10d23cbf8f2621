"""The watch-backed caches' bookkeeping (the list and watch themselves run against the real
API server in the integration tests): projections, which changes wake a rollout, and that
our own write is never replaced by an older event still in flight."""

from __future__ import annotations

from typing import Any

from hybridstream.contract import ACK_ANNOTATION, CONFIGMAP_KEY, REVISION_LABEL, ROLLOUT_LABEL
from hybridstream.routing import Mode, RoutingDocument
from hybridstream_operator.clients.cache import (
    Caches,
    Informer,
    project_deployment,
    project_pod,
    project_routing,
)
from hybridstream_operator.models.observations import Acks


def pod(name: str, version: int, *, revision: int = 1, ready: bool = True, ack: int = 3,
        rollout: str = "r", deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "resourceVersion": str(version),
                            "labels": {ROLLOUT_LABEL: rollout, REVISION_LABEL: str(revision)},
                            "annotations": {ACK_ANNOTATION: str(ack)}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def deployment(name: str, version: int, owner: str, replicas: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(version),
                         "labels": {ROLLOUT_LABEL: "r", REVISION_LABEL: "0"},
                         "ownerReferences": [{"uid": owner}]},
            "spec": {"replicas": replicas}, "status": {"readyReplicas": replicas}}


def routing(name: str, version: int, generation: int) -> dict[str, Any]:
    doc = RoutingDocument(generation=generation, hybridMode=Mode.CANARY, hybridHigh=0,
                          legacyLow=0)
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(version),
                         "labels": {ROLLOUT_LABEL: "r"}},
            "data": {CONFIGMAP_KEY: doc.to_json()}}


def caches() -> tuple[Caches, list[tuple[str, str]]]:
    woken: list[tuple[str, str]] = []

    def informer(kind: str, project: Any) -> list[Informer]:
        return [Informer(kind, list_call=None, namespace="ns", project=project,
                         wake=lambda ns, name: woken.append((ns, name)))]
    return Caches(informer("deployments", project_deployment), informer("pods", project_pod),
                  informer("configmaps", project_routing)), woken


def test_acks_are_of_ready_pods_of_one_revision():
    c, _ = caches()
    [pods] = c.pods
    for obj in (pod("a", 1, ack=3), pod("b", 2, ack=4), pod("c", 3, ready=False),
                pod("d", 4, deleting=True), pod("e", 5, revision=2, ack=7),
                pod("f", 6, rollout="other")):
        pods.record(obj)
    assert sorted(c.acks("ns", "r", 1).generations) == [3, 4]
    assert c.acks("ns", "r", 2) == Acks((7,))
    assert c.acks("ns", "r", None) == Acks() and c.acks("ns", "nobody", 1) == Acks()


def test_a_heartbeat_does_not_wake_an_ack_does():
    c, woken = caches()
    [pods] = c.pods
    pods.record(pod("a", 1, ack=3))
    woken.clear()
    pods.record(pod("a", 2, ack=3))  # a new resourceVersion, nothing a pass reads
    assert woken == []
    pods.record(pod("a", 3, ack=4))
    assert woken == [("ns", "r")]
    pods.record(pod("a", 4, ack=4), deleted=True)
    assert woken == [("ns", "r")] * 2 and c.acks("ns", "r", 1) == Acks()


def test_our_write_is_not_replaced_by_an_older_event():
    c, _ = caches()
    c.record("ConfigMap", routing("r-routing", 10, generation=5))  # the apply's response
    [informer] = c.routing
    informer.record(routing("r-routing", 9, generation=4))  # the watch, behind
    assert c.routing_of("ns", "r").generation == 5
    informer.record(routing("r-routing", 11, generation=6))
    assert c.routing_of("ns", "r").generation == 6
    informer.record(routing("r-other", 12, generation=1))  # labelled, not the routing
    assert c.routing_of("ns", "r").generation == 6


def test_only_deployments_the_rollout_owns():
    c, _ = caches()
    c.record("Deployment", deployment("r-legacy-0", 1, owner="uid-1", replicas=2))
    c.record("Deployment", deployment("r-impostor", 2, owner="uid-2"))
    found = c.deployments_of("ns", "r", "uid-1")
    assert list(found) == ["r-legacy-0"]
    assert (found["r-legacy-0"].revision, found["r-legacy-0"].state.desired,
            found["r-legacy-0"].state.ready) == (0, 2, 2)
