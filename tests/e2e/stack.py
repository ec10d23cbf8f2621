"""What the e2e tests need around the stack hack.stack deploys (shared with ``make demo``):
the rollout's status and routing, its pods and their acks, a recorder of the phases it
went through, a follower that keeps every stream pod's log (pods scaled to zero take their
logs with them), and a diagnostics dump for failure messages.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hybridstream_operator.clients.kube import parse_ack, pod_ready

from hack.kube import Kube, wait_for
from hack.manifests import ROLLOUT
from hack.stack import Stack
from tests.plugins.processes import LoggedProcess

STREAM_SELECTOR = f"hybridstream.io/rollout={ROLLOUT}"


def rollout_status(cluster: Kube, namespace: str) -> dict[str, Any]:
    """``status`` of the rollout ({} before the operator wrote one)."""
    return cluster.get_json("hsr", ROLLOUT, "-n", namespace).get("status") or {}


def routing_document(cluster: Kube, namespace: str) -> dict[str, Any]:
    """The routing document the operator published (the ConfigMap is the truth)."""
    cm = cluster.get_json("configmap", f"{ROLLOUT}-routing", "-n", namespace)
    return json.loads(cm["data"]["routing.json"])


def stream_pods(cluster: Kube, namespace: str, selector: str) -> list[dict[str, Any]]:
    """The rollout's live stream pods matching ``selector`` (e.g. a role or a revision)."""
    pods = cluster.get_json("pods", "-n", namespace, "-l",
                            f"{STREAM_SELECTOR},{selector}")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def acked(cluster: Kube, namespace: str, selector: str, generation: int) -> bool:
    """Every live pod matching ``selector`` (at least one) acknowledged ``generation``."""
    pods = stream_pods(cluster, namespace, selector)
    return bool(pods) and all(
        parse_ack(p["metadata"].get("annotations")) >= generation
        for p in pods)


def diagnostics(cluster: Kube, namespace: str, release: str) -> str:
    """The rollout, the pods and the operator's log tail: the context of a failed wait.
    The status summary comes first: CI shows a failure's head and tail only."""
    parts = [f"--- status summary\n{summarize_status(cluster, namespace)}",
             f"--- stream pods\n{summarize_stream_pods(cluster, namespace)}",
             f"--- prometheus\n{summarize_prometheus(cluster, namespace)}"]
    for title, args in (
        ("pods", ["get", "pods", "-n", namespace, "-o", "wide", "--show-labels"]),
        ("routing", ["get", "configmap", f"{ROLLOUT}-routing", "-n", namespace, "-o", "yaml"]),
        ("kubectl get hsr -o yaml", ["get", "hsr", "-n", namespace, "-o", "yaml"]),
    ):
        parts.append(f"--- {title}\n{cluster.kubectl(*args, check=False)[-6000:]}")
    logs = cluster.kubectl("logs", "-n", namespace, f"deploy/{release}-hybridstream-operator",
                           "--tail", "2000", check=False)
    # the kubelet's probes log a line every few seconds and would fill the tail
    lines = [line for line in logs.splitlines() if "GET /healthz" not in line]
    parts.append("--- operator logs\n" + "\n".join(lines[-60:]))
    return "\n".join(parts)


def summarize_status(cluster: Kube, namespace: str) -> str:
    """Phase, step, message, last failure and the walk's history, one line each."""
    try:
        status = rollout_status(cluster, namespace)
    except Exception as exc:  # the context of a failure must not fail itself
        return f"unreadable: {exc!r}"
    history = " → ".join(f"{h['phase']}{'' if h.get('stepIndex') is None else h['stepIndex']}"
                         f"@{h['at'][11:19]}" for h in status.get("history", []))
    metrics = [f"  {m['name']}: {m.get('lastVerdict')} {m.get('lastValue')} (" + " ".join(
        f"{key}={m[key]}" for key in ("passed", "failed", "held", "inconclusive", "errored",
                                      "notApplicable") if m.get(key)) + ")"
        for m in (status.get("analysis") or {}).get("metrics", [])]
    return "\n".join((
        f"phase: {status.get('phase')} {status.get('stepLabel', '')}",
        f"message: {status.get('message')}",
        f"lastFailure: {status.get('lastFailure')}",
        f"coverage: {status.get('coverage')}",
        f"history: {history}",
        "analysis:", *metrics,
    ))


def summarize_stream_pods(cluster: Kube, namespace: str) -> str:
    """Each stream pod's readiness and routing ack as the operator counts them, its
    restarts, then its log's last lines but the sink's events (JSON lines): what a pod
    applied, acked or failed at."""
    try:
        pods = cluster.get_json("pods", "-n", namespace, "-l", STREAM_SELECTOR)["items"]
    except Exception as exc:  # the context of a failure must not fail itself
        return f"unreadable: {exc!r}"
    parts = []
    for pod in pods:
        meta = pod["metadata"]
        ready, ack = pod_ready(pod), parse_ack(meta.get("annotations"))
        restarts = sum(c.get("restartCount", 0)
                       for c in pod.get("status", {}).get("containerStatuses", []))
        log = cluster.kubectl("logs", "-n", namespace, meta["name"], "--tail", "400",
                              check=False)
        lines = [line for line in log.splitlines() if not line.startswith("{")][-15:]
        parts.append(f"{meta['name']} ready={ready} restarts={restarts} ack={ack}"
                     f"{' terminating' if meta.get('deletionTimestamp') else ''}\n  "
                     + "\n  ".join(lines))
    return "\n".join(parts) or "none"


def summarize_prometheus(cluster: Kube, namespace: str) -> str:
    """The namespace's Prometheus (through the API server's service proxy): each scrape
    target's health and last error, and the hybrid pods' socket and mode series the
    default analysis reads, so "no data" can be told from a failing measurement."""
    base = f"/api/v1/namespaces/{namespace}/services/prometheus:9090/proxy/api/v1"
    try:
        targets = json.loads(cluster.kubectl("get", "--raw", f"{base}/targets?state=active"))
        lines = [f"{t['labels'].get('job')} {t['scrapeUrl']} {t['health']} "
                 f"last={t.get('lastScrape', '')[11:19]} took={t.get('lastScrapeDuration')} "
                 f"{t.get('lastError') or ''}" for t in targets["data"]["activeTargets"]]
        for query in ("hybridstream_ws_disconnected_seconds", "hybridstream_mode == 1"):
            found = json.loads(cluster.kubectl("get", "--raw",
                                               f"{base}/query?query={quote(query)}"))
            lines += [f"{query}: {r['metric']} = {r['value'][1]}"
                      for r in found["data"]["result"]] or [f"{query}: no data"]
    except Exception as exc:  # the context of a failure must not fail itself
        return f"unreadable: {exc!r}"
    return "\n".join(lines)


# A walk with the default analysis: five steps of 30-35 s, pods starting, handovers.
WALK_TIMEOUT = 420


def wait_until(stack: Stack, namespace: str, check: Callable[[], Any], what: str,
               timeout: float = WALK_TIMEOUT) -> Any:
    """Poll ``check`` until truthy; fail with the rollout, pods and operator log."""
    return wait_for(check, timeout=timeout, interval=1, what=what, describe=lambda: diagnostics(
        stack.cluster, namespace, stack.release(namespace)))


class PhaseRecorder:
    """Remembers every (phase, step) the rollout went through, in order.

    Read from ``status.history`` rather than the phase each poll happens to see: a phase
    that lasts less than a poll (RollingBack when the handover back is quick) is still
    recorded there. Only transitions after ``since`` (default: when the recorder was made)
    count: the history also holds earlier walks of the same rollout. ``first_at`` is when a
    poll first saw a phase."""

    def __init__(self, cluster: Kube, namespace: str, since: float | None = None) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.seen: list[tuple[str, int | None]] = []
        self.first_at: dict[str, float] = {}
        self.messages: list[str] = []  # status.message as polled (analysis notes too)
        self._recorded: set[tuple[str, int | None, str]] = set()
        self._since = datetime.fromtimestamp(time.time() if since is None else since, UTC)

    def poll(self) -> dict[str, Any]:
        status = rollout_status(self.cluster, self.namespace)
        for entry in status.get("history", []):
            marker = (entry["phase"], entry.get("stepIndex"), entry["at"])
            if marker in self._recorded or datetime.fromisoformat(entry["at"]) < self._since:
                continue
            self._recorded.add(marker)
            self.seen.append(marker[:2])
            self.first_at.setdefault(entry["phase"], time.time())
        if status.get("message") and status["message"] not in self.messages[-1:]:
            self.messages.append(status["message"])
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

    def __init__(self, cluster: Kube, namespace: str, workdir: Path) -> None:
        self.cluster, self.namespace, self.workdir = cluster, namespace, workdir
        self._procs: dict[str, tuple[str, str, LoggedProcess]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LogFollower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for *_, proc in self._procs.values():
            proc.stop()

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
                self._procs[name] = (role, revision, LoggedProcess(
                    [str(self.cluster.kubectl_bin), "--kubeconfig", str(self.cluster.kubeconfig),
                     "logs", "-f", "-n", self.namespace, name], self.workdir / f"{name}.log"))

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
