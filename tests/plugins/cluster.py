"""A real Kubernetes control plane for integration tests.

``hack/cluster up`` starts (or reuses) a kwokctl *binary runtime* cluster: etcd,
kube-apiserver, kube-controller-manager, kube-scheduler and kwok-controller as local
processes on loopback, built from Go modules by hack/build-kube.sh. Deployments really get
ReplicaSets and Pods, garbage collection runs, and kwok marks Pods Running/Ready on fake
nodes. The session fixture brings it up once and tears it down at the end unless it was
already running before the session (then it is left as found). A test that restarts the
kube-apiserver takes a ``dedicated_cluster`` of its own instead, so the shared one is never
disturbed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from hack.kube import Kube

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SCRIPT = REPO / "hack" / "cluster"


def _cluster_cmd(*args: str, name: str | None = None) -> str:
    env = {**os.environ, "HYBRIDSTREAM_CLUSTER": name} if name else None
    result = subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), *args], capture_output=True, text=True, timeout=900,
        check=False, env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"hack/cluster {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result.stdout.strip()


@dataclass(frozen=True)
class Cluster(Kube):
    """Handle on the running control plane."""

    # kwokctl's binary runtime keeps each component's command line in kwok.yaml and its pid
    # in pids/<name>.pid (which ``hack/cluster down`` kills): a restart keeps both true.
    @property
    def _workdir(self) -> Path:
        return self.kubeconfig.parent

    def kill_apiserver(self) -> None:
        """SIGKILL the kube-apiserver (a crash: clients see refused connections)."""
        pid = int((self._workdir / "pids" / "kube-apiserver.pid").read_text())
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        while Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid):
            time.sleep(0.05)

    def start_apiserver(self, within: float = 60) -> None:
        """Start the kube-apiserver again as kwokctl did, and wait until it is ready."""
        docs = yaml.safe_load_all((self._workdir / "kwok.yaml").read_text())
        conf = next(d for d in docs if d and d.get("kind") == "KwokctlConfiguration")
        comp = next(c for c in conf["components"] if c["name"] == "kube-apiserver")
        with (self._workdir / "logs" / "kube-apiserver.log").open("ab") as log:
            proc = subprocess.Popen([comp["binary"], *comp["args"]], cwd=comp["workDir"],
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        (self._workdir / "pids" / "kube-apiserver.pid").write_text(str(proc.pid))
        deadline = time.monotonic() + within
        while not self._apiserver_ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"kube-apiserver not ready {within} s after a restart")
            time.sleep(0.2)

    def _apiserver_ready(self) -> bool:
        try:  # a starting apiserver may accept the connection and answer late
            return self.kubectl("get", "--raw", "/readyz", check=False, timeout=5) == "ok"
        except subprocess.TimeoutExpired:
            return False


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"


def _up(name: str | None = None) -> Cluster:
    info = dict(line.split("=", 1) for line in _cluster_cmd("up", name=name).splitlines()
                if "=" in line)
    return Cluster(Path(info["KUBECONFIG"]), Path(info["KUBECTL"]))


@contextmanager
def dedicated_cluster(name: str) -> Iterator[Cluster]:
    """A control plane of its own (``hack/cluster`` under ``name``), deleted on exit."""
    handle = _up(name)
    try:
        yield handle
    finally:
        _cluster_cmd("down", name=name)


def _session_cluster_name() -> str | None:
    """Under pytest-xdist every worker gets a control plane of its own (``<name>-gw0``...):
    CRDs, RBAC and peering objects are cluster-wide, and tests written to share a cluster
    one after another must not meet a neighbour's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return None
    return f"{os.environ.get('HYBRIDSTREAM_CLUSTER', 'hybridstream')}-{worker}"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    name = _session_cluster_name()
    was_running = _cluster_cmd("status", name=name) == "running"
    yield _up(name)
    if not was_running:
        _cluster_cmd("down", name=name)


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
