"""The routing ConfigMap is WATCHED through a real kube-apiserver (kwok control plane) and
each applied generation is acknowledged on the stream's own Pod annotation, which is what
the operator gates the handover on (docs/CONTRACTS.md). The watch never waits for ever:
each lasts a minute, then the pod lists again (a request's own bound:
test_kube_client.py)."""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict

import pytest
from hybridstream.contract import ACK_ANNOTATION, CONFIGMAP_KEY
from hybridstream.kubeconfig import build_api_client
from hybridstream.routing import RoutingDocument
from hybridstream.service.routing_source import watch_routing_configmap
from hybridstream.simulator.app import running_simulator

from tests.plugins.cluster import Cluster, dedicated_cluster
from tests.plugins.waiting import eventually

from .harness import build_settings, running_stream
from .journal_checks import trade

CONFIGMAP = "demo-routing"
POD = "stream-hybrid-0"


def configmap(doc: RoutingDocument) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIGMAP},
            "data": {CONFIGMAP_KEY: doc.to_json()}}


def pod() -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD},
            "spec": {"containers": [{"name": "stream", "image": "hybridstream:test"}]}}


def ack_of(cluster: Cluster, namespace: str) -> str | None:
    meta = cluster.get_json("pod", POD, "-n", namespace)["metadata"]
    return (meta.get("annotations") or {}).get(ACK_ANNOTATION)


async def test_configmap_watch_switches_mode_live_and_acks_on_the_pod(
        cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    cluster.apply(pod(), namespace=namespace)
    cluster.apply(configmap(RoutingDocument(generation=1, hybridMode="canary")),
                  namespace=namespace)
    async with running_simulator(symbols=3) as sim:
        settings = build_settings(sim, HYBRID_MODE="canary", HYBRID_ROUTING_CONFIGMAP=CONFIGMAP,
                                  POD_NAME=POD, POD_NAMESPACE=namespace)
        async with running_stream(settings) as (service, _):
            await eventually(lambda: service.pipeline.doc.generation == 1, "generation 1")
            await eventually(lambda: ack_of(cluster, namespace) == "1", "ack 1 on the pod")
            cluster.apply(configmap(RoutingDocument(generation=2, hybridMode="cutover",
                                                    hybridHigh=35, legacyLow=5)),
                          namespace=namespace)
            await eventually(lambda: service.pipeline.doc.generation == 2, "generation 2")
            assert service.hybrid is not None and service.hybrid.mode.value == "cutover"
            await eventually(lambda: ack_of(cluster, namespace) == "2", "ack 2 on the pod")
            assert service.acked_generation == 2
            status = service.status()["routing"]
            assert (status["forwardLow"], status["forwardHigh"]) == (0, 35)
            # A gapped document is refused; the last valid one stays in force.
            cluster.kubectl("patch", "configmap", CONFIGMAP, "-n", namespace, "--type=merge",
                            "-p", json.dumps({"data": {CONFIGMAP_KEY: json.dumps(
                                {"generation": 3, "hybridMode": "canary", "legacyLow": 50})}}))
            cluster.apply(configmap(RoutingDocument(generation=4, hybridMode="production",
                                                    hybridHigh=100)), namespace=namespace)
            await eventually(lambda: service.pipeline.doc.generation == 4, "generation 4")
            await eventually(lambda: ack_of(cluster, namespace) == "4", "ack 4 on the pod")
            assert service.hybrid.mode.value == "production"


async def test_the_watch_survives_a_kube_apiserver_crash(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILLed mid-watch, the kube-apiserver cuts the chunked response (aiohttp's
    ClientPayloadError): the watch re-lists once it is back, so a document published after
    the restart is applied and acked (found by the operator-level chaos suite, where it
    stalled a rollout for good). Its own control plane: the shared one is not restarted."""
    with dedicated_cluster(f"hs-watch-{os.getpid()}") as cluster:
        monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        cluster.apply(pod(), namespace="default")
        cluster.apply(configmap(RoutingDocument(generation=1, hybridMode="canary")),
                      namespace="default")
        async with running_simulator(symbols=3) as sim:
            settings = build_settings(sim, HYBRID_MODE="canary",
                                      HYBRID_ROUTING_CONFIGMAP=CONFIGMAP, POD_NAME=POD,
                                      POD_NAMESPACE="default")
            async with running_stream(settings) as (service, _):
                await eventually(lambda: ack_of(cluster, "default") == "1", "ack 1 on the pod")
                await asyncio.to_thread(cluster.kill_apiserver)
                await asyncio.sleep(1)
                await asyncio.to_thread(cluster.start_apiserver)
                cluster.apply(configmap(RoutingDocument(generation=2, hybridMode="cutover",
                                                        hybridHigh=50, legacyLow=50)),
                              namespace="default")
                await eventually(lambda: service.pipeline.doc.generation == 2, "generation 2")
                await eventually(lambda: ack_of(cluster, "default") == "2", "ack 2 on the pod")


async def test_a_restarted_hybrid_pod_delivers_the_fills_of_its_downtime(
        cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fills made while no hybrid process ran (a pod restarting mid-Cutover) come back
    through its one-minute look-back, forwarded under the routing ConfigMap's document, not
    the stand-alone one a process starts with (which forwards nothing for hybrid): the
    hybrid side waits for its first document, here read a while after the start (found by
    the operator-level chaos suite: a look-back that won the race against the ConfigMap
    read dropped the downtime's fills)."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    cluster.apply(pod(), namespace=namespace)
    async with running_simulator(symbols=3) as sim:
        placed: dict[str, list[str]] = defaultdict(list)
        trade(sim, placed, sorted(sim.market.instruments), 6)  # the "downtime"
        wanted = {oid for ids in placed.values() for oid in ids}
        settings = build_settings(sim, HYBRID_MODE="canary", HYBRID_ROUTING_CONFIGMAP=CONFIGMAP,
                                  POD_NAME=POD, POD_NAMESPACE=namespace)
        async with running_stream(settings) as (service, buffer):
            await asyncio.sleep(1.5)  # the document is not readable yet
            cluster.apply(configmap(RoutingDocument(generation=3, hybridMode="cutover",
                                                    hybridHigh=100, legacyLow=100)),
                          namespace=namespace)

            def executions() -> set[str]:
                return {e["data"]["orderId"] for e in buffer.events()
                        if e["type"] == "execution"}
            await eventually(lambda: service.pipeline.doc.generation == 3, "generation 3")
            await eventually(lambda: wanted <= executions(), "the downtime's fills delivered",
                             within=15)


async def test_a_document_whose_apply_failed_is_applied_on_the_next_list(
        cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception while applying a document (a bug) does not end the watcher, which would
    leave the pod on its old generation for the rest of its life, unacknowledged: the cycle
    is logged and the ConfigMap listed again, so the document is applied after all. The
    lists that follow every watch (1 s here) apply nothing already applied."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    cluster.apply(configmap(RoutingDocument(generation=1, hybridMode="canary")),
                  namespace=namespace)
    applied: list[int] = []
    failures = {2: 1}  # generation 2 fails once

    def apply(doc: RoutingDocument) -> None:
        if failures.get(doc.generation, 0):
            failures[doc.generation] -= 1
            raise RuntimeError(f"applying generation {doc.generation} failed")
        applied.append(doc.generation)

    api, _ = await build_api_client()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_routing_configmap(api, namespace, CONFIGMAP, apply,
                                                          stop, watch_seconds=1))
    try:
        await eventually(lambda: applied == [1], "generation 1 applied")
        cluster.apply(configmap(RoutingDocument(generation=2, hybridMode="parallel")),
                      namespace=namespace)
        await eventually(lambda: applied[-1:] == [2], "generation 2 applied after its failure")
        assert failures == {2: 0}
        await asyncio.sleep(3)  # three more list + watch cycles
        assert applied == [1, 2]
        assert not watcher.done()
    finally:
        stop.set()
        watcher.cancel()
        await api.close()
