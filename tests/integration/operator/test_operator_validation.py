"""Invalid rollouts are rejected by the real API server with a message that says why
(OpenAPI schema and CEL rules generated from the models)."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from hybridstream_operator.models.spec import RolloutSpec
from operator_harness import REPO
from pydantic import ValidationError


def manifest(name: str = "bad", **spec) -> dict:
    body = {"workload": {"image": "x", "credentialsSecret": {"name": "creds"}}}
    body.update(spec)
    return {"apiVersion": "hybridstream.io/v1alpha1", "kind": "HybridStreamRollout",
            "metadata": {"name": name}, "spec": body}


def workload(**extra) -> dict:
    return {"workload": {"image": "x", "credentialsSecret": {"name": "creds"}, **extra}}


def metric(name: str = "m") -> dict:
    return {"name": name, "query": "up", "condition": "result < 1"}


#: What a careless or hostile user may write that would wedge reconcile: each is refused
#: by the API server with a message naming the field (the models refuse the same).
CARELESS = [
    ({"name": "a" * 51}, "at most 50 characters"),
    ({"name": "pos.v2"}, "DNS-1035 label"),
    ({"name": "9lives"}, "DNS-1035 label"),
    ({**workload(sink={"type": "webhook"})}, "sink.url or sink.urlSecret is required"),
    ({**workload(sink={"type": "redis", "url": ""})}, "sink.url or sink.urlSecret is required"),
    ({**workload(sink={"type": "redis", "url": "redis://r",
                       "urlSecret": {"name": "s", "key": "url"}})}, "are exclusive"),
    ({**workload(sink={"type": "postgres", "url": "postgresql://u:pw@db/h"})},
     "the postgres sink takes its URL from sink.urlSecret only"),
    ({**workload(env=[{"name": "HYBRID_MODE", "value": "production"}])},
     "env HYBRID_MODE is set by the operator"),
    ({**workload(env=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}])},
     "Duplicate value"),
    ({**workload(resources={"requests": {"cpu": "lots"}})}, "spec.workload.resources"),
    ({**workload(image="x" * 513)}, "spec.workload.image"),
    ({"steps": {"canary": {"duration": "99999999999h"}}}, "spec.steps.canary.duration"),
    ({"steps": {"canary": {"duration": "9000h"}}}, "must be between 0s and 8760h"),
    ({"steps": {"progressDeadline": "10s"}}, "must be between 30s and 24h"),
    ({"analysis": {"interval": "0s"}}, "must be between 1s and 1h"),
    ({"analysis": {"prometheus": {"timeout": "0s"}}}, "must be between 100ms and 60s"),
    ({"analysis": {"interval": "5s", "prometheus": {"timeout": "5s"}}},
     "prometheus.timeout must be shorter than the analysis interval"),
    ({"analysis": {"metrics": [metric(), metric()]}}, "Duplicate value"),
    ({"analysis": {"metrics": [metric(f"m{i}") for i in range(41)]}},
     "must have at most 40 items"),
    ({"analysis": {"alertNames": ["A"] * 21}}, "must have at most 20 items"),
    ({"analysis": {"prometheus": {"address": "http://admin:hunter2@prometheus:9090"}}},
     "prometheus.address must not carry credentials"),
    ({"analysis": {"prometheus": {
        "basicAuth": {"username": {"name": "p", "key": "u"},
                      "password": {"name": "p", "key": "p"}},
        "bearerTokenSecret": {"name": "p", "key": "t"}}}},
     "prometheus.basicAuth and prometheus.bearerTokenSecret are exclusive"),
]


@pytest.mark.parametrize(("change", "message"), CARELESS,
                         ids=[m[:40] for _, m in CARELESS])
def test_api_server_rejects_what_would_wedge_reconcile(cluster, operator_crds, namespace,
                                                       change, message):
    spec = {k: v for k, v in change.items() if k != "name"}
    name = change.get("name", "bad")
    doc = manifest(name, **spec)
    result = subprocess.run(
        [str(cluster.kubectl_bin), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace,
         "apply", "--dry-run=server", "-f", "-"],
        input=yaml.safe_dump(doc), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0, result.stdout
    assert message in result.stderr, result.stderr
    if spec:  # the operator's own models refuse the same spec
        with pytest.raises(ValidationError):
            RolloutSpec.model_validate(doc["spec"])


@pytest.mark.parametrize(("spec", "message"), [
    ({"steps": {"cutover": [{"percent": 50}, {"percent": 30}, {"percent": 100}]}},
     "cutover percentages must be strictly increasing"),
    ({"steps": {"cutover": [{"percent": 5}, {"percent": 35}]}},
     "the last cutover step must be 100 percent"),
    ({"steps": {"cutover": [{"percent": 0}, {"percent": 100}]}},
     "should be greater than or equal to 1"),
    ({"steps": {"canary": {"duration": "two days"}}}, "spec.steps.canary.duration"),
    ({"analysis": {"metrics": [{"name": "m", "query": "up", "condition": "up is fine"}]}},
     "spec.analysis.metrics[0].condition"),
    ({"analysis": {"metrics": [{"name": "m", "query": "up", "condition": "result < 1",
                                "action": "panic"}]}}, 'supported values: "hold", "step-back"'),
    ({"workload": {"image": "x"}}, "spec.workload.credentialsSecret: Required value"),
    ({"unknownField": 1}, 'unknown field "spec.unknownField"'),
])
def test_api_server_rejects_invalid_rollouts(cluster, operator_crds, namespace, spec, message):
    result = subprocess.run(
        [str(cluster.kubectl_bin), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace,
         "apply", "--validate=strict", "-f", "-"],
        input=yaml.safe_dump(manifest(**spec)), capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode != 0, result.stdout
    assert message in result.stderr, result.stderr


def test_a_valid_minimal_rollout_is_accepted(cluster, operator_crds, namespace):
    out = cluster.kubectl("-n", namespace, "apply", "--dry-run=server", "-f", "-",
                          input=yaml.safe_dump(manifest()))
    assert "created (server dry run)" in out


@pytest.mark.parametrize("example", sorted((REPO / "examples").glob("*/rollout.yaml")),
                         ids=lambda p: p.parent.name)
def test_examples_are_accepted(cluster, operator_crds, namespace, example):
    out = cluster.kubectl("-n", namespace, "apply", "--dry-run=server", "-f", str(example))
    assert "hybridstreamrollout.hybridstream.io" in out and "(server dry run)" in out
    for doc in yaml.safe_load_all(example.read_text()):
        if doc["kind"] == "HybridStreamRollout":
            RolloutSpec.model_validate(doc["spec"])  # and the operator's models agree
