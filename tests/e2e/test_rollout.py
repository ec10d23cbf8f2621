"""The real rollout on kind: simulator, Prometheus, the operator chart and real stream pods.

Each test gets a fresh namespace with the in-cluster simulator (exchange), Prometheus
scraping the stream pods, and the operator installed by ``helm install`` (fixture
``deployed``, hack/stack.py), then applies examples/04-local-simulator/rollout.yaml
(the default analysis, thresholds untouched, durations compressed). Positions are opened
through the simulator's admin API (port-forward on 127.0.0.1) so the stream pods have real
events to forward; every stream pod's jsonl sink (stdout) is followed for the whole run.

* the happy path walks Canary → Parallel → Cutover 50 % → 100 % → Production, the pods ack
  every routing generation, legacy forwards every open symbol before the cutover and
  hybrid after it, no symbol goes unforwarded for long at any time, and legacy ends at 0;
* a fault injected mid-cutover (the simulator drops the private sockets and refuses
  re-auth) fires the chart's HybridStreamDisconnectedCritical rule in Prometheus;
  Alertmanager posts it to the operator's webhook and the rollout rolls back to legacy with
  no symbol left uncovered (the alert's threshold is 4 s here, far below the analysis' own
  30 s / 120 s, so only the alert can roll it back this fast);
* deleting the rollout and uninstalling the chart leave nothing behind but the CRDs.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from hybridstream.routing import bucket_of

from hack.kube import port_forward
from hack.manifests import ROLLOUT
from hack.manifests import rollout as build_rollout
from hack.stack import SIM_PORT, SYMBOLS, Stack, admin, open_positions
from tests.e2e.coverage import assert_covered, build_sources
from tests.e2e.stack import (
    WALK,
    LogFollower,
    PhaseRecorder,
    acked,
    routing_document,
    stream_pods,
    wait_until,
)
from tests.plugins.cluster import Cluster

LEGACY, HYBRID = "hybridstream.io/role=legacy", "hybridstream.io/role=hybrid"

def production_routing(cluster: Cluster, namespace: str) -> dict[str, Any] | None:
    """The routing document once it is production's, else None."""
    doc = routing_document(cluster, namespace)
    return doc if doc["hybridMode"] == "production" else None


def test_rollout_walks_to_production_with_every_symbol_forwarded(
    stack: Stack, deployed: str, tmp_path: Path,
) -> None:
    cluster, ns = stack.cluster, deployed
    assert {bucket_of(s) < 50 for s in SYMBOLS} == {True, False}
    recorder = PhaseRecorder(cluster, ns)
    with port_forward(cluster, ns, "svc/simulator", SIM_PORT) as sim, \
            LogFollower(cluster, ns, tmp_path) as logs:
        open_positions(sim)
        cluster.apply(build_rollout(stack.stream_image), namespace=ns)
        wait_until(stack, ns, lambda: recorder.poll().get("phase") == "Production",
                   "phase Production")
        production_at = time.time()
        # Production's routing is published on the operator's next pass
        doc = wait_until(stack, ns, lambda: production_routing(cluster, ns),
                         "production routing")
        assert (doc["hybridHigh"], doc["legacyLow"]) == (100, 100), doc
        wait_until(stack, ns, lambda: acked(cluster, ns, HYBRID, doc["generation"]),
                   f"hybrid pods to ack routing generation {doc['generation']}")
        wait_until(stack, ns, lambda: recorder.poll().get("legacyRetiredAt")
                   and not stream_pods(cluster, ns, LEGACY), "legacy scaled to 0")
        legacy = cluster.get_json("deployment", f"{ROLLOUT}-legacy", "-n", ns)
        assert legacy["spec"]["replicas"] == 0, legacy["spec"]
        end = time.time()
        events = logs.events()
        roles = set(logs.pods().values())

    phases = [p for p, _ in recorder.seen]
    assert [p for p in dict.fromkeys(phases) if p in WALK] == WALK, recorder.seen
    assert ("Cutover", 0) in recorder.seen and ("Cutover", 1) in recorder.seen, recorder.seen
    assert not {"RollingBack", "RolledBack", "Paused"} & set(phases), recorder.seen
    assert roles == {"legacy", "hybrid"}, roles

    cutover_at = recorder.first_at["Cutover"]
    assert build_sources(events, "legacy", 0, cutover_at) == set(SYMBOLS)
    assert build_sources(events, "hybrid", production_at, end) == set(SYMBOLS)
    # hybrid forwarded nothing while it only watched (Canary, Parallel)
    assert not build_sources(events, "hybrid", 0, recorder.first_at["Parallel"] - 1)
    first = min(e.at for e in events if e.role == "legacy" and e.symbol in SYMBOLS)
    assert_covered(events, first, end)


def test_fault_mid_cutover_rolls_back_with_every_symbol_covered(
    stack: Stack, deployed: str, tmp_path: Path,
) -> None:
    cluster, ns = stack.cluster, deployed
    recorder = PhaseRecorder(cluster, ns)
    rollout = build_rollout(stack.stream_image,
                            cutover=[{"percent": 50, "pause": {"duration": "5m"}},
                                     {"percent": 100, "pause": {"duration": "10s"}}])
    with port_forward(cluster, ns, "svc/simulator", SIM_PORT) as sim, \
            LogFollower(cluster, ns, tmp_path) as logs:
        open_positions(sim)
        cluster.apply(rollout, namespace=ns)
        wait_until(stack, ns, lambda: recorder.poll().get("stepStartedAt")
                   and recorder.poll().get("phase") == "Cutover", "Cutover 50 % in force")
        # hybrid's private socket goes away and cannot come back: its
        # hybridstream_ws_disconnected_seconds climbs past the alert rule's 4 s
        admin(sim, "reject-auth", count=100000)
        admin(sim, "drop", kind="private", mode="reset")
        wait_until(stack, ns, lambda: recorder.poll().get("phase") == "RolledBack",
                   "phase RolledBack")
        status = recorder.poll()
        doc = routing_document(cluster, ns)
        wait_until(stack, ns, lambda: acked(cluster, ns, LEGACY, doc["generation"]),
                   f"legacy pods to ack routing generation {doc['generation']}")
        end = time.time()
        events = logs.events()
        admin(sim, "clear-faults")

    failure = status["lastFailure"]
    assert (failure["source"], failure["name"]) == ("alert", "HybridStreamDisconnectedCritical"), \
        failure
    assert "private socket disconnected" in failure["message"], failure
    assert "RollingBack" in [p for p, _ in recorder.seen], recorder.seen
    assert (doc["hybridMode"], doc["hybridHigh"], doc["legacyLow"]) == ("canary", 0, 0), doc
    legacy = cluster.get_json("deployment", f"{ROLLOUT}-legacy", "-n", ns)
    assert legacy["status"].get("availableReplicas", 0) >= 1, legacy["status"]
    assert build_sources(events, "hybrid", recorder.first_at["Cutover"], end), \
        "hybrid forwarded nothing during the cutover"
    first = min(e.at for e in events if e.role == "legacy" and e.symbol in SYMBOLS)
    assert_covered(events, first, end)


def test_uninstall_leaves_only_the_crds(stack: Stack, deployed: str) -> None:
    cluster, ns = stack.cluster, deployed
    cluster.apply(build_rollout(stack.stream_image), namespace=ns)
    owned = ("deployments,services,configmaps,secrets,serviceaccounts,roles,rolebindings,pods,"
             "kopfpeerings.kopf.dev")
    managed = "app.kubernetes.io/managed-by=hybridstream-operator"

    def names(selector: str) -> list[str]:
        items = cluster.get_json(owned, "-n", ns, "-l", selector)["items"]
        return sorted(f"{i['kind']}/{i['metadata']['name']}" for i in items)

    wait_until(stack, ns, lambda: len(names(managed)) >= 9,
               "the operator to create the rollout's objects")
    cluster.kubectl("delete", "hsr", ROLLOUT, "-n", ns, "--timeout=90s", timeout=120)
    wait_until(stack, ns, lambda: not names(managed),
               "garbage collection of the rollout's objects", timeout=120)
    release = stack.release(ns)
    subprocess.run([str(stack.helm), "--kubeconfig", str(cluster.kubeconfig), "uninstall",
                    release, "-n", ns, "--wait"], check=True, capture_output=True, timeout=180)
    instance = f"app.kubernetes.io/instance={release}"
    wait_until(stack, ns, lambda: not names(instance), "the release's namespaced objects gone")
    cluster_scoped = cluster.get_json(
        "clusterroles,clusterrolebindings,clusterkopfpeerings.kopf.dev", "-l", instance)
    assert not cluster_scoped["items"], [i["metadata"]["name"] for i in cluster_scoped["items"]]
    # Helm never deletes CRDs it installed from crds/ (deleting one would delete every
    # rollout of every namespace): they stay, by Helm's design.
    crds = cluster.kubectl("get", "crd", "-o", "name")
    assert "hybridstreamrollouts.hybridstream.io" in crds
