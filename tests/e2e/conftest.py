"""Fixtures of the e2e tier: a real kind cluster and our images loaded into it.

``hack/kind.sh up`` creates (or reuses) a single-node kind cluster from the node image
hack/kind-node-image.sh assembles offline (or kind's stock image with
HYBRIDSTREAM_STOCK_IMAGES=1). The session brings it up once and deletes it at the end
unless it was already running before the session (then it is left as found, so a developer
iterating on e2e tests pays for cluster creation once). ``hack/e2e-stack.sh images`` (shared
with ``make demo``) builds the stream, operator and Prometheus images and `kind load`s them
once per session; ``stack`` adds helm for the rollout tests (tests/e2e/stack.py).

The fixture is named ``cluster`` like the integration tier's kwok control plane, so it
overrides that one under tests/e2e and every shared fixture built on it (``namespace``)
runs against kind here.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.stack import Stack
from tests.plugins.cluster import Cluster

REPO = Path(__file__).resolve().parents[2]
# A cold run builds Kubernetes, the node image and the images from scratch: generous.
COLD_BUILD_TIMEOUT = 3600


def run_hack(script: str, *args: str) -> dict[str, str]:
    """Run a hack/ script and return its NAME=VALUE stdout lines; fail with its output."""
    result = subprocess.run(
        ["bash", str(REPO / "hack" / script), *args], capture_output=True, text=True,
        timeout=COLD_BUILD_TIMEOUT, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"hack/{script} {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


@dataclass(frozen=True)
class Images:
    """Our images, loaded into the kind node."""

    stream: str
    operator: str


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The kind cluster (created once per session, or reused if already running)."""
    was_running = subprocess.run(
        ["bash", str(REPO / "hack" / "kind.sh"), "status"], capture_output=True, text=True,
        check=False,
    ).stdout.strip() == "running"
    info = run_hack("kind.sh", "up")
    yield Cluster(Path(info["KUBECONFIG"]), Path(info["KUBECTL"]))
    if not was_running:
        run_hack("kind.sh", "down")


@pytest.fixture(scope="session")
def stack(cluster: Cluster) -> Stack:
    """Stream and operator images built from this checkout and the Prometheus and
    Alertmanager images, loaded into the node, with the helm binary
    (hack/e2e-stack.sh images)."""
    built = run_hack("e2e-stack.sh", "images")
    return Stack(cluster=cluster, helm=Path(built["HELM"]), stream_image=built["STREAM_IMAGE"],
                 stream_image_v2=built["STREAM_IMAGE_V2"],
                 operator_image=built["OPERATOR_IMAGE"],
                 prometheus_image=built["PROMETHEUS_IMAGE"],
                 alertmanager_image=built["ALERTMANAGER_IMAGE"])


@pytest.fixture(scope="session")
def images(stack: Stack) -> Images:
    """Stream and operator images built from this checkout and loaded into the node."""
    return Images(stream=stack.stream_image, operator=stack.operator_image)



def run_deploy(stack: Stack, namespace: str, **env: str) -> None:
    """hack/e2e-stack.sh deploy: simulator, Prometheus, the operator chart, Alertmanager."""
    result = subprocess.run(
        ["bash", str(REPO / "hack" / "e2e-stack.sh"), "deploy", namespace],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, **stack.env, **env},
    )
    assert result.returncode == 0, f"e2e-stack.sh deploy failed:\n{result.stderr[-6000:]}"


def undeploy(stack: Stack, namespace: str) -> None:
    """Delete the rollouts while the operator still runs (its finalizer), then uninstall
    the release (its cluster-scoped RBAC outlives the namespace otherwise)."""
    stack.cluster.kubectl("delete", "hsr", "--all", "-n", namespace, "--timeout=60s",
                          check=False, timeout=90)
    subprocess.run([str(stack.helm), "--kubeconfig", str(stack.cluster.kubeconfig),
                    "uninstall", stack.release(namespace), "-n", namespace],
                   capture_output=True, timeout=120, check=False)


@pytest.fixture
def deployed(stack: Stack, namespace: str) -> Iterator[str]:
    """A fresh namespace with the simulator, Prometheus and the operator chart installed
    (the critical socket-down alert at 4 s, so a fault rolls back at once)."""
    run_deploy(stack, namespace)
    yield namespace
    undeploy(stack, namespace)


@pytest.fixture
def deployed_as_shipped(stack: Stack, namespace: str) -> Iterator[str]:
    """The same with every alert threshold as the chart ships it (socket down 30 s / 120 s):
    what a user gets, for the default analysis tests."""
    run_deploy(stack, namespace, DISCONNECTED_CRITICAL_SECONDS="120")
    yield namespace
    undeploy(stack, namespace)
