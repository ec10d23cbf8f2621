"""The chart renders what an operator deployment must be: helm lint --strict passes, the
operator pod is locked down (non-root, read-only root, no capabilities, RuntimeDefault
seccomp, Recreate), RBAC is least-privilege without wildcards yet sufficient for the stream
pods' Role (escalation prevention), and values.schema.json rejects bad values."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hybridstream_operator.cli import PRIORITY_ENV, build_parser
from hybridstream_operator.models.config import OperatorSettings

from tests.integration.charts.helm import (
    ALL_FEATURES,
    CHART,
    NAMESPACE,
    RELEASE,
    Helm,
    by_kind,
    one,
)

#: What the operator grants the stream pods' Role (docs/CONTRACTS.md): it must hold every
#: one of these verbs itself or the API server refuses to create that Role. Their ack right
#: (pods get/patch) comes from the chart's stream-ack ClusterRole, which it only binds.
STREAM_POD_NEEDS = {("", "configmaps"): {"get", "list", "watch"}}
FULLNAME = f"{RELEASE}-hybridstream-operator"
STREAM_ACK = f"{FULLNAME}-stream-ack"


def operator_cluster_role(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator's own ClusterRole (not the stream pods' stream-ack one)."""
    (role,) = [d for d in by_kind(docs, "ClusterRole") if d["metadata"]["name"] == FULLNAME]
    return role
ALL_NAMESPACES = {"watch": {"allNamespaces": True}, "peering": {"enabled": True}}


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (c,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return c


def granted(rules: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs, merged over all rules."""
    out: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_lint_strict_default_and_all_features(helm: Helm, tmp_path) -> None:
    helm.run("lint", "--strict", str(CHART))
    values = tmp_path / "all.json"
    values.write_text(json.dumps(ALL_FEATURES))
    helm.run("lint", "--strict", str(CHART), "-f", str(values))


def test_default_render_has_exactly_the_core_objects(default_docs) -> None:
    kinds = sorted(d["kind"] for d in default_docs)
    assert kinds == sorted(["ServiceAccount", "Secret", "ClusterRole", "ClusterRoleBinding",
                            "Role", "RoleBinding", "Deployment", "Service",
                            # the stream pods' ack right and its admission policy
                            "ClusterRole", "ValidatingAdmissionPolicy",
                            "ValidatingAdmissionPolicyBinding"])
    for doc in default_docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        if doc["kind"] not in ("ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy",
                               "ValidatingAdmissionPolicyBinding"):
            assert doc["metadata"]["namespace"] == NAMESPACE


@pytest.mark.parametrize("docs_fixture", ["default_docs", "full_docs"])
def test_operator_pod_is_locked_down(docs_fixture: str, request) -> None:
    docs = request.getfixturevalue(docs_fixture)
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(docs)
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in sc
    # A read-only root needs a writable /tmp, and it must be an emptyDir, not a host path.
    (mount,) = c["volumeMounts"]
    (volume,) = pod["volumes"]
    assert mount == {"name": volume["name"], "mountPath": "/tmp"} and "emptyDir" in volume
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    # The liveness probe hits kopf's liveness endpoint on the port the args configure, and
    # the operator's HTTP server (metrics, webhook) listens where the env says.
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    probe = c["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "health"}
    assert f"--liveness=http://0.0.0.0:{ports['health']}/healthz" in c["args"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HYBRIDSTREAM_OPERATOR_HTTP_PORT"] == str(ports["http"])
    assert ports["http"] != ports["health"]


def test_default_image_and_standalone_single_namespace(default_docs) -> None:
    deployment = one(default_docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    c = container(default_docs)
    assert c["image"] == "hybridstream:0.1.0"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["command"] == ["hybridstream-operator"]
    assert "--standalone" in c["args"]
    assert [a for a in c["args"] if a.startswith("--namespace")] == [f"--namespace={NAMESPACE}"]
    assert not any(a.startswith("--peering") for a in c["args"])
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    assert "prometheus.io/scrape" not in annotations


def test_webhook_token_comes_from_the_rendered_secret(default_docs) -> None:
    env = {e["name"]: e for e in container(default_docs)["env"]}
    ref = env["HYBRIDSTREAM_OPERATOR_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"]
    secret = one(default_docs, "Secret")
    assert secret["metadata"]["name"] == ref["name"]
    token = base64.b64decode(secret["data"][ref["key"]]).decode()
    assert len(token) == 32 and token.isalnum()
    # The token never appears in plain text anywhere in the pod spec.
    assert token not in json.dumps(one(default_docs, "Deployment"))
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_replicas_derive_their_peering_priorities_from_their_pod_names(full_docs) -> None:
    """With several replicas, each operator derives its kopf peering priority from
    ``POD_NAME`` (cli.py / logic/peering.py): the chart must pass it from the downward API
    and must not set one priority for every replica (kopf would pause them all)."""
    c = container(full_docs)
    env = {e["name"]: e for e in c["env"]}
    assert one(full_docs, "Deployment")["spec"]["replicas"] == 2
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert PRIORITY_ENV not in env
    assert build_parser().parse_args(c["args"]).priority is None


def test_webhook_token_value_and_existing_secret(helm: Helm) -> None:
    docs = helm.render({"webhook": {"token": "s3cr3t-token"}})
    assert base64.b64decode(one(docs, "Secret")["data"]["token"]) == b"s3cr3t-token"
    docs = helm.render({"webhook": {"existingSecret": "my-hook", "secretKey": "bearer"}})
    assert by_kind(docs, "Secret") == []
    ref = {e["name"]: e for e in container(docs)["env"]}["HYBRIDSTREAM_OPERATOR_WEBHOOK_TOKEN"]
    assert ref["valueFrom"]["secretKeyRef"] == {"name": "my-hook", "key": "bearer"}


def test_service_and_selectors_match_the_pods(full_docs) -> None:
    deployment = one(full_docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = one(full_docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container_ports = {p["name"] for p in container(full_docs)["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {"http"}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    monitor = one(full_docs, "ServiceMonitor")
    service_labels = service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True


def test_all_features_peering_namespaces_and_monitoring(full_docs) -> None:
    served = [NAMESPACE, "bots", "research"]
    deployment = one(full_docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = container(full_docs)["args"]
    assert "--peering=hybridstream-operator" in args and "--standalone" not in args
    assert "--verbose" in args
    assert [a.split("=", 1)[1] for a in args if a.startswith("--namespace=")] == served
    peerings = by_kind(full_docs, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == sorted(served)
    assert {p["metadata"]["name"] for p in peerings} == {"hybridstream-operator"}
    assert sorted(r["metadata"]["namespace"] for r in by_kind(full_docs, "Role")) == sorted(served)
    for binding in by_kind(full_docs, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME,
                                        "namespace": NAMESPACE}]
        assert binding["roleRef"]["kind"] == "Role"
    for role in by_kind(full_docs, "Role"):
        peering_verbs = granted(role["rules"])[("kopf.dev", "kopfpeerings")]
        assert peering_verbs == {"get", "list", "watch", "patch"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    env = {e["name"]: e.get("value") for e in container(full_docs)["env"]}
    assert env["HYBRIDSTREAM_OPERATOR_RECONCILE_INTERVAL"] == "2"
    pod_monitor = one(full_docs, "PodMonitor")
    assert pod_monitor["spec"]["namespaceSelector"] == {"matchNames": served}
    # Stream pods as the operator builds them (logic/builders.py): label and port name.
    assert pod_monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/managed-by": "hybridstream-operator"}
    (endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "http"
    relabeled = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
    assert relabeled["rollout"] == ["__meta_kubernetes_pod_label_hybridstream_io_rollout"]
    # Several namespaces: the webhook lists rollouts per served namespace (its Roles), so
    # nothing about rollouts is granted cluster-wide.
    cluster_rules = granted(operator_cluster_role(full_docs)["rules"])
    assert ("hybridstream.io", "hybridstreamrollouts") not in cluster_rules
    kinds = {d["kind"] for d in full_docs}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"} <= kinds


def test_all_namespaces_uses_cluster_rbac_and_cluster_peering(helm: Helm) -> None:
    docs = helm.render(ALL_NAMESPACES)
    assert by_kind(docs, "Role") == [] and by_kind(docs, "RoleBinding") == []
    # No --namespace flag at all is how hybridstream-operator runs cluster-wide.
    assert not any(a.startswith(("--namespace", "-n")) for a in container(docs)["args"])
    rules = granted(operator_cluster_role(docs)["rules"])
    assert rules[("kopf.dev", "clusterkopfpeerings")] == {"get", "list", "watch", "patch"}
    assert ("kopf.dev", "kopfpeerings") not in rules
    assert ("", "namespaces") not in rules  # kopf lists namespaces only when not cluster-wide
    peerings = by_kind(docs, "ClusterKopfPeering")
    assert [p["metadata"]["name"] for p in peerings] == ["hybridstream-operator"]
    assert by_kind(docs, "KopfPeering") == []
    binding = one(docs, "ClusterRoleBinding")
    assert binding["subjects"][0]["namespace"] == NAMESPACE


def operator_rule_sets(helm: Helm) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every Role/ClusterRole the chart can render, labelled by variant."""
    out = []
    for label, values in (("default", None), ("all-features", ALL_FEATURES),
                          ("all-namespaces", ALL_NAMESPACES)):
        for doc in helm.render(values):
            if doc["kind"] in ("Role", "ClusterRole") and doc["metadata"]["name"] != STREAM_ACK:
                out.append((f"{label}/{doc['kind']}/{doc['metadata'].get('namespace', '')}",
                            doc["rules"]))
    return out


def test_rbac_has_no_wildcards_and_only_named_secrets(helm: Helm) -> None:
    rule_sets = operator_rule_sets(helm)
    assert len(rule_sets) >= 6
    for label, rules in rule_sets:
        for rule in rules:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"{label}: wildcard in {field}: {rule}"
            assert "resourceNames" not in rule or rule["resourceNames"]
            assert "nonResourceURLs" not in rule
            assert not {"escalate", "impersonate"} & set(rule["verbs"]), label
            if "bind" in rule["verbs"]:  # only the stream pods' ack ClusterRole
                assert (rule["resources"], rule["resourceNames"]) == (
                    ["clusterroles"], [STREAM_ACK]), (label, rule)
            if "pods" in rule["resources"]:  # acks are read, never written
                assert set(rule["verbs"]) <= {"list", "watch"}, (label, rule)
        # Secrets: only `get` on the Prometheus credentials named in the values.
        secrets = [r for r in rules if "secrets" in r["resources"]]
        named = label.startswith("all-features/Role/")  # the values list one; Roles only
        expected = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                     "resourceNames": ["prom-creds"]}] if named else []
        assert secrets == expected, label


def test_rbac_covers_the_operator_and_the_stream_pods_role(helm: Helm) -> None:
    """In every served namespace the operator can reconcile its CR and create the stream
    pods' Role (holding each verb that Role grants, per RBAC escalation prevention)."""
    for values, served_rules in (
        (None, lambda docs: [r["rules"] for r in by_kind(docs, "Role")]),
        (ALL_FEATURES, lambda docs: [r["rules"] for r in by_kind(docs, "Role")]),
        (ALL_NAMESPACES, lambda docs: [operator_cluster_role(docs)["rules"]]),
    ):
        docs = helm.render(values)
        rule_sets = served_rules(docs)
        assert rule_sets
        for rules in rule_sets:
            g = granted(rules)
            for key, verbs in STREAM_POD_NEEDS.items():
                assert verbs <= g[key], f"operator lacks {verbs - g[key]} on {key}"
            rollouts = g[("hybridstream.io", "hybridstreamrollouts")]
            assert {"get", "list", "watch", "patch"} <= rollouts
            assert "patch" in g[("hybridstream.io", "hybridstreamrollouts/status")]
            assert g[("hybridstream.io", "hybridstreamrollouts/finalizers")] == {"update"}
            assert g[("", "events")] == {"create"}
            # Server-side apply: create on first apply, patch afterwards; the garbage
            # collector (ownerReferences) deletes, so the operator holds no delete, except
            # on Deployments: a revision that fell out of status.revisions goes.
            for key in (("apps", "deployments"), ("", "configmaps"), ("", "services"),
                        ("", "serviceaccounts"), ("rbac.authorization.k8s.io", "roles"),
                        ("rbac.authorization.k8s.io", "rolebindings"),
                        ("networking.k8s.io", "networkpolicies")):
                assert {"create", "patch", "get"} <= g[key], key
                allowed = {"delete"} if key == ("apps", "deployments") else set()
                assert not ({"delete", "deletecollection", "update"} - allowed) & g[key], key
            # the operator's caches: a label-scoped list and watch of each kind it reads
            assert g[("", "pods")] == {"list", "watch"}
            for key in (("apps", "deployments"), ("", "configmaps")):
                assert {"list", "watch"} <= g[key], key
            assert g[("rbac.authorization.k8s.io", "clusterroles")] == {"bind"}


def test_namespaced_install_has_only_read_only_cluster_rules(default_docs) -> None:
    rules = granted(operator_cluster_role(default_docs)["rules"])
    assert set(rules) == {("apiextensions.k8s.io", "customresourcedefinitions"),
                          ("", "namespaces")}
    assert all(verbs <= {"get", "list", "watch"} for verbs in rules.values())


def test_no_cluster_role_when_scanning_disabled(helm: Helm) -> None:
    docs = helm.render({"rbac": {"kopfScanning": False}})
    assert [r["metadata"]["name"] for r in by_kind(docs, "ClusterRole")] == [STREAM_ACK]
    assert by_kind(docs, "ClusterRoleBinding") == []


@pytest.mark.parametrize(("values", "message"), [
    ({"replicas": -1}, "/replicas"),
    ({"bogus": 1}, "bogus"),
    ({"image": {"repository": "x", "pullPolicy": "Sometimes"}}, "pullPolicy"),
    ({"image": {"repository": "x", "pullPolicy": "Always", "tga": "1"}}, "tga"),
    ({"monitoring": {"prometheusRule": {"thresholds": {"latencyWarningSeconds": -1}}}},
     "latencyWarningSeconds"),
    ({"monitoring": {"prometheusRule": {"selector": "namespace=trading"}}}, "selector"),
    ({"ports": {"http": 70000, "health": 8081}}, "http"),
    ({"ports": {"http": 8080, "health": 8081, "webhook": 8082}}, "webhook"),
    ({"watch": {"allNamespaces": False, "namespaces": ["Not_A_Namespace"]}}, "namespaces"),
])
def test_schema_rejects_bad_values(helm: Helm, values: dict[str, Any], message: str) -> None:
    result = helm.template_text(values, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr


def test_schema_rejects_bad_set_flag(helm: Helm) -> None:
    result = helm.run("template", RELEASE, str(CHART), "--set", "replicas=-1", check=False)
    assert result.returncode != 0 and "/replicas" in result.stderr


def test_two_replicas_without_peering_is_refused(helm: Helm) -> None:
    result = helm.template_text({"replicas": 2}, check=False)
    assert result.returncode != 0
    assert "replicas > 1 needs peering.enabled=true" in result.stderr


@pytest.mark.parametrize("values", [None, ALL_FEATURES, ALL_NAMESPACES],
                         ids=["default", "all-features", "all-namespaces"])
def test_operator_cli_and_settings_accept_what_the_chart_passes(helm: Helm, values) -> None:
    """The rendered args parse with the operator's real argument parser, and every
    HYBRIDSTREAM_OPERATOR_* variable is a field of its settings model."""
    docs = helm.render(values)
    c = container(docs)
    args = build_parser().parse_args(c["args"])
    served = [d["metadata"]["namespace"] for d in by_kind(docs, "RoleBinding")]
    assert args.namespace == served  # empty (cluster-wide) when there are no RoleBindings
    assert args.standalone is not bool((values or {}).get("peering", {}).get("enabled"))
    assert args.liveness.endswith(":8081/healthz")
    prefix = OperatorSettings.model_config["env_prefix"]
    ours = [e["name"] for e in c["env"] if e["name"].startswith(prefix)]
    assert len(ours) == 5
    assert {e["name"]: e.get("value") for e in c["env"]}[f"{prefix}STREAM_ACK_ROLE"] == STREAM_ACK
    for name in ours:
        assert name.removeprefix(prefix).lower() in OperatorSettings.model_fields, name
