"""A chaos walk at the operator level: the real operator process (SIGKILL-able) walks a
HybridStreamRollout Canary -> Parallel -> Cutover -> Production on a kwok control plane of
its own (its kube-apiserver gets restarted), and every Running kwok pod of the rollout's
Deployments is played by a real ``hybridstream run`` with that pod's identity and env: it
watches the operator's routing ConfigMap through the kube-apiserver and acks on its pod, as
a real pod does. The walk plays the kubelet (kwok runs no code): it starts a process per
Running pod, stops it when the pod goes, and mirrors the process's ``/readyz`` into the
pod's Ready condition (a readiness probe), so the operator's coverage watchdog sees a killed
or unready process the way it would in a cluster. Hybrid delivers into Redis, legacy into
the webhook; the stream-level faults (``chaos_walk``) apply, plus an operator SIGKILL and a
kube-apiserver restart. Used by ``bench/chaos.py --operator`` and
``test_operator_chaos_short.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from hybridstream.routing import bucket_of
from hybridstream.service.sockets import sleep_unless
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from tests.integration.operator.operator_harness import (
    API_KEY,
    API_SECRET,
    REPO,
    Env,
    MetricsSource,
    OperatorProcess,
    rollout_manifest,
)
from tests.integration.stream.chaos_accounting import (
    FaultRecord,
    OperatorOutcome,
    Sample,
    WalkRecord,
    lost_facts,
    owned_at,
    truth_facts,
)
from tests.integration.stream.chaos_walk import (
    FAST,
    HYBRID,
    LEGACY,
    ChaosWalk,
    Pod,
    WalkConfig,
    chaos_system,
)
from tests.integration.stream.harness import KEY
from tests.integration.stream.processes import build_env
from tests.plugins.cluster import Cluster
from tests.plugins.prometheus import scrape_config, start_prometheus

ROLLOUT = "chaos"
ROLE_LABEL = "hybridstream.io/role"
#: The kubelet's pass: pods started/stopped and readiness mirrored this often.
KUBELET_PERIOD_S = 0.5
#: What a call through a restarting kube-apiserver may raise.
API_ERRORS = (ApiException, aiohttp.ClientError, OSError, TimeoutError)
#: Events of the coverage watchdog: its action's message, and legacy's buckets given back.
WATCHDOG_MESSAGE, WATCHDOG_RESTORED = "had no forwarder for", "CoverageRestored"


@dataclass(frozen=True)
class RolloutPlan:
    """The rollout the walk drives and the bounds of the operator-level faults (s)."""

    canary_s: int = 8
    parallel_s: int = 8
    cutover_s: tuple[int, ...] = (30, 30)  # 50 %, then 100 %
    production_s: int = 8
    coverage_deadline_s: int = 20
    operator_down_s: tuple[float, float] = (1.0, 10.0)
    apiserver_down_s: tuple[float, float] = (2.0, 10.0)
    complete_within_s: float = 180.0

    @classmethod
    def spanning(cls, seconds: float, **bounds: Any) -> RolloutPlan:
        """Steps that together last about ``seconds`` (faults land in every phase)."""
        def share(part: float) -> int:
            return max(5, round(seconds * part))
        return cls(canary_s=share(0.05), parallel_s=share(0.05),
                   cutover_s=(share(0.35), share(0.35)), production_s=share(0.2), **bounds)

    def steps(self) -> dict[str, Any]:
        count = len(self.cutover_s)  # evenly spaced: 50 % and 100 % for two steps
        percents = [round(100 * (i + 1) / count) for i in range(count)]
        return {"canary": {"duration": f"{self.canary_s}s"},
                "parallel": {"duration": f"{self.parallel_s}s"},
                "cutover": [{"percent": p, "pause": {"duration": f"{s}s"}}
                            for p, s in zip(percents, self.cutover_s, strict=True)],
                "production": {"duration": f"{self.production_s}s"},
                "coverageDeadline": f"{self.coverage_deadline_s}s"}

    def expected_history(self) -> list[str]:
        return ["Canary", "Parallel", *(f"Cutover/{i}" for i in range(len(self.cutover_s))),
                "Production"]


#: Stream-level fault bounds at the operator level: every outage that makes a side unready
#: ends well inside the coverage deadline (20 s). A longer one is a rollback (hybrid) or a
#: handover and a pause (legacy) by design: tests/integration/operator/test_operator_coverage.py.
OPERATOR_WALK = WalkConfig(redis_outage_s=(5.0, 12.0), webhook_outage_s=(5.0, 12.0),
                           websocket_outage_s=(3.0, 10.0), stall_s=(3.0, 8.0))


def pod_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or ())


def step_of(status: dict[str, Any]) -> str:
    phase, index = status.get("phase") or "-", status.get("stepIndex")
    return phase if index is None else f"{phase}/{index}"


class OperatorChaosWalk(ChaosWalk):
    """``ChaosWalk`` with the operator deciding the routing and the walk playing kubelet."""

    def __init__(self, *args: Any, control: Env, plan: RolloutPlan,
                 prometheus_url: str,
                 **kwargs: Any) -> None:
        self.control = control
        self.prometheus_url = prometheus_url
        self.plan = plan
        super().__init__(*args, **kwargs)
        self.faults.update({"kill9-operator": self._kill_operator,
                            "apiserver-restart": self._restart_apiserver})
        #: pod -> the symbols its applied routing forwards (last known, also while dead)
        self.forwarding: dict[str, frozenset[str]] = {}
        self.hybrid_owned: list[tuple[float, frozenset[str]]] = [(0.0, frozenset())]
        self.ended: OperatorOutcome | None = None

    def build_pods(self) -> dict[str, Pod]:
        return {}  # the kubelet starts one per Running pod

    # -- the kubelet ------------------------------------------------------------------------
    def shadow(self, pod: client.V1Pod) -> Pod:
        """The process playing ``pod``: the pod's own env (its mode, routing ConfigMap,
        rollout) and identity, pointed at the simulator and this walk's sinks."""
        name, role = pod.metadata.name, pod.metadata.labels[ROLE_LABEL]
        spec = {e.name: e.value for e in pod.spec.containers[0].env if e.value is not None}
        spec.pop("HYBRID_HTTP_PORT", None)  # Pod.start picks a free loopback port
        env = {**spec, **build_env(self.sim, spec["HYBRID_MODE"], **FAST,
                                   **self.sink_env(role, self.workdir / "spill" / name)),
               "POD_NAME": name, "POD_NAMESPACE": pod.metadata.namespace,
               "KUBECONFIG": str(self.control.cluster.kubeconfig)}
        return Pod(name, self.workdir / f"{name}.log", env, role=role)

    async def kubelet_pass(self) -> None:
        core, ns = self.control.core, self.control.namespace
        listed = await core.list_namespaced_pod(
            ns, label_selector=f"hybridstream.io/rollout={ROLLOUT}")
        live = {p.metadata.name: p for p in listed.items
                if not p.metadata.deletion_timestamp and p.status.phase == "Running"}
        for name in [n for n in self.pods if n not in live]:
            gone = self.pods.pop(name)
            self.forwarding.pop(name, None)
            await asyncio.to_thread(gone.stop)  # SIGTERM: it drains, as on pod deletion
        for name, pod in live.items():
            if name not in self.pods:
                self.pods[name] = self.shadow(pod)
                self.pods[name].start()
        for name, pod in live.items():
            ready = await self.pods[name].ready(self.http)
            if ready != pod_ready(pod):
                value = "True" if ready else "False"
                await core.patch_namespaced_pod_status(
                    name, ns, {"status": {"conditions": [
                        {"type": "Ready", "status": value},
                        {"type": "ContainersReady", "status": value}]}},
                    _content_type="application/strategic-merge-patch+json")

    async def kubelet(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(*API_ERRORS):
                await self.kubelet_pass()
            await sleep_unless(stop, KUBELET_PERIOD_S)

    # -- the walk's hooks -------------------------------------------------------------------
    async def begin(self) -> None:
        body = rollout_manifest(ROLLOUT, self.prometheus_url, **self.plan.steps())
        await asyncio.to_thread(self.control.cluster.apply, body,
                                namespace=self.control.namespace)

    def activities(self, stop: asyncio.Event) -> list[Awaitable[None]]:
        return [*super().activities(stop), self.kubelet(stop)]

    async def sample(self) -> Sample:
        """Readiness and the applied routing of every process: a symbol is covered while
        some ready process's routing forwards it."""
        at = time.time() * 1000
        pods = list(self.pods.values())
        states = await asyncio.gather(*(p.probe(self.http) for p in pods))
        ready: dict[str, bool] = {}
        for pod, state in zip(pods, states, strict=True):
            ready[pod.name] = bool(state and state["ready"])
            # generation 0 is the stand-alone document a process starts with, before its
            # ConfigMap is read: its range says nothing about the pod's (the last one stays)
            if state and state["routing"]["generation"] > 0:
                low, high = state["routing"]["forwardLow"], state["routing"]["forwardHigh"]
                self.forwarding[pod.name] = frozenset(
                    s for s in self.symbols if low <= bucket_of(s) < high)
        hybrid = frozenset().union(*(self.forwarding.get(p.name, frozenset()) for p in pods
                                     if p.role == HYBRID))
        if hybrid != self.hybrid_owned[-1][1]:
            self.hybrid_owned.append((at, hybrid))
        forwards = {s: tuple(p.name for p in pods if s in self.forwarding.get(p.name, ()))
                    for s in self.symbols}
        return Sample(at, ready, {p.name: self.sink_down[p.role] for p in pods}, forwards)

    async def forwarding_sides(self) -> set[str]:
        return {p.role for p in self.pods.values() if self.forwarding.get(p.name)}

    async def recovered(self, since_ms: float) -> bool:
        """As at the stream level, and the operator up and seeing every bucket covered."""
        if not self.pods or self.control.operator.process is None \
                or not self.control.operator.process.alive():
            return False
        try:
            status = (await self.control.rollout(ROLLOUT)).get("status") or {}
        except API_ERRORS:
            return False
        if not status.get("routing") or (status.get("coverage") or {}).get("uncoveredBuckets"):
            return False
        return await super().recovered(since_ms)

    async def serving(self) -> str:
        return f"serving: rollout in {await self.where()}, pods {sorted(self.pods)}"

    async def where(self) -> str:
        try:
            return step_of((await self.control.rollout(ROLLOUT)).get("status") or {})
        except API_ERRORS:
            return "?"

    def heal(self) -> None:
        super().heal()
        operator = self.control.operator
        if operator.process is None or not operator.process.alive():
            operator.start()

    def lost_so_far(self, delivered: list[dict[str, Any]]) -> int:
        account = self.sim.engine.accounts[KEY]
        truth = truth_facts(account.executions, account.orders.values(),
                            functools.partial(owned_at, self.hybrid_owned))
        return len(lost_facts(truth, delivered))

    async def finished(self) -> dict[str, Any] | None:
        with contextlib.suppress(*API_ERRORS):
            status = (await self.control.rollout(ROLLOUT)).get("status") or {}
            if status.get("legacyRetiredAt") or status.get("phase") == "RolledBack":
                return status
        return None

    async def conclude(self, progress: Callable[[str], None]) -> None:
        """Let the rollout reach its end (legacy retired, or rolled back), bounded."""
        deadline = time.monotonic() + self.plan.complete_within_s
        while time.monotonic() < deadline:
            if status := await self.finished():
                progress(f"rollout ended in {step_of(status)}")
                break
            await asyncio.sleep(1)
        else:
            progress(f"rollout NOT ended {self.plan.complete_within_s:.0f} s after the last "
                     "fault")
        self.ended = await self.outcome()

    def fill(self, record: WalkRecord) -> None:
        final = self.hybrid_owned[-1][1]
        record.owner_of = {s: HYBRID if s in final else LEGACY for s in self.symbols}
        record.hybrid_owned = list(self.hybrid_owned)
        record.operator = self.ended

    async def outcome(self) -> OperatorOutcome:
        """The rollout's end state and the coverage watchdog's actions (its Events)."""
        status = (await self.control.rollout(ROLLOUT)).get("status") or {}
        events = await self.control.core.list_namespaced_event(
            self.control.namespace, field_selector=f"involvedObject.name={ROLLOUT}")
        watchdog = []
        for event in events.items:
            if WATCHDOG_MESSAGE in (event.message or "") or event.reason == WATCHDOG_RESTORED:
                at = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
                watchdog.append((event.reason, at.timestamp() * 1000, event.message or ""))
        return OperatorOutcome(
            phase=status.get("phase", ""), completed=bool(status.get("legacyRetiredAt")),
            rollbacks=status.get("rollbacks", 0),
            history=[step_of(h) for h in status.get("history", [])],
            watchdog=sorted(watchdog, key=lambda w: w[1]),
            operator_starts=self.control.operator.starts)

    # -- operator-level faults --------------------------------------------------------------
    async def _kill_operator(self, record: FaultRecord) -> None:
        delay = self._span(self.plan.operator_down_s)
        self.control.operator.kill()
        await asyncio.sleep(delay)
        self.control.operator.start()
        record.detail = f"restarted after {delay} s"

    async def _restart_apiserver(self, record: FaultRecord) -> None:
        down = self._span(self.plan.apiserver_down_s)
        await asyncio.to_thread(self.control.cluster.kill_apiserver)
        await asyncio.sleep(down)
        await asyncio.to_thread(self.control.cluster.start_apiserver)
        record.detail = f"SIGKILL, {down} s down"


@contextmanager
def analysis_backend(workdir: Path) -> Iterator[str]:
    """A real Prometheus scraping a gauge held at 0: the rollout's analysis passes."""
    source = MetricsSource()
    source.lag.set(0)
    (workdir / "prometheus").mkdir(parents=True, exist_ok=True)
    server = start_prometheus(workdir / "prometheus", scrape_config([source.target], "1s"))
    try:
        yield server.url
    finally:
        server.stop()
        source.close()


@asynccontextmanager
async def operator_chaos_system(workdir: Path, cluster: Cluster, walk_config: WalkConfig,
                                plan: RolloutPlan, rng: Any) -> AsyncIterator[OperatorChaosWalk]:
    """The operator (standalone: a SIGKILLed replica's peering record would hold its
    successor back for the peering lifetime) in a fresh namespace of ``cluster``, its
    analysis backend, and the stream-level system around an ``OperatorChaosWalk``."""
    namespace = "chaos"
    cluster.kubectl("apply", "-f", str(REPO / "crds" / "hybridstreamrollout.yaml"))
    for _ in range(30):  # on a fresh control plane the CRD may not be listed at once
        if "condition met" in cluster.kubectl(
                "wait", "--for=condition=Established", "--timeout=60s",
                "crd/hybridstreamrollouts.hybridstream.io", check=False, timeout=90):
            break
        await asyncio.sleep(1)
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "bybit-creds",
                    f"--from-literal=api-key={API_KEY}", f"--from-literal=api-secret={API_SECRET}")
    operator = OperatorProcess(namespace, cluster.kubeconfig, workdir, standalone=True)
    with analysis_backend(workdir) as prometheus_url:
        api = await config.new_client_from_config(config_file=str(cluster.kubeconfig))
        operator.start()
        try:
            control = Env(cluster, namespace, api, operator)
            make = functools.partial(OperatorChaosWalk, control=control, plan=plan,
                                     prometheus_url=prometheus_url)
            async with chaos_system(workdir, walk_config, rng, make=make) as walk:
                assert isinstance(walk, OperatorChaosWalk)
                yield walk
        finally:
            operator.stop()
            await api.close()
