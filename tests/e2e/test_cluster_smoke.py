"""Smoke test of the e2e infrastructure: the offline kind cluster really runs our image.

The simulator runs from the stream image as a non-root, read-only-root Pod behind a
Service; a second Pod from the same image fetches the simulator's REST time endpoint by the
Service's DNS name. Passing proves the images loaded, Pods start under the restricted
security context the chart uses, and the node's CNI, kube-proxy and CoreDNS work.
"""

from __future__ import annotations

import json
from typing import Any

from hack.stack import Stack
from tests.plugins.cluster import Cluster
from tests.plugins.processes import wait_for

SIM_PORT = 8480
RESTRICTED = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def pod(name: str, image: str, args: list[str], **container: Any) -> dict[str, Any]:
    """A restricted single-container Pod from our image with an emptyDir on /tmp."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": name, "image": image, "imagePullPolicy": "Never", "args": args,
                "securityContext": RESTRICTED,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                **container,
            }],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def pod_ready(cluster: Cluster, ns: str, name: str) -> bool:
    status = cluster.get_json("pod", name, "-n", ns).get("status", {})
    assert status.get("phase") not in ("Failed", "Succeeded"), f"{name} ended: {status}"
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in status.get("conditions", []))


def service_has_ready_endpoint(cluster: Cluster, ns: str, service: str) -> bool:
    slices = cluster.get_json("endpointslices", "-n", ns,
                              "-l", f"kubernetes.io/service-name={service}")
    return any(endpoint.get("conditions", {}).get("ready")
               for item in slices.get("items", []) for endpoint in item.get("endpoints") or [])


def pod_phase(cluster: Cluster, ns: str, name: str) -> str | None:
    phase = cluster.get_json("pod", name, "-n", ns).get("status", {}).get("phase")
    return phase if phase in ("Succeeded", "Failed") else None


def test_stream_image_serves_simulator_through_service_dns(
    cluster: Cluster, stack: Stack, namespace: str,
) -> None:
    simulator = pod(
        "sim", stack.stream_image,
        ["simulator", "--host", "0.0.0.0", "--port", str(SIM_PORT), "--admin-token", "e2e"],
        ports=[{"containerPort": SIM_PORT}],
        readinessProbe={"httpGet": {"path": "/v5/market/time", "port": SIM_PORT},
                        "periodSeconds": 1},
    )
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "sim"},
        "spec": {"selector": {"app": "sim"}, "ports": [{"port": SIM_PORT}]},
    }
    cluster.apply(simulator, service, namespace=namespace)
    wait_for(lambda: pod_ready(cluster, namespace, "sim"), timeout=180, interval=1,
             what="simulator pod Ready")

    wait_for(lambda: service_has_ready_endpoint(cluster, namespace, "sim"), timeout=60,
             interval=1, what="the sim Service's EndpointSlice to list the Ready pod")

    # kube-proxy programs the Service's rules a moment after the EndpointSlice changes and
    # rejects connections until then, so the client retries a bounded number of times, as
    # any client of a fresh Service would.
    url = f"http://sim.{namespace}.svc.cluster.local:{SIM_PORT}/v5/market/time"
    fetch = ("import sys, time, urllib.request\n"
             "for attempt in range(30):\n"
             "    try:\n"
             f"        body = urllib.request.urlopen({url!r}, timeout=20).read().decode()\n"
             "        break\n"
             "    except OSError as exc:\n"
             "        print(f'attempt {attempt}: {exc}', file=sys.stderr)\n"
             "        time.sleep(1)\n"
             "else:\n"
             "    sys.exit(1)\n"
             "sys.stdout.write(body)\n")
    client = pod("client", stack.stream_image, ["-c", fetch], command=["python"])
    cluster.apply(client, namespace=namespace)
    phase = wait_for(lambda: pod_phase(cluster, namespace, "client"), timeout=180,
                     interval=1, what="client pod to finish")
    logs = cluster.kubectl("logs", "-n", namespace, "client")
    assert phase == "Succeeded", logs
    # stderr carries the retries; the body is the last line of the combined log.
    logs = logs.strip().splitlines()[-1]

    body = json.loads(logs)
    assert body["retCode"] == 0, body
    assert int(body["result"]["timeSecond"]) > 0, body
