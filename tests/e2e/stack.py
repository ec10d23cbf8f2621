"""The e2e stack in one namespace: simulator, Prometheus, the operator chart, a rollout.

Deployment itself is ``hack/e2e-stack.sh deploy`` (shared with ``make demo``); this module
adds what the tests need around it: the example rollout patched for the test, admin calls
to the in-cluster simulator through ``kubectl port-forward`` on 127.0.0.1, a follower that
keeps every stream pod's log (pods scaled to zero take their logs with them), and a
diagnostics dump for failure messages.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hybridstream.contract import ACK_ANNOTATION
from hybridstream.simulator.admin_client import AdminClient

from tests.plugins.cluster import Cluster

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "04-local-simulator"
ROLLOUT = "positions"
ACCOUNT = "local-key"
ADMIN_TOKEN = "local-admin-token"  # examples/04-local-simulator/simulator.yaml
SIM_PORT = 8480
STREAM_SELECTOR = f"hybridstream.io/rollout={ROLLOUT}"


@dataclass(frozen=True)
class Stack:
    """What ``hack/e2e-stack.sh images`` built and loaded, and the tools to use it."""

    cluster: Cluster
    helm: Path
    stream_image: str
    # the same code with another version label: a second revision to roll out
    stream_image_v2: str
    operator_image: str
    prometheus_image: str
    alertmanager_image: str

    @property
    def env(self) -> dict[str, str]:
        """Environment for hack/e2e-stack.sh deploy."""
        return {"KUBECONFIG": str(self.cluster.kubeconfig),
                "KUBECTL": str(self.cluster.kubectl_bin), "HELM": str(self.helm),
                "STREAM_IMAGE": self.stream_image, "OPERATOR_IMAGE": self.operator_image,
                "PROMETHEUS_IMAGE": self.prometheus_image,
                "ALERTMANAGER_IMAGE": self.alertmanager_image}

    def release(self, namespace: str) -> str:
        """The chart's release name in ``namespace`` (hack/e2e-stack.sh)."""
        return f"hs-{namespace}"


def build_rollout(image: str, name: str = ROLLOUT, **steps: Any) -> dict[str, Any]:
    """The example rollout (default analysis) with our image, named ``name``, ``steps``
    overriding spec.steps keys."""
    rollout = copy.deepcopy(yaml.safe_load((EXAMPLE / "rollout.yaml").read_text()))
    rollout["metadata"]["name"] = name
    rollout["spec"]["workload"]["image"] = image
    rollout["spec"]["steps"].update(steps)
    return rollout


def rollout_status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """``status`` of the rollout ({} before the operator wrote one)."""
    return cluster.get_json("hsr", ROLLOUT, "-n", namespace).get("status") or {}


def routing_document(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """The routing document the operator published (the ConfigMap is the truth)."""
    cm = cluster.get_json("configmap", f"{ROLLOUT}-routing", "-n", namespace)
    return json.loads(cm["data"]["routing.json"])


def stream_pods(cluster: Cluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    """The rollout's live stream pods matching ``selector`` (e.g. a role or a revision)."""
    pods = cluster.get_json("pods", "-n", namespace, "-l",
                            f"{STREAM_SELECTOR},{selector}")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def acked(cluster: Cluster, namespace: str, selector: str, generation: int) -> bool:
    """Every live pod matching ``selector`` (at least one) acknowledged ``generation``."""
    pods = stream_pods(cluster, namespace, selector)
    return bool(pods) and all(
        int(p["metadata"].get("annotations", {}).get(ACK_ANNOTATION, "-1")) >= generation
        for p in pods)


def diagnostics(cluster: Cluster, namespace: str, release: str) -> str:
    """The rollout, the pods and the operator's log tail: the context of a failed wait."""
    parts = []
    for title, args in (
        ("kubectl get hsr -o yaml", ["get", "hsr", "-n", namespace, "-o", "yaml"]),
        ("pods", ["get", "pods", "-n", namespace, "-o", "wide", "--show-labels"]),
        ("routing", ["get", "configmap", f"{ROLLOUT}-routing", "-n", namespace, "-o", "yaml"]),
        ("operator logs", ["logs", "-n", namespace, f"deploy/{release}-hybridstream-operator",
                           "--tail", "80"]),
    ):
        parts.append(f"--- {title}\n{cluster.kubectl(*args, check=False)[-6000:]}")
    return "\n".join(parts)


# Two symbols in the first half of the buckets (hybrid's at 50 %) and two in the second.
SYMBOLS = ("XRPUSDT", "LTCUSDT", "BTCUSDT", "ADAUSDT")
# A walk with the default analysis: five steps of 30-35 s, pods starting, handovers.
WALK_TIMEOUT = 420


def wait_until(stack: Stack, namespace: str, check: Callable[[], Any], what: str,
               timeout: float = WALK_TIMEOUT) -> Any:
    """Poll ``check`` until truthy; fail with the rollout, pods and operator log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n"
                         + diagnostics(stack.cluster, namespace, stack.release(namespace)))


class PhaseRecorder:
    """Remembers every (phase, step) the rollout's status showed, in order."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.seen: list[tuple[str, int | None]] = []
        self.first_at: dict[str, float] = {}
        self.messages: list[str] = []

    def poll(self) -> dict[str, Any]:
        status = rollout_status(self.cluster, self.namespace)
        if status.get("message") and status["message"] not in self.messages[-1:]:
            self.messages.append(status["message"])
        key = (status.get("phase", "Pending"), status.get("stepIndex"))
        if not self.seen or self.seen[-1] != key:
            self.seen.append(key)
        self.first_at.setdefault(key[0], time.time())
        return status


WALK = ["Canary", "Parallel", "Cutover", "Production"]
STOPPED = {"Paused", "RollingBack", "RolledBack"}


def walked_unattended(recorder: PhaseRecorder, since: int = 0) -> list[str]:
    """The phases seen from ``recorder.seen[since]`` on, asserting the full walk with no
    pause or rollback."""
    phases = [p for p, _ in recorder.seen[since:]]
    assert [p for p in dict.fromkeys(phases) if p in WALK] == WALK, recorder.seen
    assert not STOPPED & set(phases), (recorder.seen, recorder.messages[-10:])
    return phases


def open_positions(url: str) -> None:
    """One long position per symbol on the stream's account (10: a multiple of every
    default symbol's qtyStep)."""
    for symbol in SYMBOLS:
        admin(url, "open-position", account=ACCOUNT, symbol=symbol, side="Buy", qty="10")


@contextmanager
def port_forward(cluster: Cluster, namespace: str, target: str, port: int) -> Iterator[str]:
    """``kubectl port-forward`` bound to 127.0.0.1 on a free port; yields ``http://host:port``."""
    proc = subprocess.Popen(
        [str(cluster.kubectl_bin), "--kubeconfig", str(cluster.kubeconfig), "port-forward",
         "-n", namespace, "--address", "127.0.0.1", target, f":{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:NNNNN -> 8480"
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"kubectl port-forward {target} failed: {line}{proc.stdout.read()[-2000:]}"
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def admin(url: str, action: str, **kwargs: Any) -> Any:
    """One simulator admin call (docs: hybridstream.simulator)."""
    async def call() -> Any:
        async with AdminClient(url, ADMIN_TOKEN) as client:
            return await client.call(action, **kwargs)
    return asyncio.run(call())


@dataclass(frozen=True)
class Event:
    """One forwarded event as a stream pod's jsonl sink printed it."""

    role: str  # the pod's hybridstream.io/role: legacy | hybrid
    revision: str  # the pod's hybridstream.io/revision ("0" is legacy)
    pod: str
    at: float  # emitTime, unix seconds
    symbol: str
    source: str
    type: str


def parse_events(role: str, revision: str, pod: str, text: str) -> list[Event]:
    """The sink's JSON lines in a pod log (other log lines are skipped)."""
    events = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "emitTime" in doc and "source" in doc:
            events.append(Event(role, revision, pod, float(doc["emitTime"]) / 1000,
                                doc.get("symbol", ""), doc["source"], doc.get("type", "")))
    return events


class LogFollower:
    """Follows (``kubectl logs -f``) every stream pod of the rollout into files, so the
    logs of pods scaled to zero remain readable."""

    def __init__(self, cluster: Cluster, namespace: str, workdir: Path) -> None:
        self.cluster, self.namespace, self.workdir = cluster, namespace, workdir
        self._procs: dict[str, tuple[str, str, subprocess.Popen[bytes]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LogFollower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for *_, proc in self._procs.values():
            proc.terminate()
            proc.wait(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            pods = self.cluster.get_json("pods", "-n", self.namespace, "-l", STREAM_SELECTOR)
            for pod in pods["items"]:
                name = pod["metadata"]["name"]
                running = any("running" in s.get("state", {})
                              for s in pod.get("status", {}).get("containerStatuses", []))
                if name in self._procs or not running:
                    continue
                labels = pod["metadata"]["labels"]
                role = labels.get("hybridstream.io/role", "?")
                revision = labels.get("hybridstream.io/revision", "?")
                with (self.workdir / f"{name}.log").open("wb") as out:
                    self._procs[name] = (role, revision, subprocess.Popen(
                        [str(self.cluster.kubectl_bin), "--kubeconfig",
                         str(self.cluster.kubeconfig), "logs", "-f", "-n", self.namespace,
                         name], stdout=out, stderr=subprocess.DEVNULL))

    def events(self) -> list[Event]:
        """Every forwarded event followed so far, in emit order."""
        found = []
        for name, (role, revision, _) in list(self._procs.items()):
            text = (self.workdir / f"{name}.log").read_text(errors="replace")
            found += parse_events(role, revision, name, text)
        return sorted(found, key=lambda e: e.at)

    def pods(self) -> dict[str, str]:
        """Followed pod name → role."""
        return {name: role for name, (role, *_) in self._procs.items()}
