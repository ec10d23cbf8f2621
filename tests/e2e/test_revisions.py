"""Revisions on kind: every change of ``spec.workload`` walks again, beside the stable one.

Two stream images built from the same code, differing only in their version label
(hack/images/build.sh: ``stream_image`` and ``stream_image_v2``), and real pods forwarding
the simulator's positions:

* v1 (revision 1) walks from the legacy poller to Production and completes: it becomes the
  stable revision and the poller goes to zero; its Parallel compared its prices with REST's
  at the same moment (the poller's own source, without the poller's lag);
* the image patched to v2 (revision 2) walks Canary → Parallel → Cutover 50 % → 100 % →
  Production beside revision 1, whose Deployment and pods are untouched until revision 2
  completes; its Parallel compared with revision 1's prices (not REST's); revision 2's
  pods ack the documents, every open symbol is forwarded all along
  (revision 1 before the cutover, revision 2 after it), and the completion swaps the
  routing to ``stableRevision: 2`` and scales revision 1 to zero;
* a v3 whose container exits at start (an invalid ``HYBRID_POLL_INTERVAL``: a real crash
  loop) never acks its Canary document, so the progress deadline (the CRD's minimum, 30 s)
  rolls it back, while revision 2's pods keep forwarding every open symbol throughout and
  stay the stable revision.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hack.kube import port_forward
from hack.manifests import ROLLOUT
from hack.manifests import rollout as build_rollout
from hack.stack import SIM_PORT, SYMBOLS, Stack, open_positions
from tests.e2e.coverage import assert_covered, build_sources
from tests.e2e.stack import (
    Event,
    LogFollower,
    PhaseRecorder,
    acked,
    routing_document,
    stream_pods,
    wait_until,
    walked_unattended,
)
from tests.plugins.cluster import Cluster

# Revision 2 forwards every bucket from its stable side for the whole v3 attempt (its
# range never changes), so a symbol's only gaps are the exchange's: a position event comes
# with a mark price change, up to about 8 s apart on the simulator (11 s measured over a
# whole run); 20 s is far below the 35 s or more a revision 2 stopped for the attempt
# would leave.
STABLE_GAP = 20.0


def revision(number: int) -> str:
    return f"hybridstream.io/revision={number}"


def pods_of(cluster: Cluster, ns: str, number: int) -> dict[str, str]:
    """Pod name → uid of one revision's live pods."""
    return {p["metadata"]["name"]: p["metadata"]["uid"]
            for p in stream_pods(cluster, ns, revision(number))}


def comparisons_of(cluster: Cluster, ns: str, number: int) -> list[dict[str, Any]]:
    """``hybrid.comparisons`` of each of revision ``number``'s pods (cumulative for the
    pod's life), read from its status API through the API server's pod proxy."""
    return [json.loads(cluster.kubectl(
        "get", "--raw", f"/api/v1/namespaces/{ns}/pods/{p['metadata']['name']}:8080"
        "/proxy/api/hybrid/status"))["hybrid"]["comparisons"]
        for p in stream_pods(cluster, ns, revision(number))]


def assert_compared_with_stable(comparisons: list[dict[str, Any]]) -> None:
    """Parallel compared every price with the stable revision's: stable's status API was
    reachable (DNS, the NetworkPolicy) and never stood in for by REST."""
    assert comparisons, "no pod to read"
    for c in comparisons:
        assert c["against"]["stable"] > 0 and c["against"]["rest"] == 0, c
        assert c["stableStatus"] == f"{ROLLOUT}-stable:8080", c


def events_of(events: list[Event], number: int) -> list[Event]:
    return [e for e in events if e.revision == str(number)]


def complete(stack: Stack, ns: str, recorder: PhaseRecorder, stable: int,
             check: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Wait until revision ``stable`` completed its walk (Production, no candidate),
    calling ``check()`` on every poll."""
    def done() -> dict[str, Any] | None:
        status = recorder.poll()
        check()
        ok = (status.get("phase") == "Production" and "candidateRevision" not in status
              and (status.get("stableRevision") or {}).get("number") == stable)
        return status if ok else None
    return wait_until(stack, ns, done, f"revision {stable} stable")


def candidate_walk(stack: Stack, ns: str, number: int, since: float) -> PhaseRecorder:
    """A recorder of revision ``number``'s walk, patched at ``since``, from its Canary on
    (the status read right after a patch may still be the previous walk's)."""
    walk = PhaseRecorder(stack.cluster, ns, since)

    def started() -> bool:
        status = walk.poll()
        return (status.get("phase") == "Canary"
                and (status.get("candidateRevision") or {}).get("number") == number)
    wait_until(stack, ns, started, f"revision {number} in Canary", timeout=60)
    return walk


def patch(cluster: Cluster, ns: str, body: dict[str, Any]) -> None:
    cluster.kubectl("patch", "hsr", ROLLOUT, "-n", ns, "--type=merge", "-p", json.dumps(body))


def ship_v2(stack: Stack, ns: str) -> dict[str, Any]:
    """Patch the image to v2 and wait for its walk to complete, checking on every poll that
    revision 1's Deployment and pods are untouched while revision 2 is the candidate."""
    cluster = stack.cluster
    v1_pods = pods_of(cluster, ns, 1)
    v1_generation = cluster.get_json(
        "deployment", f"{ROLLOUT}-hybrid-1", "-n", ns)["metadata"]["generation"]
    assert v1_pods
    documents: dict[int, dict[str, Any]] = {}
    started = time.time()
    patch(cluster, ns, {"spec": {"workload": {"image": stack.stream_image_v2},
                                 "steps": {"cutover": [
                                     {"percent": 50, "pause": {"duration": "35s"}},
                                     {"percent": 100, "pause": {"duration": "30s"}}]}}})
    walk = candidate_walk(stack, ns, 2, started)

    def stable_untouched() -> None:
        pods = pods_of(cluster, ns, 1)
        dep = cluster.get_json("deployment", f"{ROLLOUT}-hybrid-1", "-n", ns)
        # read last: the operator publishes the swap before it scales revision 1 down, so
        # a document still naming candidate 2 means the reads above came before it
        doc = routing_document(cluster, ns)
        documents.setdefault(doc["generation"], doc)
        if doc.get("candidateRevision") != 2:
            return
        assert pods == v1_pods, "revision 1's pods changed mid-walk"
        assert dep["metadata"]["generation"] == v1_generation, dep["spec"]

    status = complete(stack, ns, walk, stable=2, check=stable_untouched)
    swap = routing_document(cluster, ns)
    wait_until(stack, ns, lambda: acked(cluster, ns, revision(2), swap["generation"]),
               f"revision 2's pods to ack the swap (generation {swap['generation']})")
    wait_until(stack, ns, lambda: not stream_pods(cluster, ns, revision(1)),
               "revision 1 scaled to 0")
    return {"walk": walk, "status": status, "documents": documents, "swap": swap,
            "start": started, "end": time.time()}


def ship_crashing_v3(stack: Stack, ns: str, env: list[dict[str, str]]) -> dict[str, Any]:
    """Patch an env var the stream refuses at start (its pods exit: a crash loop) with the
    CRD's shortest progress deadline, and wait for the rollback."""
    cluster = stack.cluster
    started = time.time()
    env = [e if e["name"] != "HYBRID_POLL_INTERVAL" else {**e, "value": "0"} for e in env]
    patch(cluster, ns, {"spec": {"workload": {"env": env},
                                 "steps": {"progressDeadline": "30s"}}})
    walk = candidate_walk(stack, ns, 3, started)
    status = wait_until(stack, ns, lambda: (s := walk.poll()).get("phase") == "RolledBack"
                        and s, "the progress deadline to roll revision 3 back", timeout=240)
    back = routing_document(cluster, ns)
    wait_until(stack, ns, lambda: acked(cluster, ns, revision(2), back["generation"]),
               f"revision 2's pods to ack generation {back['generation']}")
    return {"walk": walk, "status": status, "routing": back, "start": started,
            "pods": stream_pods(cluster, ns, revision(3)), "end": time.time()}


def assert_v2_walked(stack: Stack, ns: str, v2: dict[str, Any], events: list[Event]) -> None:
    walk, swap = v2["walk"], v2["swap"]
    walked_unattended(walk)
    assert ("Cutover", 0) in walk.seen and ("Cutover", 1) in walk.seen, walk.seen
    assert v2["status"]["stableRevision"]["image"] == stack.stream_image_v2, v2["status"]
    production = [d for d in v2["documents"].values() if d["hybridMode"] == "production"]
    assert production and all((d["hybridHigh"], d["legacyLow"], d.get("candidateRevision"),
                               d.get("stableRevision")) == (100, 100, 2, 1)
                              for d in production), production
    assert (swap["hybridMode"], swap["hybridHigh"], swap["legacyLow"], swap["stableRevision"],
            swap.get("candidateRevision")) == ("canary", 0, 0, 2, None), swap
    dep = stack.cluster.get_json("deployment", f"{ROLLOUT}-hybrid-1", "-n", ns)
    assert dep["spec"]["replicas"] == 0, dep["spec"]
    cutover_at, production_at = walk.first_at["Cutover"], walk.first_at["Production"]
    # revision 1 forwarded every symbol until the cutover, revision 2 every one after
    # Production, and revision 2 nothing while it only watched (Canary, Parallel)
    assert build_sources(events_of(events, 1), "hybrid", v2["start"], cutover_at) == \
        set(SYMBOLS)
    assert build_sources(events_of(events, 2), "hybrid", production_at, v2["end"]) == \
        set(SYMBOLS)
    assert not build_sources(events_of(events, 2), "hybrid", 0,
                             walk.first_at["Parallel"] - 1)
    assert_covered(events, v2["start"], v2["end"])


def assert_v3_rolled_back(v3: dict[str, Any], events: list[Event]) -> None:
    walk, status, back = v3["walk"], v3["status"], v3["routing"]
    # RollingBack may last less than a poll: the status' own history has every transition
    assert [h["phase"] for h in status["history"]][-3:] == \
        ["Canary", "RollingBack", "RolledBack"], status["history"]
    assert {p for p, _ in walk.seen} <= {"Canary", "RollingBack", "RolledBack"}, walk.seen
    failure = status["lastFailure"]
    assert failure["source"] == "deadline" and "progress deadline 30s" in failure["message"], \
        failure
    assert status["stableRevision"]["number"] == 2, status["stableRevision"]
    assert status["candidateRevision"]["number"] == 3, status["candidateRevision"]
    restarts = [s.get("restartCount", 0) + ("terminated" in s.get("lastState", {}))
                for p in v3["pods"] for s in p.get("status", {}).get("containerStatuses", [])]
    assert not v3["pods"] or any(restarts), "revision 3's pods never exited"
    assert (back["hybridHigh"], back["legacyLow"], back["stableRevision"]) == (0, 0, 2), back
    # revision 2 alone forwarded every open symbol for the whole attempt
    assert not events_of(events, 3)
    assert_covered(events_of(events, 2), v3["start"], v3["end"], window=STABLE_GAP)


# Two whole walks (about 3 min each with the default analysis) and a deadline rollback.
@pytest.mark.timeout(1200)
def test_v2_walks_beside_v1_and_a_crash_looping_v3_rolls_back_by_the_deadline(
    stack: Stack, deployed: str, tmp_path: Path,
) -> None:
    cluster, ns = stack.cluster, deployed
    # v1's walk is the plain one test_rollout covers: one cutover step keeps it short
    rollout = build_rollout(stack.stream_image,
                            cutover=[{"percent": 100, "pause": {"duration": "30s"}}])
    with port_forward(cluster, ns, "svc/simulator", SIM_PORT) as sim, \
            LogFollower(cluster, ns, tmp_path) as logs:
        open_positions(sim)
        v1_walk = PhaseRecorder(cluster, ns)
        cluster.apply(rollout, namespace=ns)
        v1 = complete(stack, ns, v1_walk, stable=1)
        wait_until(stack, ns, lambda: not stream_pods(cluster, ns, revision(0)),
                   "the legacy poller scaled to 0")
        v1_comparisons = comparisons_of(cluster, ns, 1)
        v2 = ship_v2(stack, ns)
        v2_pods = pods_of(cluster, ns, 2)
        v2_comparisons = comparisons_of(cluster, ns, 2)
        v3 = ship_crashing_v3(stack, ns, rollout["spec"]["workload"]["env"])
        v2_pods_after = pods_of(cluster, ns, 2)
        events = logs.events()

    assert v1.get("legacyRetiredAt"), v1
    assert v1["stableRevision"]["image"] == stack.stream_image, v1["stableRevision"]
    # beside the legacy poller: REST's price now (the poller's own source, without its lag)
    assert v1_comparisons, "no pod to read"
    for c in v1_comparisons:
        assert c["against"]["rest"] > 0 and c["against"]["stable"] == 0, c
    assert_v2_walked(stack, ns, v2, events)
    assert_compared_with_stable(v2_comparisons)  # with revision 1's
    assert_v3_rolled_back(v3, events)
    assert v2_pods_after == v2_pods, "revision 2's pods changed during revision 3's attempt"
