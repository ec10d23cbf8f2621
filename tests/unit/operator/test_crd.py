"""The CRD on disk is exactly what the models generate, and its schema is structural."""

from __future__ import annotations

import pytest
import yaml
from hybridstream_operator import crdgen
from hybridstream_operator.logic.crd import build_crd
from hybridstream_operator.models.spec import RolloutSpec
from pydantic import ValidationError


def test_crd_file_has_not_drifted():
    assert crdgen.DEFAULT_PATH.read_text() == crdgen.render(), (
        "crds/hybridstreamrollout.yaml is stale: run python -m hybridstream_operator.crdgen"
    )
    assert crdgen.main(["--check"]) == 0


def test_check_fails_on_drift(tmp_path):
    stale = tmp_path / "crd.yaml"
    stale.write_text(crdgen.render().replace("hsr", "hs"))
    assert crdgen.main(["--check", str(stale)]) == 1


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def test_schema_is_structural_and_has_the_printer_columns():
    crd = build_crd()
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        for forbidden in ("$ref", "anyOf", "allOf", "title", "$defs"):
            assert forbidden not in node, f"{forbidden} at {path}"
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Phase",
        "Step",
        "Hybrid%",
        "Stable",
        "Candidate",
        "Age",
        "Message",
    ]
    assert version["subresources"] == {"status": {}}
    cutover = schema["properties"]["spec"]["properties"]["steps"]["properties"]["cutover"]
    assert {r["message"] for r in cutover["x-kubernetes-validations"]} == {
        "cutover percentages must be strictly increasing",
        "the last cutover step must be 100 percent",
    }
    assert yaml.safe_load(crdgen.render()) == crd


@pytest.mark.parametrize(
    ("cutover", "message"),
    [
        ([{"percent": 50}, {"percent": 30}, {"percent": 100}], "strictly increasing"),
        ([{"percent": 50}, {"percent": 50}, {"percent": 100}], "strictly increasing"),
        ([{"percent": 5}, {"percent": 35}], "last cutover step must be 100"),
        ([{"percent": 0}, {"percent": 100}], "greater than or equal to 1"),
    ],
)
def test_models_reject_what_the_cel_rules_reject(cutover, message):
    with pytest.raises(ValidationError, match=message):
        RolloutSpec.model_validate(
            {
                "workload": {"image": "x", "credentialsSecret": {"name": "c"}},
                "steps": {"cutover": cutover},
            }
        )


def test_defaults_come_from_the_seed_plan():
    spec = RolloutSpec.model_validate(
        {"workload": {"image": "x", "credentialsSecret": {"name": "c"}}}
    )
    assert [s.percent for s in spec.steps.cutover] == [50, 100]
    by_name = {m.name: m for m in spec.analysis.metrics}
    assert by_name["no-events-critical"].condition == "result <= 300"
    assert by_name["no-events-critical"].action.value == "rollback"
    assert by_name["divergence-critical"].condition == "result <= 0.01"
    assert by_name["subscription-failures-critical"].condition == "result <= 10"
    assert by_name["latency-critical"].condition == "result <= 1"
    assert all("$selector" in m.query for m in spec.analysis.metrics)
