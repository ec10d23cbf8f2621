"""Whatever the CRD's schema lets through, nothing the operator does with it raises.

Hypothesis generates ``spec`` objects that the generated CRD schema accepts (OpenAPI
types, enums, patterns, bounds; the CEL rules are the models' own validators here).
Each either fails the models' validation (what admission's CEL also refuses) or is a spec
the builders turn into objects and the pure phase machine walks, pass after pass, and on
after the spec is edited mid-walk, without raising: no OverflowError, no IndexError, no
KeyError in reconcile."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hybridstream.routing import INITIAL
from hybridstream_operator.logic.builders import (
    Owner,
    build_deployment,
    build_routing_configmap,
    build_static_resources,
)
from hybridstream_operator.logic.crd import build_crd
from hybridstream_operator.logic.phase_machine import decide
from hybridstream_operator.logic.queries import build_queries
from hybridstream_operator.logic.steps import measured_metrics
from hybridstream_operator.models.observations import Sample
from hybridstream_operator.models.spec import RolloutSpec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from rollout_world import World, make_spec

OWNER = Owner("pos", "trading", "uid-1")


def from_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the CRD's structural schema accepts (types, enums, patterns, lengths and
    bounds; lists kept short). The CEL rules are left to the models' own validators."""
    strategy = _from_schema(node)
    return st.one_of(st.none(), strategy) if node.get("nullable") else strategy


def _from_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        required = set(node.get("required", []))
        props = {k: from_schema(v) for k, v in node["properties"].items()}
        return st.fixed_dictionaries({k: v for k, v in props.items() if k in required},
                                     optional={k: v for k, v in props.items()
                                               if k not in required})
    if kind == "object":  # a map: additionalProperties gives the values
        return st.dictionaries(st.text(min_size=1, max_size=12),
                               from_schema(node.get("additionalProperties", {"type": "string"})),
                               max_size=min(node.get("maxProperties", 4), 4))
    if kind == "array":
        return st.lists(from_schema(node["items"]), min_size=node.get("minItems", 0),
                        max_size=min(node.get("maxItems", 4), max(4, node.get("minItems", 0))))
    if kind == "integer":
        return st.integers(node.get("minimum", -(2**31)), node.get("maximum", 2**31))
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        longest = node.get("maxLength", 64)
        text = (st.from_regex(node["pattern"], fullmatch=True) if "pattern" in node
                else st.text(max_size=min(longest, 64)))
        return text.filter(lambda t: node.get("minLength", 0) <= len(t) <= longest)
    return st.none()


SPEC_SCHEMA = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
    "spec"]


def _model(spec: dict[str, Any]) -> RolloutSpec | None:
    try:
        return RolloutSpec.model_validate(spec)
    except ValidationError:
        return None  # refused: the API server's CEL rules refuse the same


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(spec=from_schema(SPEC_SCHEMA), edited=from_schema(SPEC_SCHEMA), samples=st.lists(
    st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), max_size=5))
def test_builders_and_the_phase_machine_never_raise(spec, edited, samples):
    model = _model(spec)
    if model is None:
        return
    for revision in (0, 1):
        build_deployment(model.workload, OWNER, revision, 1)
    build_static_resources(model, OWNER, "hybridstream-stream-ack", {0: model.workload},
                           replicas={0: 1}, stable=0)
    build_routing_configmap(OWNER, INITIAL)
    world = World(model)
    values = iter(samples * 40)
    for _ in range(40):  # passes across steps, every measured metric answered
        metrics = measured_metrics(model, world.status)
        build_queries(model.analysis, metrics, "trading", "pos", start=world.now, now=world.now)
        world.step(seconds=30, samples=tuple(Sample(m.name, next(values, 1.0))
                                             for m in metrics))
    decide(model, world.status, world.observations(), world.now + timedelta(days=400))
    # the user edits the spec mid-walk (fewer cutover steps, other metrics...)
    changed = _model(edited)
    if changed is not None:
        world.spec = changed
        for _ in range(5):
            metrics = measured_metrics(changed, world.status)
            world.step(seconds=30, samples=tuple(Sample(m.name, 1.0) for m in metrics))


def test_shrinking_the_cutover_below_the_current_step_does_not_wedge():
    """Cutover 2/3 in force, then the user edits the steps down to one: the rollout goes on
    from the last step that still exists instead of failing every pass (IndexError)."""
    three = [{"percent": 30, "pause": {"duration": "10s"}},
             {"percent": 60, "pause": {"duration": "10s"}},
             {"percent": 100, "pause": {"duration": "10s"}}]
    world = World(make_spec(steps={"cutover": three}))
    world.run_until(lambda s: s.step_index == 2 and s.step_started_at is not None)
    world.spec = make_spec(steps={"cutover": [{"percent": 100, "pause": {"duration": "10s"}}]})
    world.run_until(lambda s: s.legacy_retired_at is not None)
