"""The operator's NetworkPolicy is enforced on kind, not only created.

The offline kind cluster routes pods with a plain ptp CNI, which enforces nothing;
``hack.stack.cluster_up`` deploys kube-network-policies (hack/netpol.sh) for that. This test
proves, with real connections to a real stream pod, that the policy the operator builds
(``build_network_policy``) admits the metrics/status port only from the rollout's own
namespace and the ``fromNamespaces`` listed, and nothing else.

The rollout first runs with ``networkPolicy.enabled: false`` (the negative control): a
client in an unlisted namespace reaches the metrics port, and a closed port answers with
a reset ("refused"), so the probe can tell a dropped connection from a closed port and the
test fails if nothing enforces the policy. The operator creates NetworkPolicies but never
deletes them (no ``delete`` verb), so the control comes first and the policy is then
enabled on the same rollout. With it, the agent drops what the policy does not admit: the
unlisted namespace cannot reach the metrics port, and even the rollout's own namespace gets
no answer (a timeout, not a reset) on another port.

The rollout is held in its Canary step (10 min) so its legacy pods stay put throughout.
"""

from __future__ import annotations

import json
from typing import Any

from hack.manifests import ROLLOUT
from hack.manifests import rollout as build_rollout
from hack.stack import Stack
from tests.e2e.stack import STREAM_SELECTOR, wait_until
from tests.plugins.cluster import Cluster

METRICS_PORT = 8080  # workload.metricsPort's default, which the example keeps
OTHER_PORT = 8081  # nothing listens there in a stream pod
CONNECT_TIMEOUT = 3  # s: a same-node connect answers in milliseconds, or is dropped
CLIENT = "netpol-client"
# One TCP connect from inside a client pod: open, refused (reset: reached the pod, port
# closed) or timeout (dropped on the way).
PROBE = """
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except ConnectionRefusedError:
    print("refused")
except (socket.timeout, TimeoutError):
    print("timeout")
"""


def client_pod(image: str) -> dict[str, Any]:
    """An idle restricted pod from the stream image (it has python) to probe from."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": CLIENT, "labels": {"app": CLIENT}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "client", "image": image, "imagePullPolicy": "Never",
                "command": ["python3", "-c", "import time; time.sleep(3600)"],
                "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
        },
    }


def ready(cluster: Cluster, ns: str, name: str) -> bool:
    status = cluster.get_json("pod", name, "-n", ns).get("status", {})
    assert status.get("phase") not in ("Failed", "Succeeded"), f"{ns}/{name} ended: {status}"
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in status.get("conditions", []))


def probe(cluster: Cluster, ns: str, ip: str, port: int) -> str:
    """open | refused | timeout, for one connect from the client pod in ``ns``."""
    out = cluster.kubectl("exec", "-n", ns, CLIENT, "--", "python3", "-c", PROBE, ip,
                          str(port), str(CONNECT_TIMEOUT), timeout=30).strip()
    assert out in ("open", "refused", "timeout"), f"probe from {ns} failed: {out}"
    return out


def legacy_pod_ip(cluster: Cluster, ns: str) -> str | None:
    """The IP of a running legacy stream pod (the Canary step keeps them)."""
    pods = cluster.get_json("pods", "-n", ns, "-l",
                            f"{STREAM_SELECTOR},hybridstream.io/role=legacy")["items"]
    for p in pods:
        if not p["metadata"].get("deletionTimestamp") and p["status"].get("podIP") \
                and p["status"].get("phase") == "Running":
            return str(p["status"]["podIP"])
    return None


def policies(cluster: Cluster, ns: str) -> list[str]:
    return [p["metadata"]["name"]
            for p in cluster.get_json("networkpolicies", "-n", ns)["items"]]


def test_operator_network_policy_is_enforced(
    stack: Stack, deployed: str, namespace_factory: Any,
) -> None:
    cluster, own = stack.cluster, deployed
    listed, unlisted = namespace_factory(), namespace_factory()
    for ns in (own, listed, unlisted):
        cluster.apply(client_pod(stack.stream_image), namespace=ns)
    for ns in (own, listed, unlisted):
        wait_until(stack, own, lambda ns=ns: ready(cluster, ns, CLIENT),
                   f"client pod in {ns} Ready", timeout=120)

    rollout = build_rollout(stack.stream_image, canary={"duration": "10m"})
    rollout["spec"]["workload"]["networkPolicy"] = {"enabled": False}
    cluster.apply(rollout, namespace=own)
    ip = wait_until(stack, own, lambda: legacy_pod_ip(cluster, own), "a running legacy pod",
                    timeout=240)
    # The pod serves metrics once the stream started: wait for that from its own namespace.
    wait_until(stack, own, lambda: probe(cluster, own, ip, METRICS_PORT) == "open",
               f"the legacy pod's metrics port {ip}:{METRICS_PORT}", timeout=120)

    # Negative control: no policy, so every namespace gets in and a closed port resets.
    assert policies(cluster, own) == [], policies(cluster, own)
    control = {
        "unlisted metrics": probe(cluster, unlisted, ip, METRICS_PORT),
        "own other port": probe(cluster, own, ip, OTHER_PORT),
    }
    assert control == {"unlisted metrics": "open", "own other port": "refused"}, control

    enable = {"enabled": True, "fromNamespaces": [listed]}
    cluster.kubectl("patch", "hsr", ROLLOUT, "-n", own, "--type=merge", "-p",
                    json.dumps({"spec": {"workload": {"networkPolicy": enable}}}))
    wait_until(stack, own, lambda: f"{ROLLOUT}-stream" in policies(cluster, own),
               f"the operator to create NetworkPolicy {ROLLOUT}-stream", timeout=120)
    # The agent programs a policy a moment after the API has it: wait (bounded) for the
    # unlisted namespace to be shut out, then check every path once against the same pod.
    wait_until(stack, own, lambda: probe(cluster, unlisted, ip, METRICS_PORT) != "open",
               "the unlisted namespace to be refused the metrics port", timeout=60)
    enforced = {
        "unlisted metrics": probe(cluster, unlisted, ip, METRICS_PORT),
        "unlisted other port": probe(cluster, unlisted, ip, OTHER_PORT),
        "own other port": probe(cluster, own, ip, OTHER_PORT),
        "listed other port": probe(cluster, listed, ip, OTHER_PORT),
        "own metrics": probe(cluster, own, ip, METRICS_PORT),
        "listed metrics": probe(cluster, listed, ip, METRICS_PORT),
    }
    assert legacy_pod_ip(cluster, own) == ip, "the probed pod was replaced during the checks"
    assert enforced == {
        "unlisted metrics": "timeout",
        "unlisted other port": "timeout",
        "own other port": "timeout",  # dropped by the policy; "refused" without it
        "listed other port": "timeout",
        "own metrics": "open",
        "listed metrics": "open",
    }, enforced
