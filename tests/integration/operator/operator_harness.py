"""Real pieces for the operator's integration tests: the operator as a separate process
(so it can be SIGKILLed), a pod acker that plays the stream pods' part of the contract
(kwok pods run no code: the test patches ``hybridstream.io/routing-ack`` on Ready pods
after "applying" the published document), and a metrics endpoint the test controls for a
real Prometheus to scrape."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from hybridstream.contract import ACK_ANNOTATION, CONFIGMAP_KEY, REVISION_LABEL, ROLE_LABEL
from hybridstream.routing import RoutingDocument
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from tests.plugins.cluster import Cluster
from tests.plugins.processes import LoggedProcess, free_port
from tests.plugins.waiting import eventually

REPO = Path(__file__).resolve().parents[3]
TOKEN = "test-webhook-token-not-a-secret"
#: Distinctive credential values, searched for in everything the operator writes.
API_KEY = "key-7f3a9c-must-not-leak"
API_SECRET = "secret-91be4d-must-not-leak"


@dataclass
class OperatorProcess:
    """``python -m hybridstream_operator`` watching one namespace (or a few)."""

    namespace: str
    kubeconfig: Path
    workdir: Path
    http_port: int = field(default_factory=free_port)
    liveness_port: int = field(default_factory=free_port)
    process: LoggedProcess | None = None
    starts: int = 0
    standalone: bool = False
    #: None: no --priority flag (the operator derives one from ``pod_name``, as in the chart)
    priority: int | None = 0
    #: ``POD_NAME`` as the chart's downward API sets it; None leaves it unset
    pod_name: str | None = None
    #: further namespaces to serve (one ``-n`` each, as the chart renders them)
    also_serving: tuple[str, ...] = ()
    #: the chart's stream-ack ClusterRole (the chart sets it); None: the default name
    stream_ack_role: str | None = None
    #: further environment, applied last (the bench: the default interval, another checkout)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        self.starts += 1
        env = {"KUBECONFIG": str(self.kubeconfig),
               "HYBRIDSTREAM_OPERATOR_HTTP_HOST": "127.0.0.1",
               "HYBRIDSTREAM_OPERATOR_HTTP_PORT": str(self.http_port),
               "HYBRIDSTREAM_OPERATOR_WEBHOOK_TOKEN": TOKEN,
               # a long resync: timers and watched changes must drive every pass
               "HYBRIDSTREAM_OPERATOR_RECONCILE_INTERVAL": "10",
               "HYBRIDSTREAM_OPERATOR_PEERING_LIFETIME": "6",
               **({"POD_NAME": self.pod_name} if self.pod_name else {}),
               **({"HYBRIDSTREAM_OPERATOR_STREAM_ACK_ROLE": self.stream_ack_role}
                  if self.stream_ack_role else {}),
               **self.extra_env}
        self.process = LoggedProcess(
            [sys.executable, "-m", "hybridstream_operator",
             *(f"--namespace={ns}" for ns in (self.namespace, *self.also_serving)),
             "--liveness", f"http://127.0.0.1:{self.liveness_port}/healthz",
             *([f"--priority={self.priority}"] if self.priority is not None else []),
             *(["--standalone"] if self.standalone else [])],
            self.workdir / "operator.log", env=env)

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers, no graceful anything."""
        assert self.process is not None
        self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def tail(self) -> str:
        return self.process.tail(60) if self.process else ""


class MetricsSource:
    """A real /metrics endpoint on a free loopback port with a gauge the test sets."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.lag = Gauge("test_stream_lag_seconds", "test-controlled value", registry=self.registry)
        #: Feeds only the test's Prometheus alerting rule, never the rollout's own analysis.
        self.silence = Gauge("test_stream_silence_seconds", "test-controlled value",
                             registry=self.registry)
        self.port = free_port()
        self.server, self.thread = start_http_server(self.port, "127.0.0.1", self.registry)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Acker:
    """Plays the stream pods: reads the routing ConfigMap, "applies" it on every Ready pod
    of the roles (``legacy``/``hybrid``) and revisions (``r2``) not frozen, and records each
    distinct document it saw."""

    core: client.CoreV1Api
    namespace: str
    rollout: str
    frozen: set[str] = field(default_factory=set)
    seen: list[RoutingDocument] = field(default_factory=list)

    async def pass_once(self) -> None:
        try:
            cm = await self.core.read_namespaced_config_map(f"{self.rollout}-routing",
                                                            self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        doc = RoutingDocument.parse(cm.data[CONFIGMAP_KEY])
        if not self.seen or self.seen[-1] != doc:
            self.seen.append(doc)
        pods = await self.core.list_namespaced_pod(
            self.namespace, label_selector=f"hybridstream.io/rollout={self.rollout}")
        for pod in pods.items:
            labels = pod.metadata.labels or {}
            role, revision = labels.get(ROLE_LABEL), labels.get(REVISION_LABEL)
            if {role, f"r{revision}"} & self.frozen or pod.metadata.deletion_timestamp:
                continue
            if (pod.metadata.annotations or {}).get(ACK_ANNOTATION) == str(doc.generation):
                continue
            with contextlib.suppress(ApiException):  # the pod may be going away
                await self.core.patch_namespaced_pod(
                    pod.metadata.name, self.namespace,
                    {"metadata": {"annotations": {ACK_ANNOTATION: str(doc.generation)}}})

    async def run(self) -> None:
        while True:
            with contextlib.suppress(ApiException):
                await self.pass_once()
            await asyncio.sleep(0.2)


@dataclass
class Env:
    """The operator's world, as one operator test (or the operator chaos walk) works with
    it: a control plane, a namespace in it, the operator process, an API client."""

    cluster: Cluster
    namespace: str
    api: client.ApiClient
    operator: OperatorProcess

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    async def rollout(self, name: str) -> dict[str, Any]:
        return await self.custom.get_namespaced_custom_object(
            "hybridstream.io", "v1alpha1", self.namespace, "hybridstreamrollouts", name)

    async def status(self, name: str) -> dict[str, Any]:
        return (await self.rollout(name)).get("status") or {}

    async def wait_phase(self, name: str, phase: str, *, within: float = 60,
                         step_index: int | None = None, started: bool = True) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            st = await self.status(name)
            ok = st.get("phase") == phase and (
                step_index is None or st.get("stepIndex") == step_index)
            return st if ok and (not started or st.get("stepStartedAt")) else None
        return await eventually(check, within=within, what=f"{name} in {phase} {step_index}",
                                describe=self.operator.tail)

    async def events(self, name: str) -> list[Any]:
        found = await self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}")
        return found.items

    @contextlib.asynccontextmanager
    async def acking(self, name: str) -> AsyncIterator[Acker]:
        acker = Acker(self.core, self.namespace, name)
        task = asyncio.create_task(acker.run())
        try:
            yield acker
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


#: Steps that never end by themselves: tests move them with intents only.
SLOW = {"canary": {"duration": "10m"}, "parallel": {"duration": "10m"},
        "cutover": [{"percent": 50, "pause": {"duration": "10m"}},
                    {"percent": 100, "pause": {"duration": "10m"}}],
        "production": {"duration": "10m"}}


def rollout_manifest(name: str, prometheus_url: str, **steps: Any) -> dict[str, Any]:
    """A rollout with second-scale steps and one metric on the test's gauge."""
    metric = {"name": "lag", "query": "max(test_stream_lag_seconds)", "condition": "result < 5",
              "action": steps.pop("action", "rollback"), "noData": "inconclusive",
              "inconclusiveLimit": 1000}
    spec_steps = {"canary": {"duration": "2s"}, "parallel": {"duration": "2s"},
                  "cutover": [{"percent": 50, "pause": {"duration": "2s"}},
                              {"percent": 100, "pause": {"duration": "2s"}}],
                  "production": {"duration": "2s"}}
    spec_steps.update(steps)
    return {
        "apiVersion": "hybridstream.io/v1alpha1", "kind": "HybridStreamRollout",
        "metadata": {"name": name},
        "spec": {
            "workload": {"image": "hybridstream:test", "network": "testnet",
                         "credentialsSecret": {"name": "bybit-creds"},
                         "replicas": {"legacy": 1, "hybrid": 1}},
            "steps": spec_steps,
            "analysis": {"prometheus": {"address": prometheus_url, "timeout": "900ms"},
                         "interval": "1s", "metrics": [metric],
                         "alertNames": ["HybridStreamNoEventsCritical"]},
            "rollback": {"scaleDownDelay": "2s"},
        },
    }


async def send_intent(custom: client.CustomObjectsApi, namespace: str, name: str, kind: str,
                      ident: str) -> None:
    """What ``kubectl hsr <kind>`` writes, with a test-chosen id."""
    await custom.patch_namespaced_custom_object(
        "hybridstream.io", "v1alpha1", namespace, "hybridstreamrollouts", name,
        {"metadata": {"annotations": {"hybridstream.io/intent": f"{kind}@{ident}"}}},
        _content_type="application/merge-patch+json")


def _ctrl_c_as_in_a_terminal() -> None:
    """A shell that started the tests in the background (``cmd &``) left SIGINT ignored,
    and every child inherits that: the plugin must see Ctrl-C as a user's terminal sends
    it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def start_plugin(env: Any, *args: str) -> asyncio.subprocess.Process:
    """``kubectl hsr ...`` started as a real subprocess against the cluster (pipes)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hybridstream_operator.plugin", "-n", env.namespace, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env.cluster.env}, preexec_fn=_ctrl_c_as_in_a_terminal)


@contextlib.asynccontextmanager
async def dashboard(env, *args: str) -> AsyncIterator[str]:
    """``kubectl hsr dashboard --port 0`` running; yields its URL (from its first line).
    Its stderr goes to a file (a pipe nobody reads would fill and block it), shown when it
    does not start or does not stop on Ctrl-C."""
    log = env.operator.workdir / f"dashboard-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hybridstream_operator.plugin", "-n", env.namespace,
            "dashboard", "--port", "0", *args, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, env={**os.environ, **env.cluster.env})
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, (line, log.read_text(errors="replace"))
        yield found.group(0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            raise AssertionError("the dashboard did not stop on Ctrl-C within 30 s; its "
                                 f"stderr:\n{log.read_text(errors='replace')[-5000:]}"
                                 ) from None


async def run_plugin(env: Any, *args: str, expect_rc: int = 0) -> str:
    """``kubectl hsr ...`` run to the end; stdout (stderr when it is expected to fail)."""
    proc = await start_plugin(env, *args)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == expect_rc, (proc.returncode, out.decode(), err.decode())
    return (out if expect_rc == 0 else err).decode()


async def scrape_operator(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The operator's /metrics as {(sample name, sorted labels): value}."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as r:
        text = await r.text()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def promote_to(env, name: str, phase: str, index: int | None = None,
                     retired: bool = False) -> dict:
    """Walk a slow rollout forward with ``promote`` intents until it reaches ``phase``
    (one intent at a time: the next only after the operator recorded the previous one)."""
    sent: list[str] = []
    last: dict = {}

    async def check():
        st = last["status"] = await env.status(name)
        here = st.get("phase") == phase and st.get("stepIndex") == index \
            and st.get("stepStartedAt") and (not retired or st.get("legacyRetiredAt"))
        if here:
            return st
        consumed = not sent or st.get("lastIntentId") == sent[-1]
        if consumed and st.get("stepStartedAt") and not st.get("promoteRequested"):
            sent.append(uuid.uuid4().hex)
            await send_intent(env.custom, env.namespace, name, "promote", sent[-1])
        return None
    return await eventually(check, f"{name} promoted to {phase}/{index}", within=90,
                            describe=lambda: f"{last}\n{env.operator.tail()}")
