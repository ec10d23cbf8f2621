"""The chart against a real API server (kwok control plane, RBAC authorization on):
every rendered object passes server-side validation, including the monitoring objects
against prometheus-operator's real CRD schemas; ``helm install`` / ``upgrade`` /
``uninstall`` work; and the installed RBAC lets the operator's ServiceAccount do exactly
what it needs (including creating the stream pods' Role, which RBAC escalation prevention
only allows when the operator holds every granted verb) and nothing more; a stream pod can
acknowledge routing on its own pod and touch nothing else."""

from __future__ import annotations

import base64
import os
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from hybridstream_operator.logic.builders import Owner, build_rbac

from tests.integration.charts.helm import ALL_FEATURES, CHART, REPO, Helm
from tests.integration.operator.operator_harness import (
    TOKEN,
    OperatorProcess,
    rollout_manifest,
)
from tests.plugins.cluster import Cluster
from tests.plugins.waiting import eventually

MONITORING_KINDS = ("servicemonitors", "podmonitors", "prometheusrules")


def apply_crd_files(cluster: Cluster, files: list[Path]) -> None:
    """Server-side apply (prometheus-operator's CRDs exceed the client-side annotation
    limit) and wait until the API serves them."""
    for path in files:
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                                f"crd/{doc['metadata']['name']}")


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> Cluster:
    """The chart's CRDs and the prometheus-operator CRDs the optional objects need."""
    out = subprocess.run(["bash", str(REPO / "hack" / "monitoring-crds.sh")],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    monitoring = Path(dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
                      ["MONITORING_CRDS"])
    apply_crd_files(cluster, sorted((CHART / "crds").glob("*.yaml")))
    apply_crd_files(cluster, [monitoring / f"monitoring.coreos.com_{k}.yaml"
                              for k in MONITORING_KINDS])
    return cluster


@pytest.fixture
def extra_namespaces(cluster: Cluster) -> Iterator[list[str]]:
    names = [f"t-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        cluster.kubectl("create", "namespace", name)
    yield names
    for name in names:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def render(helm: Helm, release: str, namespace: str, values: dict[str, Any]) -> str:
    return helm.template_text(values, release=release, namespace=namespace).stdout


def server_dry_run(cluster: Cluster, manifest: str) -> list[str]:
    out = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=manifest)
    return [line for line in out.splitlines() if line.strip()]


def test_every_rendered_object_passes_server_validation(crds: Cluster, helm: Helm,
                                                        namespace: str,
                                                        extra_namespaces: list[str]) -> None:
    release = f"hs-{uuid.uuid4().hex[:6]}"
    values = {**ALL_FEATURES, "watch": {"namespaces": extra_namespaces}}
    manifest = render(helm, release, namespace, values)
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    kinds = {d["kind"] for d in docs}
    assert {"PrometheusRule", "ServiceMonitor", "PodMonitor", "KopfPeering", "Role"} <= kinds
    lines = server_dry_run(crds, manifest)
    assert len(lines) == len(docs), lines
    assert all(line.endswith("(server dry run)") for line in lines), lines


def test_cluster_wide_rendering_passes_server_validation(crds: Cluster, helm: Helm,
                                                         namespace: str) -> None:
    release = f"hs-{uuid.uuid4().hex[:6]}"
    values = {**ALL_FEATURES, "watch": {"allNamespaces": True}}
    manifest = render(helm, release, namespace, values)
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    assert "ClusterKopfPeering" in {d["kind"] for d in docs}
    lines = server_dry_run(crds, manifest)
    assert len(lines) == len(docs) and all("(server dry run)" in line for line in lines)


def test_server_validation_can_fail(crds: Cluster, helm: Helm, namespace: str) -> None:
    """The check above is not vacuous: the real PrometheusRule schema rejects a bad field."""
    manifest = render(helm, "hs-bad", namespace, ALL_FEATURES)
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    out = crds.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(rule),
                       check=False)
    assert "Invalid value" in out and "for" in out, out


@dataclass(frozen=True)
class HelmOnCluster:
    """helm pointed at the kwok cluster (own config/cache dirs), plus the cluster."""

    helm: Helm
    cluster: Cluster
    env: dict[str, str]

    def run(self, *args: str) -> str:
        return self.helm.run(*args, env=self.env).stdout


@pytest.fixture
def helm_on_cluster(crds: Cluster, helm: Helm, tmp_path: Path) -> HelmOnCluster:
    env = {**os.environ, "KUBECONFIG": str(crds.kubeconfig),
           "HELM_CACHE_HOME": str(tmp_path / "cache"),
           "HELM_CONFIG_HOME": str(tmp_path / "config"),
           "HELM_DATA_HOME": str(tmp_path / "data")}
    return HelmOnCluster(helm, crds, env)


def can_i(cluster: Cluster, sa: str, verb: str, resource: str, namespace: str) -> bool:
    out = cluster.kubectl("auth", "can-i", verb, resource, "-n", namespace, f"--as={sa}",
                          check=False)
    return out.strip() == "yes"


def apply_as(cluster: Cluster, user: str, manifest: str, within: float = 30) -> str:
    """Server-side apply as ``user``; a transient API error (the shared control plane under
    load) is retried until ``within`` s, a refusal (forbidden) is returned at once."""
    deadline = time.monotonic() + within
    while True:
        out = cluster.kubectl("apply", "--server-side", f"--as={user}", "-f", "-",
                              input=manifest, check=False)
        if "serverside-applied" in out or "forbidden" in out or time.monotonic() > deadline:
            return out
        time.sleep(1)


def test_install_rbac_upgrade_uninstall(helm_on_cluster: HelmOnCluster, namespace: str,
                                        extra_namespaces: list[str], tmp_path: Path) -> None:
    h, crds = helm_on_cluster, helm_on_cluster.cluster
    release = f"hs-{uuid.uuid4().hex[:6]}"
    fullname = f"{release}-hybridstream-operator"
    values_file = tmp_path / "values.yaml"
    values = {**ALL_FEATURES, "watch": {"namespaces": [extra_namespaces[0]]}}
    values_file.write_text(yaml.safe_dump(values))
    installed = h.run("install", release, str(CHART), "-n", namespace, "-f", str(values_file),
                      "--wait", "--timeout", "180s")
    assert f"{fullname}.{namespace}.svc:8080/api/v1/alertmanager" in installed
    # The rollout NOTES.txt shows is accepted by the real CRD (schema and CEL rules).
    example = textwrap.dedent(installed.split("rollout.yaml:\n", 1)[1].split("   then:", 1)[0])
    assert yaml.safe_load(example)["kind"] == "HybridStreamRollout"
    accepted = crds.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                            input=example)
    assert "hybridstreamrollout.hybridstream.io/bybit created (server dry run)" in accepted

    deployment = crds.get_json("deployment", fullname, "-n", namespace)
    assert deployment["status"].get("availableReplicas") == 2  # kwok runs the pods
    secret = crds.get_json("secret", f"{fullname}-webhook", "-n", namespace)
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert len(token) == 32
    for served in (namespace, extra_namespaces[0]):
        crds.get_json("kopfpeering", "hybridstream-operator", "-n", served)

    sa = f"system:serviceaccount:{namespace}:{fullname}"
    for served in (namespace, extra_namespaces[0]):
        for verb, resource in (("watch", "hybridstreamrollouts.hybridstream.io"),
                               ("patch", "hybridstreamrollouts.hybridstream.io/status"),
                               ("create", "deployments.apps"), ("patch", "configmaps"),
                               ("create", "roles.rbac.authorization.k8s.io"),
                               ("list", "pods"), ("watch", "pods"),
                               ("watch", "deployments.apps"), ("watch", "configmaps"),
                               ("create", "events"),
                               ("patch", "kopfpeerings.kopf.dev")):
            assert can_i(crds, sa, verb, resource, served), (verb, resource, served)
        assert can_i(crds, sa, "get", "secrets/prom-creds", served)  # rbac.prometheusSecretNames
        for verb, resource in (("get", "secrets"), ("get", "secrets/bybit-creds"),
                               ("list", "secrets"), ("delete", "services"),
                               ("create", "pods"), ("patch", "pods"), ("get", "pods"),
                               ("escalate", "roles.rbac.authorization.k8s.io")):
            assert not can_i(crds, sa, verb, resource, served), (verb, resource, served)
    # Not served: nothing but the read-only cluster-wide lookups (kopf's CRD and namespace
    # scan); not even listing rollouts, although two namespaces are served.
    unserved = extra_namespaces[1]
    assert not can_i(crds, sa, "create", "deployments.apps", unserved)
    assert not can_i(crds, sa, "watch", "hybridstreamrollouts.hybridstream.io", unserved)
    assert not can_i(crds, sa, "list", "hybridstreamrollouts.hybridstream.io", unserved)

    # As the operator: create the stream pods' ServiceAccount/Role/RoleBinding exactly as its
    # builders do. The API server refuses a Role granting verbs its creator lacks.
    # A real owner: objects owned by a missing uid would be garbage-collected under us.
    crds.apply(rollout_manifest("demo", "http://127.0.0.1:1"), namespace=extra_namespaces[0])
    demo = crds.get_json("hsr", "demo", "-n", extra_namespaces[0])
    owner = Owner(name="demo", namespace=extra_namespaces[0], uid=demo["metadata"]["uid"])
    ack_role = f"{fullname}-stream-ack"
    stream_rbac = yaml.safe_dump_all(build_rbac(owner, ack_role))
    created = apply_as(crds, sa, stream_rbac)
    assert created.count("serverside-applied") == 4, created
    refused = crds.kubectl("apply", "--server-side", f"--as={sa}", "-f", "-", check=False,
                           input=stream_rbac.replace("- watch", "- delete"))
    assert "forbidden" in refused and "not currently held" in refused, refused
    # it may bind the stream-ack ClusterRole and no other
    refused = crds.kubectl("apply", "--server-side", f"--as={sa}", "-f", "-", check=False,
                           input=stream_rbac.replace(ack_role, "cluster-admin"))
    assert "forbidden" in refused, refused
    assert_stream_pods_ack_only_their_own_pod(crds, extra_namespaces[0], tmp_path)

    values["operator"] = {"verbose": False}
    values_file.write_text(yaml.safe_dump(values))
    h.run("upgrade", release, str(CHART), "-n", namespace, "-f", str(values_file),
          "--wait", "--timeout", "180s")
    deployment = crds.get_json("deployment", fullname, "-n", namespace)
    assert "--verbose" not in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    secret = crds.get_json("secret", f"{fullname}-webhook", "-n", namespace)
    assert base64.b64decode(secret["data"]["token"]).decode() == token, "token rotated"

    h.run("uninstall", release, "-n", namespace, "--wait", "--timeout", "120s")
    assert "NotFound" in crds.kubectl("get", "clusterrole", fullname, check=False)
    assert "NotFound" in crds.kubectl("get", "deployment", fullname, "-n", namespace,
                                      check=False)
    # CRDs from crds/ stay (Helm never deletes them: deleting would delete every rollout).
    crds.get_json("crd", "hybridstreamrollouts.hybridstream.io")


def assert_stream_pods_ack_only_their_own_pod(cluster: Cluster, namespace: str,
                                              workdir: Path) -> None:
    """With the stream ServiceAccount's token bound to its pod (what the kubelet mounts),
    the pod writes its own routing ack and nothing else: not another pod's ack, not its
    own labels (the chart's ValidatingAdmissionPolicy, enforced by the real API server)."""
    pods = [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": pod, "labels": {"hybridstream.io/rollout": "demo"}},
             "spec": {"serviceAccountName": "demo-stream",
                      "containers": [{"name": "stream", "image": "stream"}]}}
            for pod in ("demo-hybrid-a", "demo-hybrid-b")]
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(pods))
    own = service_account_kubeconfig(cluster, namespace, "demo-stream",
                                      workdir / "stream-a.kubeconfig", bound_pod="demo-hybrid-a")

    def patch(pod: str, body: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(cluster.kubectl_bin), "--kubeconfig", str(own), "-n", namespace, "patch",
             "pod", pod, "--type=merge", "-p", body], capture_output=True, text=True,
            timeout=60, check=False)

    ack = '{"metadata":{"annotations":{"hybridstream.io/routing-ack":"%d"}}}'
    assert patch("demo-hybrid-a", ack % 1).returncode == 0
    # the policy is loaded asynchronously after install: wait until it denies
    deadline = time.monotonic() + 60
    while (forged := patch("demo-hybrid-b", ack % 99)).returncode == 0:
        assert time.monotonic() < deadline, "the admission policy never denied a forged ack"
        time.sleep(1)
    assert "a stream pod may write its own pod only" in forged.stderr, forged.stderr
    relabel = patch("demo-hybrid-a", '{"metadata":{"labels":{"hybridstream.io/rollout":"x"}}}')
    assert "routing-ack annotation only" in relabel.stderr, relabel.stderr
    assert patch("demo-hybrid-a", ack % 2).returncode == 0  # its own ack still works
    annotations = {p: (cluster.get_json("pod", p, "-n", namespace)["metadata"]
                       .get("annotations") or {}).get("hybridstream.io/routing-ack")
                   for p in ("demo-hybrid-a", "demo-hybrid-b")}
    assert annotations == {"demo-hybrid-a": "2", "demo-hybrid-b": None}, annotations


def service_account_kubeconfig(cluster: Cluster, namespace: str, sa: str, path: Path,
                               bound_pod: str | None = None) -> Path:
    """The admin kubeconfig's server and CA with a short-lived token of ``sa`` (TokenRequest
    API, bound to ``bound_pod`` as the kubelet's are): a client that holds exactly the
    ServiceAccount's permissions."""
    bound = []
    if bound_pod:
        uid = cluster.get_json("pod", bound_pod, "-n", namespace)["metadata"]["uid"]
        bound = ["--bound-object-kind=Pod", f"--bound-object-name={bound_pod}",
                 f"--bound-object-uid={uid}"]
    token = cluster.kubectl("create", "token", sa, "-n", namespace, "--duration=30m",
                            *bound).strip()
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    user = config["contexts"][0]["context"]["user"]
    config["users"] = [{"name": user, "user": {"token": token}}]
    path.write_text(yaml.safe_dump(config))
    return path


async def test_the_operator_works_with_the_charts_rbac(helm_on_cluster: HelmOnCluster,
                                                       namespace: str,
                                                       extra_namespaces: list[str],
                                                       tmp_path: Path) -> None:
    """The real operator, authenticated as the chart's ServiceAccount and serving two
    namespaces as the chart renders them, reconciles a rollout and acts on an Alertmanager
    alert: the webhook lists rollouts per served namespace (its Roles), no cluster-wide list."""
    h, crds = helm_on_cluster, helm_on_cluster.cluster
    release = f"hs-{uuid.uuid4().hex[:6]}"
    fullname = f"{release}-hybridstream-operator"
    served = extra_namespaces[0]
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump({"watch": {"namespaces": [served]}}))
    h.run("install", release, str(CHART), "-n", namespace, "-f", str(values_file))
    kubeconfig = service_account_kubeconfig(crds, namespace, fullname, tmp_path / "sa.yaml")
    operator = OperatorProcess(namespace, kubeconfig, tmp_path, standalone=True,
                               also_serving=(served,), stream_ack_role=f"{fullname}-stream-ack")
    operator.start()
    manifest = rollout_manifest("hooked", "http://127.0.0.1:1")
    crds.apply(manifest, namespace=served)
    alert = {"status": "firing", "fingerprint": "f1",
             "labels": {"alertname": "HybridStreamNoEventsCritical", "namespace": served,
                        "rollout": "hooked"}}
    try:
        async def reconciled():
            st = crds.get_json("hybridstreamrollout", "hooked", "-n", served).get("status")
            return (st or {}).get("phase")
        await eventually(reconciled, within=60, what="the rollout reconciled",
                         describe=operator.tail)

        async def acted():
            alert["startsAt"] = datetime.now(UTC).isoformat()  # during the walk
            async with aiohttp.ClientSession() as http, http.post(
                    f"{operator.url}/api/v1/alertmanager", json={"alerts": [alert]},
                    headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                return resp.status == 200 and (await resp.json())["acted"]
        assert await eventually(acted, within=30, what="the webhook to act",
                                describe=operator.tail) == [f"{served}/hooked"]

        async def rolled_back():
            st = crds.get_json("hybridstreamrollout", "hooked", "-n", served).get("status")
            return (st or {}).get("phase") in ("RollingBack", "RolledBack")
        await eventually(rolled_back, within=60, what="the alert to roll back",
                         describe=operator.tail)
        assert "Forbidden" not in operator.process.log.read_text()
    finally:
        crds.kubectl("-n", served, "delete", "hybridstreamrollout", "hooked", "--timeout=20s",
                     check=False, timeout=40)
        operator.stop()
        crds.kubectl("-n", served, "patch", "hybridstreamrollout", "hooked", "--type=merge",
                     "-p", '{"metadata":{"finalizers":[]}}', check=False)
        h.run("uninstall", release, "-n", namespace, "--wait", "--timeout", "120s")
