"""Resource builders, intent/alert annotations, Prometheus response parsing, alert
targeting and the plugin's table — the pure pieces around the phase machine."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hybridstream.contract import CONFIGMAP_KEY
from hybridstream.routing import Mode, Role, RoutingDocument
from hybridstream_operator.clients.prometheus import parse_result
from hybridstream_operator.handlers.webhook import select_targets
from hybridstream_operator.logic.builders import (
    SPILL_SIZE_LIMIT,
    Owner,
    build_deployment,
    build_network_policy,
    build_rbac,
    build_routing_configmap,
    build_selector,
    build_static_resources,
)
from hybridstream_operator.logic.intents import (
    alert_key,
    build_alert_annotation,
    build_alert_cleanup,
    build_intent_annotation,
    parse_alerts,
    parse_instant,
    parse_intent,
)
from hybridstream_operator.models.observations import AlertSignal, IntentKind
from hybridstream_operator.models.spec import RESERVED_ENV, RolloutSpec
from hybridstream_operator.plugin import (
    build_detail,
    build_history,
    build_table,
    describe_open_symbols,
)
from rollout_world import make_spec

OWNER = Owner("pos", "trading", "uid-1")


def static(spec: RolloutSpec, ack_role: str = "hs-stream-ack",
           replicas: dict[int, int] | None = None) -> list[dict]:
    """The static objects of a pass (revision -> replicas; the lowest revision stable), by
    default the first walk's: the legacy poller stable."""
    replicas = replicas or {0: spec.workload.replicas.legacy, 1: spec.workload.replicas.hybrid}
    return build_static_resources(spec, OWNER, ack_role, dict.fromkeys(replicas, spec.workload),
                                  replicas=replicas, stable=min(replicas))


@pytest.mark.parametrize(("role", "mode"), [(Role.LEGACY, "rest"), (Role.HYBRID, "canary")])
def test_deployments_run_hardened_in_their_mode(role, mode):
    spec = make_spec(
        workload={
            "image": "img:1",
            "credentialsSecret": {"name": "creds"},
            "env": [{"name": "EXTRA", "value": "1"}],
        }
    )
    revision = 0 if role is Role.LEGACY else 2
    dep = build_deployment(spec.workload, OWNER, revision, 3)
    name = "pos-legacy" if role is Role.LEGACY else "pos-hybrid-2"
    assert dep["metadata"]["name"] == name and dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"]["matchLabels"]["hybridstream.io/revision"] == str(revision)
    assert dep["spec"]["template"]["metadata"]["labels"]["hybridstream.io/revision"] == \
        str(revision)
    assert dep["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    assert env["HYBRID_MODE"]["value"] == mode and env["EXTRA"]["value"] == "1"
    assert env["HYBRID_ROUTING_CONFIGMAP"]["value"] == "pos-routing"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["BYBIT_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "creds", "key": "api-key"}
    assert "value" not in env["BYBIT_API_SECRET"]  # never inlined
    sc = c["securityContext"]
    assert (
        sc["readOnlyRootFilesystem"] and sc["runAsNonRoot"] and not sc["allowPrivilegeEscalation"]
    )
    assert pod["serviceAccountName"] == "pos-stream"
    # the spill: its own bounded emptyDir (the root filesystem is read-only), mounted where
    # the env points, and a grace period that covers the drain
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v["emptyDir"] for v in pod["volumes"]}
    assert mounts == {"tmp": "/tmp", "spill": env["HYBRID_SPILL_DIR"]["value"]}
    assert volumes["spill"]["sizeLimit"] == SPILL_SIZE_LIMIT
    limit_bytes = int(SPILL_SIZE_LIMIT.removesuffix("Mi")) * 1024 * 1024
    assert int(env["HYBRID_SPILL_MAX_BYTES"]["value"]) <= limit_bytes * 3 // 4  # headroom
    drain = float(env["HYBRID_DRAIN_TIMEOUT"]["value"])
    assert pod["terminationGracePeriodSeconds"] >= drain + 10 + 5  # + SEND_GRACE, persist
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert dep["spec"]["selector"]["matchLabels"]["hybridstream.io/role"] == role.value


@pytest.mark.parametrize("sink_type", ["redis", "postgres"])
def test_sink_url_from_a_secret_is_passed_by_reference(sink_type):
    spec = make_spec(workload={"image": "img:1", "credentialsSecret": {"name": "creds"},
                               "sink": {"type": sink_type,
                                        "urlSecret": {"name": "sink", "key": "url"}}})
    env = {e["name"]: e for e in build_deployment(spec.workload, OWNER, 1, 1)
           ["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HYBRID_SINK"] == {"name": "HYBRID_SINK", "value": sink_type}
    assert env["HYBRID_SINK_URL"] == {"name": "HYBRID_SINK_URL", "valueFrom": {
        "secretKeyRef": {"name": "sink", "key": "url"}}}


def test_reserved_env_is_exactly_what_the_operator_sets():
    """Admission refuses a user env that collides with the operator's; the list it checks
    against must be the one the builder really sets."""
    spec = make_spec(workload={"image": "img:1", "credentialsSecret": {"name": "creds"},
                               "sink": {"type": "webhook", "url": "http://sink"},
                               "statusTokenSecret": {"name": "status", "key": "token"}})
    built = {e["name"] for e in build_deployment(spec.workload, OWNER, 1, 1)
             ["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert built == set(RESERVED_ENV)


@pytest.mark.parametrize(("workload", "error"), [
    ({"env": [{"name": "POD_NAME", "value": "x"}]}, "env POD_NAME is set by the operator"),
    ({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
     "env names must be unique"),
    ({"sink": {"type": "redis"}}, "sink.url or sink.urlSecret is required"),
    ({"sink": {"type": "redis", "url": "redis://x", "urlSecret": {"name": "s", "key": "k"}}},
     "exclusive"),
    ({"sink": {"type": "postgres", "url": "postgresql://u:pw@db/h"}},
     "the postgres sink takes its URL from sink.urlSecret only"),
])
def test_models_refuse_what_admission_refuses(workload, error):
    with pytest.raises(ValueError, match=error):
        make_spec(workload={"image": "img:1", "credentialsSecret": {"name": "creds"},
                            **workload})


def test_rbac_is_the_minimum_the_stream_needs():
    sa, role, binding, ack = build_rbac(OWNER, "hs-stream-ack")
    assert sa["kind"] == "ServiceAccount"
    # its own Role: the one routing ConfigMap, nothing on pods
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "resourceNames": ["pos-routing"],
                              "verbs": ["get", "list", "watch"]}]
    subject = {"kind": "ServiceAccount", "name": "pos-stream", "namespace": "trading"}
    assert binding["subjects"] == [subject] == ack["subjects"]
    # pods through the chart's ClusterRole, narrowed by its admission policy
    assert ack["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": "hs-stream-ack"}
    kinds = [m["kind"] for m in static(make_spec(), replicas={0: 2, 1: 2})]
    assert kinds == ["ServiceAccount", "Role", "RoleBinding", "RoleBinding",
                     "PodDisruptionBudget", "PodDisruptionBudget", "Service", "NetworkPolicy"]


def test_each_side_survives_losing_one_pod_by_default():
    spec = RolloutSpec.model_validate(
        {"workload": {"image": "x", "credentialsSecret": {"name": "c"}}})
    assert (spec.workload.replicas.legacy, spec.workload.replicas.hybrid) == (2, 2)
    budgets = {m["metadata"]["name"]: m["spec"] for m in static(spec)
               if m["kind"] == "PodDisruptionBudget"}
    for revision, role in ((0, Role.LEGACY), (1, Role.HYBRID), (2, Role.HYBRID)):
        template = build_deployment(spec.workload, OWNER, revision, 2)["spec"]["template"]
        # a side's budget spans all its revisions' pods
        budget = budgets[f"pos-{role.value}"]
        assert budget["maxUnavailable"] == 1
        assert budget["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
        selector = {"matchLabels": build_selector("pos", role)}
        pod = template["spec"]
        (term,) = pod["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"]
        assert term["podAffinityTerm"] == {"labelSelector": selector,
                                           "topologyKey": "kubernetes.io/hostname"}


def test_network_policy_admits_only_the_metrics_port_from_chosen_namespaces():
    spec = make_spec(workload={"image": "img:1", "credentialsSecret": {"name": "creds"},
                               "networkPolicy": {"fromNamespaces": ["monitoring"]}})
    (policy,) = [m["spec"] for m in static(spec) if m["kind"] == "NetworkPolicy"]
    assert policy == build_network_policy(spec, OWNER, [8080])["spec"]
    assert policy["podSelector"] == {"matchLabels": {"hybridstream.io/rollout": "pos"}}
    assert policy["policyTypes"] == ["Ingress"]  # the pods dial out freely
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    # this namespace: a candidate reads stable's status port
    assert rule["from"] == [{"podSelector": {}}, {"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "monitoring"}}}]
    off = make_spec(workload={"image": "img:1", "credentialsSecret": {"name": "creds"},
                              "networkPolicy": {"enabled": False}})
    assert "NetworkPolicy" not in [m["kind"] for m in static(off, "r")]


def test_the_stable_service_and_the_policy_follow_the_running_revisions():
    """A new revision may move the status port: the policy admits stable's and the
    candidate's, and the stable Service selects stable's pods at its own port."""
    v1 = make_spec(workload={"image": "img:1", "credentialsSecret": {"name": "creds"}})
    v2 = make_spec(workload={"image": "img:2", "credentialsSecret": {"name": "creds"},
                             "metricsPort": 9090})
    for stable, running in ((0, {0: v1.workload, 1: v1.workload}),
                            (1, {1: v1.workload, 2: v2.workload}),
                            (2, {2: v2.workload})):
        objects = build_static_resources(v2, OWNER, "r", running,
                                         replicas=dict.fromkeys(running, 1), stable=stable)
        (policy,) = [m["spec"] for m in objects if m["kind"] == "NetworkPolicy"]
        assert [p["port"] for p in policy["ingress"][0]["ports"]] == sorted(
            {w.metrics_port for w in running.values()})
        (service,) = [m for m in objects if m["metadata"]["name"] == "pos-stable"]
        assert service["spec"]["clusterIP"] == "None"
        assert service["spec"]["ports"] == [{"name": "http", "port": running[stable].metrics_port,
                                             "targetPort": "http"}]
        selector = service["spec"]["selector"].items()
        for revision, workload in running.items():
            pod = build_deployment(workload, OWNER, revision, 1)["spec"]["template"]
            assert (selector <= pod["metadata"]["labels"].items()) is (revision == stable)


def test_routing_configmap_carries_the_contract_document():
    doc = RoutingDocument(generation=4, hybridMode=Mode.CUTOVER, hybridHigh=50, legacyLow=50)
    cm = build_routing_configmap(OWNER, doc)
    assert cm["metadata"]["name"] == "pos-routing"
    assert json.loads(cm["data"][CONFIGMAP_KEY]) == {
        "generation": 4,
        "hybridMode": "cutover",
        "hybridHigh": 50,
        "legacyLow": 50,
    }


def test_intent_annotations_round_trip_and_garbage_is_ignored():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ann = build_intent_annotation(IntentKind.PROMOTE_FULL, now, "go")
    intent = parse_intent(ann)
    assert (intent.kind, intent.id, intent.reason) == (
        IntentKind.PROMOTE_FULL,
        now.isoformat(),
        "go",
    )
    assert parse_intent({"hybridstream.io/intent": "abort@42"}).id == "42"
    assert parse_intent({"hybridstream.io/intent": "explode@1"}) is None
    assert parse_intent({"hybridstream.io/intent": "{not json"}) is None
    assert parse_intent({}) is None
    alert = AlertSignal("A", "fp@t", "m")
    assert parse_alerts(build_alert_annotation(alert)) == (alert,)
    assert parse_alerts({alert_key("x"): "[]", "other": "{}"}) == ()


@pytest.mark.parametrize(
    ("body", "value", "error"),
    [
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, None, None),
        (
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "4.5"]}]},
            },
            4.5,
            None,
        ),
        (
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]},
            },
            None,
            None,
        ),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1, "2"]}}, 2.0, None),
        (
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [
                        {"metric": {"a": "1"}, "value": [1, "1"]},
                        {"metric": {"a": "2"}, "value": [1, "2"]},
                    ],
                },
            },
            None,
            "query returned 2 series; aggregate it",
        ),
        (
            {"status": "error", "errorType": "bad_data", "error": "parse error"},
            None,
            "query failed: bad_data",
        ),
    ],
)
def test_parse_prometheus_results(body, value, error):
    sample = parse_result("m", body)
    assert (sample.value, sample.error) == (value, error)


def test_alerts_target_only_rollouts_that_name_them():
    def ro(ns, name, names):
        return {
            "metadata": {"namespace": ns, "name": name},
            "spec": {"analysis": {"alertNames": names}},
        }

    rollouts = [ro("a", "x", ["Down"]), ro("a", "y", ["Other"]), ro("b", "x", ["Down"])]
    firing = {"labels": {"alertname": "Down"}}
    assert [
        (r["metadata"]["namespace"], r["metadata"]["name"])
        for r in select_targets(firing, rollouts)
    ] == [("a", "x"), ("b", "x")]
    scoped = {"labels": {"alertname": "Down", "namespace": "b", "rollout": "x"}}
    assert len(select_targets(scoped, rollouts)) == 1
    assert select_targets({"labels": {"alertname": "Nope"}}, rollouts) == []
    # the stream's own scope labels narrow as well
    own = {"labels": {"alertname": "Down", "hybridstream_namespace": "a",
                      "hybridstream_rollout": "x"}}
    assert [r["metadata"]["namespace"] for r in select_targets(own, rollouts)] == ["a"]


def test_alerts_use_the_default_names_when_a_rollout_stores_none():
    """A rollout applied without alertNames has none stored (defaults live in the model):
    it still rolls back on the default critical alerts, and only on those."""
    bare = {"metadata": {"namespace": "a", "name": "x"}, "spec": {"workload": {}}}
    assert select_targets({"labels": {"alertname": "HybridStreamProcessingErrors"}}, [bare])
    assert select_targets({"labels": {"alertname": "HybridStreamLatencyWarning"}}, [bare]) == []


def test_two_alerts_in_one_payload_are_both_recorded():
    first, second = AlertSignal("A", "fp1@t", "one"), AlertSignal("B", "fp2@t", "two")
    annotations = {**build_alert_annotation(first), **build_alert_annotation(second)}
    assert set(parse_alerts(annotations)) == {first, second}
    # once handled, only their own annotations are removed
    cleanup = build_alert_cleanup({**annotations, "keep": "me"}, ["fp1@t"])
    assert cleanup == {alert_key("fp1@t"): None}


def test_an_alerts_start_survives_the_annotation():
    """startsAt goes from Alertmanager's payload to the annotation and back: the phase
    machine needs it to tell a late alert of an earlier walk from a new one."""
    started = parse_instant("2026-12-02T10:00:00.123456789Z")
    assert started == datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=UTC)
    alert = AlertSignal("A", "fp@t", "one", started)
    assert parse_alerts(build_alert_annotation(alert)) == (alert,)
    # Go's zero time, a zoneless or a malformed value: unknown, never a crash
    for bad in ("0001-01-01T00:00:00Z", "2026-12-02T10:00:00", "yesterday", None, 5):
        assert parse_instant(bad) is None, bad


def test_plugin_views():
    obj = {
        "metadata": {"name": "pos", "namespace": "t", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {
            "phase": "Cutover",
            "stepIndex": 0,
            "stepLabel": "cutover 1/2 (50%)",
            "hybridPercent": 50,
            "message": "ok",
            "routing": {
                "generation": 4,
                "hybridMode": "cutover",
                "hybridHigh": 50,
                "legacyLow": 50,
            },
            "history": [
                {"phase": "Canary", "at": "2026-01-01T00:00:00Z", "reason": "rollout started"}
            ],
            "analysis": {"metrics": [
                {"name": "canary-events-per-minute", "notApplicable": 3,
                 "lastVerdict": "notApplicable"},
                {"name": "latency-warning", "passed": 2, "held": 1, "lastVerdict": "pass",
                 "lastValue": "0.05"},
            ]},
        },
    }
    detail = build_detail(obj)
    assert "canary-events-per-minute  0/0/0/0/0/3  not applicable" in detail
    assert "latency-warning  2/0/1/0/0/0  pass 0.05" in detail
    table = build_table([obj], datetime(2026, 1, 1, 2, tzinfo=UTC))
    header, row = table.splitlines()
    assert header.split()[:4] == ["NAME", "PHASE", "STEP", "HYBRID%"]
    assert "Cutover" in row and "g4 h50 l50" in row and "2h" in row
    assert "legacy [50,100)" in build_detail(obj)
    assert "rollout started" in build_history(obj)


def test_open_symbols_per_side():
    line = describe_open_symbols([
        ("stable", {"openSymbols": {"open": 5, "forwarded": 3}}, None),
        ("candidate", {"openSymbols": {"open": 5, "forwarded": 2}}, None)])
    assert line == "Symbols:   5 open; stable forwards 3, candidate forwards 2"
    line = describe_open_symbols([("stable", None, "403: Forbidden"), ("candidate", None, None)])
    assert line == "Symbols:   stable unknown (403: Forbidden), candidate unknown (no Ready pod)"


def test_the_only_service_is_the_stable_one_and_it_is_headless():
    (service,) = [m for m in static(make_spec()) if m["kind"] == "Service"]
    assert service["metadata"]["name"] == "pos-stable"
    assert service["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize(("replicas", "budgets"), [
    ({0: 1, 1: 1}, []),  # one pod a side: a budget could never refuse an eviction
    ({0: 2, 1: 1}, ["pos-legacy"]),
    ({1: 1, 2: 1}, ["pos-hybrid"]),  # stable and candidate both hybrid: two pods, one side
    ({1: 2, 2: 0}, ["pos-hybrid"]),
])
def test_a_side_gets_a_disruption_budget_only_when_it_runs_more_than_one_pod(replicas, budgets):
    made = [m for m in static(make_spec(), replicas=replicas)
            if m["kind"] == "PodDisruptionBudget"]
    assert [m["metadata"]["name"] for m in made] == budgets
