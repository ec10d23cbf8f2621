"""The CustomResourceDefinition, generated from the pydantic models so the two cannot
drift: pydantic's JSON schema is inlined and rewritten into a Kubernetes structural
schema (no ``$ref``, no ``anyOf`` for optionals, no ``additionalProperties: false``)."""

from __future__ import annotations

from typing import Any

from hybridstream_operator.models.spec import (
    API_GROUP,
    API_VERSION,
    KIND,
    PLURAL,
    ROLLOUT_NAME_MAX,
    ROLLOUT_NAME_PATTERN,
    SHORT_NAMES,
    SINGULAR,
    RolloutSpec,
)
from hybridstream_operator.models.status import RolloutStatus

_DROP = {"title", "default", "$defs"}
#: The rollout's own name must yield valid child names and label values.
NAME_RULES = [
    {"rule": f"size(self.metadata.name) <= {ROLLOUT_NAME_MAX}",
     "message": f"metadata.name: at most {ROLLOUT_NAME_MAX} characters (the operator's "
                "objects are named <name>-legacy, <name>-routing...)"},
    {"rule": f"self.metadata.name.matches('{ROLLOUT_NAME_PATTERN}')",
     "message": "metadata.name: a DNS-1035 label (lower-case letters, digits and '-', "
                "starting with a letter), as the operator's Services need"},
]


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Inline ``$ref``s and rewrite pydantic idioms the API server does not accept."""
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return _structural({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    options = node.get("anyOf")
    if options is not None:
        non_null = [o for o in options if o.get("type") != "null"]
        if len(non_null) == 1:  # Optional[X]: X, nullable
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            merged = _structural({**non_null[0], **rest}, defs)
            merged["nullable"] = True
            return merged
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or (key == "additionalProperties" and value is False):
            continue
        if key == "properties":
            out[key] = {name: _structural(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _structural(value, defs)
    return out


def _without_rules(node: Any) -> Any:
    """``node`` without CEL rules: status embeds spec models (a revision's workload) whose
    rules guard user input, which the operator's own writes need not pay for (their cost
    in a list would exceed the API server's budget)."""
    if isinstance(node, list):
        return [_without_rules(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {k: _without_rules(v) for k, v in node.items() if k != "x-kubernetes-validations"}


def build_schema(model: type, mode: str = "validation") -> dict[str, Any]:
    """A structural OpenAPI v3 schema for a pydantic model."""
    schema = model.model_json_schema(by_alias=True, mode=mode)  # type: ignore[attr-defined]
    return _structural(schema, schema.get("$defs", {}))


def build_crd() -> dict[str, Any]:
    """The HybridStreamRollout CRD manifest (written to ``crds/`` by ``crdgen``)."""
    spec_schema = build_schema(RolloutSpec)
    status_schema = _without_rules(build_schema(RolloutStatus, mode="serialization"))
    spec_schema["description"] = "What to roll out, how to step, what to measure."
    status_schema["description"] = "Written by the operator only."
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{API_GROUP}"},
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "listKind": f"{KIND}List",
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Step", "type": "string", "jsonPath": ".status.stepLabel"},
                        {"name": "Hybrid%", "type": "integer", "jsonPath": ".status.hybridPercent"},
                        {"name": "Stable", "type": "string",
                         "jsonPath": ".status.stableRevision.label"},
                        {"name": "Candidate", "type": "string",
                         "jsonPath": ".status.candidateRevision.label"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                        {"name": "Message", "type": "string", "jsonPath": ".status.message"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "Rolls a stream from REST polling to hybrid.",
                            "required": ["spec"],
                            "x-kubernetes-validations": NAME_RULES,
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }
