"""The ground is real: the kwok control plane runs etcd, kube-apiserver,
kube-controller-manager and kube-scheduler, so CRDs, status subresources, Deployments,
ReplicaSets, Pods and garbage collection behave as in any cluster."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.plugins.cluster import Cluster
from tests.plugins.processes import wait_for

GROUP = "smoke.hybridstream.io"


def smoke_crd(plural: str) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": "Widget" + plural[-4:]},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer", "minimum": 1, "maximum": 10}}},
                        "status": {"type": "object", "properties": {
                            "phase": {"type": "string"}}},
                    },
                }},
            }],
        },
    }


@pytest.fixture
def crd(cluster: Cluster):
    plural = f"widgets{uuid.uuid4().hex[:4]}"
    body = smoke_crd(plural)
    cluster.apply(body)
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{plural}.{GROUP}",
                    "--timeout=60s")
    yield plural, body["spec"]["names"]["kind"]
    cluster.kubectl("delete", "crd", f"{plural}.{GROUP}", "--wait=false", check=False)


def test_custom_resource_with_status_subresource(cluster: Cluster, namespace: str, crd) -> None:
    plural, kind = crd
    obj = {"apiVersion": f"{GROUP}/v1", "kind": kind,
           "metadata": {"name": "w1", "namespace": namespace}, "spec": {"size": 3}}
    cluster.apply(obj)

    # The status subresource is separate: a status write through it sticks...
    cluster.kubectl("patch", plural, "w1", "-n", namespace, "--subresource=status",
                    "--type=merge", "-p", '{"status": {"phase": "Ready"}}')
    got = cluster.get_json(plural, "w1", "-n", namespace)
    assert got["status"] == {"phase": "Ready"}
    # ...and a write of status through the main resource is ignored by the API server.
    cluster.kubectl("patch", plural, "w1", "-n", namespace, "--type=merge",
                    "-p", '{"spec": {"size": 4}, "status": {"phase": "Hacked"}}')
    got = cluster.get_json(plural, "w1", "-n", namespace)
    assert got["spec"]["size"] == 4
    assert got["status"]["phase"] == "Ready"

    # OpenAPI validation is enforced by the server.
    bad = {**obj, "metadata": {"name": "w2", "namespace": namespace}, "spec": {"size": 99}}
    with pytest.raises(subprocess.CalledProcessError) as err:
        cluster.apply(bad)
    assert "spec.size" in err.value.stderr


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "c", "image": "example/none:1"}]}},
        },
    }


def test_deployment_gets_replicaset_and_ready_pods_and_scales(
    cluster: Cluster, namespace: str
) -> None:
    cluster.apply(deployment("web", 2), namespace=namespace)

    def available(n: int):
        def check():
            d = cluster.get_json("deployment", "web", "-n", namespace)
            return d.get("status", {}).get("availableReplicas", 0) == n
        return check

    wait_for(available(2), what="2 available replicas")
    rs = cluster.get_json("replicasets", "-n", namespace, "-l", "app=web")["items"]
    assert len(rs) == 1
    assert rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    pods = cluster.get_json("pods", "-n", namespace, "-l", "app=web")["items"]
    assert len(pods) == 2
    for pod in pods:
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True"
        assert pod["spec"]["nodeName"].startswith("node-")  # the real scheduler bound it

    cluster.kubectl("scale", "deployment/web", "-n", namespace, "--replicas=4")
    wait_for(available(4), what="4 available replicas after scale up")
    cluster.kubectl("scale", "deployment/web", "-n", namespace, "--replicas=1")
    wait_for(available(1), what="1 available replica after scale down")
    wait_for(lambda: len(cluster.get_json("pods", "-n", namespace, "-l", "app=web")["items"]) == 1,
             what="pods scaled down to 1")


def test_garbage_collection_removes_children(cluster: Cluster, namespace: str) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "owner"}, "data": {"a": "1"}}, namespace=namespace)
    owner = cluster.get_json("configmap", "owner", "-n", namespace)
    cluster.apply({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "child", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
            "uid": owner["metadata"]["uid"]}]},
        "data": {"b": "2"},
    }, namespace=namespace)
    assert cluster.get_json("configmap", "child", "-n", namespace)["data"] == {"b": "2"}

    cluster.kubectl("delete", "configmap", "owner", "-n", namespace)

    def child_gone() -> bool:
        out = cluster.kubectl("get", "configmap", "child", "-n", namespace, check=False)
        return "NotFound" in out

    wait_for(child_gone, what="garbage collector deleting the child")
