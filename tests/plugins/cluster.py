"""A real Kubernetes control plane for integration tests.

``hack/cluster up`` starts (or reuses) a kwokctl *binary runtime* cluster: etcd,
kube-apiserver, kube-controller-manager, kube-scheduler and kwok-controller as local
processes on loopback, built from Go modules by hack/build-kube.sh. Deployments really get
ReplicaSets and Pods, garbage collection runs, and kwok marks Pods Running/Ready on fake
nodes. The session fixture brings it up once and tears it down at the end unless it was
already running before the session (then it is left as found).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SCRIPT = REPO / "hack" / "cluster"


def _cluster_cmd(*args: str) -> str:
    result = subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), *args], capture_output=True, text=True, timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"hack/cluster {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result.stdout.strip()


@dataclass(frozen=True)
class Cluster:
    """Handle on the running control plane."""

    kubeconfig: Path
    kubectl_bin: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes that should talk to this cluster."""
        return {"KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> str:
        result = subprocess.run(
            [str(self.kubectl_bin), "--kubeconfig", str(self.kubeconfig), *args],
            input=input, capture_output=True, text=True, timeout=timeout, check=False,
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, ["kubectl", *args], result.stdout, result.stderr
            )
        return result.stdout if result.returncode == 0 else result.stderr

    def apply(self, *objects: dict[str, Any], namespace: str | None = None) -> str:
        ns = ["-n", namespace] if namespace else []
        return self.kubectl("apply", *ns, "-f", "-", input=yaml.safe_dump_all(objects))

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    was_running = _cluster_cmd("status") == "running"
    info = dict(line.split("=", 1) for line in _cluster_cmd("up").splitlines() if "=" in line)
    yield Cluster(Path(info["KUBECONFIG"]), Path(info["KUBECTL"]))
    if not was_running:
        _cluster_cmd("down")


@pytest.fixture
def namespace_factory(cluster: Cluster) -> Iterator[Callable[[], str]]:
    """Fresh namespaces on demand, all deleted after the test (without waiting)."""
    made: list[str] = []

    def make() -> str:
        name = f"t-{uuid.uuid4().hex[:8]}"
        cluster.kubectl("create", "namespace", name)
        made.append(name)
        return name
    yield make
    for name in made:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(namespace_factory: Callable[[], str]) -> str:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    return namespace_factory()
