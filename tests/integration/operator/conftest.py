"""Fixtures of the operator's integration tests: CRDs on the real control plane, a real
Prometheus scraping a metrics endpoint the test controls, the operator process, an acker,
and a kubernetes_asyncio client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config
from operator_harness import (
    API_KEY,
    API_SECRET,
    REPO,
    Acker,
    MetricsSource,
    OperatorProcess,
    wait_until,
)

from tests.plugins.prometheus import scrape_config


@pytest.fixture(scope="session")
def operator_crds(cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "crds" / "hybridstreamrollout.yaml"),
                    "-f", str(REPO / "crds" / "kopf-peering.yaml"))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    "crd/hybridstreamrollouts.hybridstream.io", "crd/kopfpeerings.kopf.dev")


@pytest.fixture
def metrics_source() -> Iterator[MetricsSource]:
    source = MetricsSource()
    yield source
    source.close()


@pytest.fixture
def prometheus(prometheus_factory, metrics_source):
    server = prometheus_factory(scrape_config([metrics_source.target], "1s"))
    metrics_source.lag.set(0)
    return server


@pytest.fixture
async def kube(cluster) -> AsyncIterator[client.ApiClient]:
    api = await config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield api
    await api.close()


@dataclass
class Env:
    """Everything one operator test works with."""

    cluster: Any
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
        return await wait_until(check, within=within, what=f"{name} in {phase} {step_index}",
                                diagnostics=self.operator.tail)

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


@pytest.fixture
async def env(cluster, operator_crds, namespace, kube, tmp_path: Path) -> AsyncIterator[Env]:
    cluster.apply({"apiVersion": "kopf.dev/v1", "kind": "KopfPeering",
                   "metadata": {"name": "hybridstream-operator"}}, namespace=namespace)
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "bybit-creds",
                    f"--from-literal=api-key={API_KEY}", f"--from-literal=api-secret={API_SECRET}")
    op = OperatorProcess(namespace, cluster.kubeconfig, tmp_path)
    op.start()
    yield Env(cluster, namespace, kube, op)
    # Delete the rollouts while the operator still runs so it releases its finalizer;
    # if it cannot (killed, stopped), drop the finalizer so the namespace can go.
    cluster.kubectl("-n", namespace, "delete", "hybridstreamrollouts", "--all",
                    "--timeout=20s", check=False, timeout=40)
    op.stop()
    for name in cluster.kubectl("-n", namespace, "get", "hybridstreamrollouts", "-o",
                                "name", check=False).split():
        cluster.kubectl("-n", namespace, "patch", name, "--type=merge", "-p",
                        '{"metadata":{"finalizers":[]}}', check=False)
