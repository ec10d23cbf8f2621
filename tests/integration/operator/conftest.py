"""Fixtures of the operator's integration tests: CRDs on the real control plane, a real
Prometheus scraping a metrics endpoint the test controls, the operator process, an acker,
and a kubernetes_asyncio client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config
from operator_harness import API_KEY, API_SECRET, REPO, Env, MetricsSource, OperatorProcess

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
