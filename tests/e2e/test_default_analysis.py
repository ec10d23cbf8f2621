"""The default analysis, out of the box, in a real cluster: the chart as shipped (alert
thresholds untouched), the in-cluster Prometheus scraping the real stream pods, and the
example rollout with **no analysis metrics at all** (durations compressed).

* a healthy stream with open positions walks to Production with no pause and no human
  action (tests/e2e/test_rollout.py's happy path, which applies the same rollout);
* so does an idle account (no open positions): its event gates are *not applicable*;
* a real fault, the private socket down and re-auth refused, first *holds* the rollout
  on a warning threshold (the reconnect storm, or the socket down 30 s) and then *rolls it
  back* past the critical one (socket down 120 s); once the exchange is healthy again, a
  retry in the same namespace walks to Production, its steps not judged on the failed
  attempt's reconnect storm.

The idle walk runs in a namespace of its own while the fault runs, to save wall time.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from hack.kube import port_forward
from hack.manifests import ROLLOUT
from hack.manifests import rollout as build_rollout
from hack.stack import SIM_PORT, Stack, admin, deploy, open_positions, undeploy
from tests.e2e.stack import STOPPED, PhaseRecorder, wait_until, walked_unattended


def walk_to_production(stack: Stack, ns: str, recorder: PhaseRecorder) -> dict[str, Any]:
    return wait_until(stack, ns, lambda: (s := recorder.poll()).get("legacyRetiredAt") and s,
                      "Production with legacy retired")


def idle_account_walks(stack: Stack, ns: str, outcome: dict[str, Any]) -> None:
    """No open positions on the account: the walk must not wait for events that cannot
    come (the rollout's analysis says they do not apply)."""
    try:
        recorder = PhaseRecorder(stack.cluster, ns)
        stack.cluster.apply(build_rollout(stack.stream_image), namespace=ns)
        status = walk_to_production(stack, ns, recorder)
        outcome.update(recorder=recorder, status=status)
    except BaseException as exc:  # reported by the main thread
        outcome["error"] = exc


def request_intent(stack: Stack, ns: str, kind: str) -> None:
    """What ``kubectl hsr <kind>`` writes."""
    body = json.dumps({"kind": kind, "id": datetime.now(UTC).isoformat(), "reason": "e2e"})
    stack.cluster.kubectl("annotate", "hsr", ROLLOUT, "-n", ns, "--overwrite",
                          f"hybridstream.io/intent={body}")


# Two deploys, a walk to Cutover, a fault that must outlast the shipped 120 s threshold,
# then a whole retry walk: longer than the suite's default 600 s budget per test.
@pytest.mark.timeout(1200)
def test_defaults_hold_then_roll_back_a_fault_and_a_retry_walks_while_an_idle_account_walks(
    stack: Stack, deployed_as_shipped: str, namespace_factory: Any,
) -> None:
    cluster, ns = stack.cluster, deployed_as_shipped
    idle_ns = namespace_factory()
    deploy(stack, idle_ns, disconnected_critical_seconds=120)
    idle: dict[str, Any] = {}
    idle_walk = threading.Thread(target=idle_account_walks, args=(stack, idle_ns, idle))
    idle_walk.start()
    try:
        recorder = PhaseRecorder(cluster, ns)
        rollout = build_rollout(stack.stream_image,
                                cutover=[{"percent": 50, "pause": {"duration": "10m"}},
                                         {"percent": 100, "pause": {"duration": "30s"}}])
        with port_forward(cluster, ns, "svc/simulator", SIM_PORT) as sim:
            open_positions(sim)
            cluster.apply(rollout, namespace=ns)
            wait_until(stack, ns, lambda: (s := recorder.poll()).get("phase") == "Cutover"
                       and s.get("stepStartedAt"), "Cutover 50 % in force")
            # hybrid's private socket goes away and cannot come back
            admin(sim, "reject-auth", count=100000)
            admin(sim, "drop", kind="private", mode="reset")
            fault_at = time.monotonic()
            held = wait_until(stack, ns, lambda: (s := recorder.poll()).get("phase")
                              in STOPPED and s, "the warning to hold the rollout", timeout=120)
            held_after = time.monotonic() - fault_at
            rolled_back = wait_until(stack, ns, lambda: (s := recorder.poll()).get("phase")
                                     == "RolledBack" and s, "the critical to roll back",
                                     timeout=240)
            rolled_back_after = time.monotonic() - fault_at
            admin(sim, "clear-faults")
            # the retry walks the whole way; its cutover steps are short this time
            retry_from = len(recorder.seen)
            cluster.kubectl("patch", "hsr", ROLLOUT, "-n", ns, "--type=merge", "-p", json.dumps(
                {"spec": {"steps": {"cutover": [{"percent": 50, "pause": {"duration": "30s"}},
                                                {"percent": 100,
                                                 "pause": {"duration": "30s"}}]}}}))
            request_intent(stack, ns, "retry")
            final = walk_to_production(stack, ns, recorder)
    finally:
        idle_walk.join(timeout=600)
        undeploy(stack, idle_ns)

    # a warning held first: the reconnect storm (> 5, step back; Cutover 1 has no step
    # before it, so it holds) or the socket down past 30 s, well before the critical 120 s
    assert held["phase"] == "Paused", (held, recorder.messages[-5:])
    assert (held["lastFailure"]["name"], held["lastFailure"]["action"]) in (
        ("reconnects-per-hour", "step-back"), ("disconnected-warning", "hold")), \
        held["lastFailure"]
    assert held_after < 120, held_after
    # ...then the critical rolled back: the analysis (guards are measured while paused)
    # or the chart's alert of the same threshold, whichever came first
    failure = rolled_back["lastFailure"]
    assert failure["name"] in ("disconnected-critical", "HybridStreamDisconnectedCritical"), \
        failure
    assert failure["action"] == "rollback" and rolled_back_after >= 120, \
        (failure, rolled_back_after)
    # the retry walked unattended, in the same namespace, right after the reconnect storm
    walked_unattended(recorder, since=retry_from)
    assert final["rollbacks"] == 1, final

    if "error" in idle:  # raised whole: an assertion's repr would cut its diagnostics
        raise idle["error"]
    walked_unattended(idle["recorder"])
    assert any("not applicable" in m for m in idle["recorder"].messages), \
        idle["recorder"].messages
    counts = {m["name"]: m for m in idle["status"]["analysis"]["metrics"]}
    assert all(m.get("failed", 0) == 0 for m in counts.values()), counts
