"""Invalid rollouts are rejected by the real API server with a message that says why
(OpenAPI schema and CEL rules generated from the models)."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from hybridstream_operator.models.spec import RolloutSpec
from operator_harness import REPO


def manifest(**spec) -> dict:
    body = {"workload": {"image": "x", "credentialsSecret": {"name": "creds"}}}
    body.update(spec)
    return {"apiVersion": "hybridstream.io/v1alpha1", "kind": "HybridStreamRollout",
            "metadata": {"name": "bad"}, "spec": body}


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
