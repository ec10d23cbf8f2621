"""Operator scale bench: N rollouts (replicas 1/1, kwok pods, no Prometheus) held in Canary
by one real operator process on the kwok control plane (hack/cluster), measuring

- adoption: operator start → every rollout out of Pending (its Deployments made, routing
  published, Canary started; a rollout the coverage watchdog pauses under a slow acker
  counts as adopted too);
- steady API load: kube-apiserver's own ``apiserver_request_total`` delta over a window with
  nothing but the operator acting, minus the same window's background measured before the
  operator started (controller-manager, kwok, leases);
- operator CPU % of one core and RSS over that window (/proc);
- ``kubectl hsr abort`` (the intent annotation it writes) → ``RollingBack`` and Alertmanager
  webhook post → ``RollingBack`` latencies, one rollout at a time while the others run.

``--baseline <rev>`` runs the same measurement first with the operator code of another git
revision (a temporary ``git worktree`` put first on the operator's PYTHONPATH), so before
and after are measured side by side on the same machine in one run.

    python bench/bench_operator.py [--n 100 300] [--baseline main] [--window 30] [--no-write]

Results: bench/results/operator.md. No timing is asserted anywhere; the integration test
(tests/integration/operator/test_operator_bench.py) runs N=5 and checks the report's shape.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from hybridstream.contract import ACK_ANNOTATION
from hybridstream_operator.clients.cache import Informer, project_routing
from hybridstream_operator.clients.kube import Kube, call_raw, parse_ack
from hybridstream_operator.logic.builders import routing_configmap_name
from hybridstream_operator.models.config import OperatorSettings
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.integration.operator.operator_harness import (  # noqa: E402
    TOKEN,
    OperatorProcess,
    rollout_manifest,
    send_intent,
)

RESULTS = REPO / "bench" / "results" / "operator.md"
#: This code's default resync (the tests' harness sets a shorter one).
DEFAULT_INTERVAL = OperatorSettings.model_fields["reconcile_interval"].default
GROUP, VERSION, PLURAL = "hybridstream.io", "v1alpha1", "hybridstreamrollouts"
#: The alert every rollout lists by default; the webhook narrows it by these labels.
ALERT = "HybridStreamNoEventsCritical"
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Seconds an abort or alert may take to show RollingBack before it counts as "not within".
REACTION_LIMIT = 30


@dataclass
class Figures:
    """One (revision, N) measurement."""

    label: str
    n: int
    adopted: int
    adopt_s: float
    api_rps: float
    background_rps: float
    cpu_pct: float
    rss_mib: float
    abort_ms: list[float]
    alert_ms: list[float]
    #: API requests from operator start to all adopted, every client's, by verb and resource
    adopt_requests: Counter[str] = field(default_factory=Counter)
    #: steady-state requests/s by verb and resource, over the background's of each
    steady_rps: Counter[str] = field(default_factory=Counter)

    @property
    def per_rollout_rps(self) -> float:
        return self.api_rps / self.n


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def apiserver_requests(kubectl: Path, kubeconfig: Path) -> Counter[str]:
    """``apiserver_request_total`` from the kube-apiserver's own /metrics, by ``verb
    resource[/subresource]`` (every client's: the metric does not say whose)."""
    proc = await asyncio.create_subprocess_exec(
        str(kubectl), "--kubeconfig", str(kubeconfig), "get", "--raw", "/metrics",
        stdout=asyncio.subprocess.PIPE)
    text, _ = await proc.communicate()
    found: Counter[str] = Counter()
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == "apiserver_request_total":
                labels = sample.labels
                sub = f"/{labels['subresource']}" if labels.get("subresource") else ""
                found[f"{labels['verb']} {labels.get('resource', '')}{sub}"] += sample.value
    return found


def rate(counts: Counter[str], seconds: float) -> Counter[str]:
    """``counts`` per second."""
    return Counter({kind: count / seconds for kind, count in counts.items()})


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class FastAcker:
    """The stream pods' part of the contract for a whole namespace: each pod acks its
    rollout's current routing document, as the real pods do from their own watch. Two
    watches (the routing ConfigMaps, the pods; the operator's own watch-backed cache, raw
    JSON) and an ack patch per pod behind: it costs the shared cores and the API server what
    2,000 pods watching their ConfigMap would, not a list of every pod each second (the
    bench's earlier acker, whose CPU and list load slowed the adoption it measured)."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self.dirty: set[str] = set()
        self.woken = asyncio.Event()
        self.routing = Informer("configmaps", kube.core.list_namespaced_config_map,
                                namespace, project_routing, self._wake)
        self.pods = Informer("pods", kube.core.list_namespaced_pod, namespace,
                             lambda pod: (pod["metadata"].get("deletionTimestamp") is None,
                                          parse_ack(pod["metadata"].get("annotations"))),
                             self._wake)

    def _wake(self, _namespace: str, rollout: str) -> None:
        self.dirty.add(rollout)
        self.woken.set()

    async def _ack(self, gate: asyncio.Semaphore, rollout: str) -> None:
        document = self.routing.items(self.namespace, rollout).get(
            routing_configmap_name(rollout))
        if document is None:
            return
        for pod, (alive, ack) in self.pods.items(self.namespace, rollout).items():
            if alive and ack != document.generation:
                async with gate:
                    with contextlib.suppress(ApiException):  # the pod may be going away
                        await call_raw(self.kube.core.patch_namespaced_pod, pod, self.namespace,
                                       {"metadata": {"annotations": {
                                           ACK_ANNOTATION: str(document.generation)}}})

    async def run(self) -> None:
        watches = [asyncio.create_task(i.run()) for i in (self.routing, self.pods)]
        gate = asyncio.Semaphore(16)
        try:
            while True:
                await self.woken.wait()
                self.woken.clear()
                todo, self.dirty = self.dirty, set()
                await asyncio.gather(*(self._ack(gate, rollout) for rollout in todo))
        finally:
            for task in watches:
                task.cancel()


def bench_rollout(name: str) -> dict[str, Any]:
    """A rollout that stays in Canary (1 h steps) and needs no Prometheus (no metrics). The
    progress deadline is as long: with 1,000 rollouts the controller-manager takes more than
    the default 10 minutes to create their 2,000 pods, and the rollouts would roll back."""
    manifest = rollout_manifest(name, "http://127.0.0.1:9", **{
        **{phase: {"duration": "1h"} for phase in ("canary", "parallel", "production")},
        "cutover": [{"percent": 100, "pause": {"duration": "1h"}}], "progressDeadline": "1h"})
    manifest["spec"]["analysis"] = {"interval": "30s", "metrics": [], "alertNames": [ALERT]}
    return manifest


async def poll(check: Callable[[], Awaitable[Any]], within: float, what: str,
               every: float = 0.02) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(ApiException):  # an overloaded API server times out: again
            found = await check()
            if found:
                return found
        await asyncio.sleep(every)
    raise TimeoutError(f"{what} not within {within} s")


@dataclass
class Bench:
    """One control plane, one namespace per measurement."""

    kubeconfig: Path
    kubectl: Path
    window: float
    samples: int
    workdir: Path
    adopt_within: float = 600.0
    log: Callable[[str], None] = print

    async def requests(self) -> float:
        return (await self.requests_by_kind()).total()

    async def requests_by_kind(self) -> Counter[str]:
        return await apiserver_requests(self.kubectl, self.kubeconfig)

    def kubectl_run(self, *args: str, input: str | None = None) -> str:
        return subprocess.run([str(self.kubectl), "--kubeconfig", str(self.kubeconfig), *args],
                              input=input, capture_output=True, text=True, check=True,
                              timeout=600).stdout

    async def measure(self, label: str, n: int, pythonpath: str | None,
                      interval: float) -> Figures:
        api = await config.new_client_from_config(config_file=str(self.kubeconfig))
        ns = f"bench-{uuid.uuid4().hex[:6]}"
        operator = None
        try:
            self._prepare(ns, n)
            custom = client.CustomObjectsApi(api)
            t0, b0 = time.monotonic(), await self.requests_by_kind()
            await asyncio.sleep(self.window)
            quiet = rate(await self.requests_by_kind() - b0, time.monotonic() - t0)
            background = quiet.total()

            operator = OperatorProcess(ns, self.kubeconfig, self.workdir / f"{label}-{n}")
            operator.workdir.mkdir(parents=True, exist_ok=True)
            # each code's default pass interval (resync), not the tests' setting
            operator.extra_env = {"HYBRIDSTREAM_OPERATOR_RECONCILE_INTERVAL": str(interval),
                                  **({"PYTHONPATH": pythonpath} if pythonpath else {})}
            before = await self.requests_by_kind()
            started = time.monotonic()
            operator.start()
            assert operator.process is not None
            pid = operator.process.proc.pid
            acker = asyncio.create_task(FastAcker(Kube.from_api_client(api), ns).run())

            adopted, adopt, during = await self._adopt(custom, ns, n, started, before)
            self.log(f"{label} N={n}: {adopted} adopted in {adopt:.1f} s")

            async def all_settled() -> bool:  # Canary step started (acked), or paused
                items = (await custom.list_namespaced_custom_object(
                    GROUP, VERSION, ns, PLURAL))["items"]
                return all((o.get("status") or {}).get("stepStartedAt")
                           or (o.get("status") or {}).get("phase") == "Paused" for o in items)
            with contextlib.suppress(TimeoutError):
                await poll(all_settled, self.adopt_within, f"{n} settled", every=1.0)
            acker.cancel()
            await asyncio.sleep(min(5.0, self.window))  # let the last acks' passes end

            t0, r0, c0 = time.monotonic(), await self.requests_by_kind(), cpu_seconds(pid)
            await asyncio.sleep(self.window)
            elapsed = time.monotonic() - t0
            steady = rate(await self.requests_by_kind() - r0, elapsed)
            rps = steady.total() - background
            steady.subtract(quiet)
            cpu = (cpu_seconds(pid) - c0) / elapsed * 100
            rss = rss_mib(pid)
            self.log(f"{label} N={n}: {rps:.1f} req/s over background {background:.1f}, "
                     f"CPU {cpu:.1f} %, RSS {rss:.0f} MiB")

            abort_ms, alert_ms = [], []
            samples = min(self.samples, n // 2)  # each sample rolls one rollout back
            for i in range(samples):
                abort_ms.append(await self._to_rolling_back(custom, ns, f"r{i:04d}", lambda name:
                                send_intent(custom, ns, name, "abort", uuid.uuid4().hex)))
                alert_ms.append(await self._to_rolling_back(
                    custom, ns, f"r{samples + i:04d}",
                    lambda name: self._post_alert(operator.url, ns, name)))
            self.log(f"{label} N={n}: abort p50 {percentile(abort_ms, 50):.0f} ms, "
                     f"alert p50 {percentile(alert_ms, 50):.0f} ms")
            return Figures(label, n, adopted, adopt, rps, background, cpu, rss, abort_ms, alert_ms,
                           during, +steady)
        finally:
            if operator is not None:
                operator.stop()
            await self._drop(api, ns)
            await api.close()

    async def _adopt(self, custom: client.CustomObjectsApi, ns: str, n: int, started: float,
                     before: Counter[str]) -> tuple[int, float, Counter[str]]:
        """Rollouts adopted (out of Pending), seconds since ``started``, and the API requests
        since ``before``. Followed through one watch of the namespace's rollouts: listing a
        thousand of them every half second (≈ 5 MB each time) loaded the very API server
        whose adoption it timed."""
        phases: dict[str, str] = {}

        def phase(obj: dict[str, Any]) -> str:
            return (obj.get("status") or {}).get("phase", "Pending")

        def adopted() -> int:
            return sum(p != "Pending" for p in phases.values())
        listed = await custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
        phases.update((o["metadata"]["name"], phase(o)) for o in listed["items"])
        version = listed["metadata"]["resourceVersion"]
        while adopted() < n and (left := started + self.adopt_within - time.monotonic()) > 0:
            response = await custom.list_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, watch=True, resource_version=version,
                allow_watch_bookmarks=True, timeout_seconds=max(1, math.ceil(left)),
                _preload_content=False, _request_timeout=left + 30)
            async with response:
                while adopted() < n and (line := await response.content.readline()):
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        raise RuntimeError(f"watch of the rollouts: {obj.get('message')}")
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] in ("ADDED", "MODIFIED"):
                        phases[obj["metadata"]["name"]] = phase(obj)
        adopt = time.monotonic() - started
        during = await self.requests_by_kind()
        during.subtract(before)
        return adopted(), adopt, +during

    def _prepare(self, ns: str, n: int) -> None:
        self.kubectl_run("create", "namespace", ns)
        self.kubectl_run("-n", ns, "create", "secret", "generic", "bybit-creds",
                         "--from-literal=api-key=k", "--from-literal=api-secret=s")
        docs = [{"apiVersion": "kopf.dev/v1", "kind": "KopfPeering",
                 "metadata": {"name": "hybridstream-operator"}},
                *(bench_rollout(f"r{i:04d}") for i in range(n))]
        for start in range(0, len(docs), 200):
            self.kubectl_run("-n", ns, "apply", "-f", "-",
                             input=yaml.safe_dump_all(docs[start:start + 200]))

    async def _to_rolling_back(self, custom: client.CustomObjectsApi, ns: str, name: str,
                               act: Callable[[str], Awaitable[Any]]) -> float:
        """Milliseconds from ``act`` to the rollout's status saying RollingBack (infinite:
        not within REACTION_LIMIT s; reported as such, the run goes on)."""
        started = time.monotonic()
        await act(name)

        async def rolling_back() -> bool:
            obj = await custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
            return (obj.get("status") or {}).get("phase") in ("RollingBack", "RolledBack")
        try:
            await poll(rolling_back, REACTION_LIMIT, f"{name} RollingBack")
        except TimeoutError:
            return math.inf
        return (time.monotonic() - started) * 1000

    @staticmethod
    async def _post_alert(url: str, ns: str, name: str) -> None:
        alert = {"status": "firing", "fingerprint": uuid.uuid4().hex[:16],
                 "startsAt": datetime.now(UTC).isoformat(),
                 "labels": {"alertname": ALERT, "namespace": ns, "rollout": name},
                 "annotations": {"summary": "bench"}}
        async with aiohttp.ClientSession() as http, http.post(
                f"{url}/api/v1/alertmanager", json={"alerts": [alert]},
                headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            r.raise_for_status()

    async def _drop(self, api: client.ApiClient, ns: str) -> None:
        """Release the finalizers (the operator is stopped) and delete the namespace."""
        custom = client.CustomObjectsApi(api)
        with contextlib.suppress(ApiException):
            items = (await custom.list_namespaced_custom_object(GROUP, VERSION, ns,
                                                                PLURAL))["items"]
            gate = asyncio.Semaphore(16)

            async def release(name: str) -> None:
                async with gate:
                    with contextlib.suppress(ApiException):
                        await custom.patch_namespaced_custom_object(
                            GROUP, VERSION, ns, PLURAL, name, {"metadata": {"finalizers": []}},
                            _content_type="application/merge-patch+json")
            await asyncio.gather(*(release(o["metadata"]["name"]) for o in items))
        core = client.CoreV1Api(api)
        with contextlib.suppress(ApiException):
            await core.delete_namespace(ns)

        async def gone() -> bool:  # its garbage collection must not load the next window
            try:
                await core.read_namespace(ns)
            except ApiException as exc:
                return exc.status == 404
            return False
        with contextlib.suppress(TimeoutError):
            await poll(gone, self.adopt_within, f"namespace {ns} deleted", every=1.0)


@contextlib.contextmanager
def checkout(rev: str) -> Any:
    """PYTHONPATH putting ``rev``'s operator and stream packages first (temporary worktree)."""
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev],
                       check=True, capture_output=True)
        try:
            yield f"{tree / 'operator'}{os.pathsep}{tree / 'stream'}"
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                           check=False, capture_output=True)


async def run(bench: Bench, ns: list[int], baseline: str | None,
              baseline_interval: float = 1.0,
              progress: Callable[[list[Figures]], None] = lambda _: None) -> list[Figures]:
    """Each N: the baseline (if any), then this code; ``progress`` gets the figures so far
    after each measurement (a long run keeps what it measured)."""
    figures: list[Figures] = []
    for n in ns:
        if baseline:
            with checkout(baseline) as path:
                figures.append(await bench.measure(f"baseline {baseline}", n, path,
                                                   baseline_interval))
                progress(figures)
        figures.append(await bench.measure("this", n, None, DEFAULT_INTERVAL))
        progress(figures)
    return figures


def format_ms(values: list[float], q: float) -> str:
    found = percentile(values, q)
    return f"{found:.0f}" if math.isfinite(found) else f"> {REACTION_LIMIT * 1000}"


def render(figures: list[Figures], command: str, note: str) -> str:
    head = ("| code | N | adopt all (s) | API req/s (per rollout) | operator CPU % | RSS MiB "
            "| abort → RollingBack p50 / p99 (ms) | alert → RollingBack p50 / p99 (ms) |")
    rows = [f"| {f.label} | {f.n} | "
            + (f"{f.adopt_s:.1f}" if f.adopted == f.n else
               f"not within {f.adopt_s:.0f} ({f.adopted}/{f.n} adopted)")
            + f" | {f.api_rps:.1f} "
            f"({f.per_rollout_rps:.3f}) | {f.cpu_pct:.1f} | {f.rss_mib:.0f} | "
            f"{format_ms(f.abort_ms, 50)} / {format_ms(f.abort_ms, 99)} | "
            f"{format_ms(f.alert_ms, 50)} / {format_ms(f.alert_ms, 99)} |"
            for f in figures]
    return "\n".join([
        "# Operator scale bench", "",
        f"`{command}` on {platform.machine()}, {os.cpu_count()} cores, kwok control plane "
        "(hack/cluster): N rollouts (replicas 1/1, kwok pods, no Prometheus) in Canary, one "
        "operator process. API req/s is the kube-apiserver's `apiserver_request_total` delta "
        "minus the background before the operator started; CPU is % of one core.", "",
        *([note, ""] if note else []), head, "|" + "---|" * 8, *rows, "",
        *render_adoption_requests(figures), *render_steady_requests(figures)])


def render_adoption_requests(figures: list[Figures], top: int = 20) -> list[str]:
    """Where adoption's API requests went: per rollout, the most frequent verb/resource
    pairs of every client (operator, controller-manager, scheduler, kwok, the bench's
    acker) from operator start to all adopted."""
    if not any(f.adopt_requests for f in figures):
        return []
    lines = ["Requests per rollout during adoption (every client, by verb and resource):", "",
             "| code | N | total | most frequent (per rollout) |",
             "|---|---|---|---|"]
    for f in figures:
        common = ", ".join(f"{kind} {count / f.n:.1f}"
                           for kind, count in f.adopt_requests.most_common(top))
        lines.append(f"| {f.label} | {f.n} | {f.adopt_requests.total() / f.n:.1f} | {common} |")
    return [*lines, ""]


def render_steady_requests(figures: list[Figures], top: int = 8) -> list[str]:
    """Where the steady state's API requests went: per rollout per minute, the most
    frequent verb/resource pairs over the background's (every client's)."""
    if not any(f.steady_rps for f in figures):
        return []
    lines = ["Steady-state requests per rollout per minute over the background (every client, "
             "by verb and resource):", "",
             "| code | N | total | most frequent (per rollout per minute) |", "|---|---|---|---|"]
    for f in figures:
        common = ", ".join(f"{kind} {count * 60 / f.n:.2f}"
                           for kind, count in f.steady_rps.most_common(top))
        lines.append(f"| {f.label} | {f.n} | {f.steady_rps.total() * 60 / f.n:.2f} | "
                     f"{common} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100])
    parser.add_argument("--baseline", help="git revision measured first, side by side")
    parser.add_argument("--baseline-interval", type=float, default=1.0,
                        help="the baseline's HYBRIDSTREAM_OPERATOR_RECONCILE_INTERVAL (its "
                        "default: 1 s before passes became watch-driven)")
    parser.add_argument("--window", type=float, default=30.0, help="steady-state seconds")
    parser.add_argument("--samples", type=int, default=10, help="aborts and alerts per N")
    parser.add_argument("--adopt-within", type=float, default=600.0, help="seconds")
    parser.add_argument("--note", default="", help="a line for the report (machine load)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    up = subprocess.run(["bash", str(REPO / "hack" / "cluster"), "up"], check=True,
                        capture_output=True, text=True).stdout
    info = dict(line.split("=", 1) for line in up.splitlines() if "=" in line)
    kubectl = Path(info["KUBECTL"])
    kubeconfig = Path(info["KUBECONFIG"])
    subprocess.run([str(kubectl), "--kubeconfig", str(kubeconfig), "apply",
                    "-f", str(REPO / "crds" / "hybridstreamrollout.yaml"),
                    "-f", str(REPO / "crds" / "kopf-peering.yaml")], check=True,
                   capture_output=True)
    command = "python bench/bench_operator.py " + shlex.join(sys.argv[1:])

    def progress(figures: list[Figures]) -> None:
        report = render(figures, command, args.note)
        print(report, flush=True)
        if not args.no_write:
            args.output.write_text(report)
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        bench = Bench(kubeconfig, kubectl, args.window, args.samples, Path(tmp),
                      args.adopt_within)
        asyncio.run(run(bench, args.n, args.baseline, args.baseline_interval, progress))


if __name__ == "__main__":
    main()
