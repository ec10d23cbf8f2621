"""The documentation says what the code does: the default analysis table is the code's
(rendered from the defaults), every field of the custom resource is documented in
docs/operator.md, and every relative link in README.md and docs/ leads somewhere."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from hybridstream_operator.docgen import BEGIN, DOC_PATH, END, render_defaults_table
from hybridstream_operator.models.defaults import DEFAULT_ALERT_NAMES
from hybridstream_operator.models.spec import Analysis, RolloutSpec
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[3]
ANALYSIS = ROOT / DOC_PATH
OPERATOR = ROOT / "docs" / "operator.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_default_analysis_table_matches_the_defaults():
    text = ANALYSIS.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render_defaults_table(), (
        f"{DOC_PATH}'s default analysis table is stale; replace it with the output of "
        "python -m hybridstream_operator.docgen")


def test_every_default_metric_and_alert_name_is_documented():
    text = ANALYSIS.read_text()
    for metric in Analysis().metrics:
        assert f"`{metric.name}`" in text, metric.name
    for alert in DEFAULT_ALERT_NAMES:
        assert f"`{alert}`" in text, alert


def _models(annotation: object) -> Iterator[tuple[type[BaseModel], bool]]:
    """The pydantic models inside a field's annotation, each with whether it sits in a list
    (``list[Metric]``, ``SecretKeyRef | None``, ``Annotated[list[EnvVar], ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, False
        return
    in_list = typing.get_origin(annotation) is list
    for arg in typing.get_args(annotation):
        for model, listed in _models(arg):
            yield model, listed or in_list


def field_paths(model: type[BaseModel], prefix: str = "spec") -> Iterator[str]:
    """Every leaf field as the CRD spells it: ``spec.workload.credentialsSecret.apiKeyKey``,
    ``spec.analysis.metrics[].noData`` (``[]`` for a list item)."""
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field.alias or name}"
        nested = list(_models(field.annotation))
        if not nested:
            yield path
        for sub, listed in nested:
            yield from field_paths(sub, path + ("[]" if listed else ""))


def test_field_paths_walk_the_models_as_the_crd_spells_them():
    paths = set(field_paths(RolloutSpec))
    assert {"spec.workload.credentialsSecret.apiKeyKey", "spec.workload.env[].name",
            "spec.steps.cutover[].pause.duration", "spec.analysis.metrics[].noData",
            "spec.analysis.prometheus.basicAuth.password.key",
            "spec.rollback.scaleDownDelay"} <= paths
    assert not any("_" in p for p in paths)  # camelCase, never the Python names


@pytest.mark.parametrize("path", sorted(field_paths(RolloutSpec)))
def test_every_cr_field_is_in_the_operator_reference(path):
    assert f"`{path}`" in OPERATOR.read_text(), (
        f"{path} is a field of the HybridStreamRollout spec but is missing from the field "
        "reference of docs/operator.md")


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page: lower case, punctuation dropped,
    spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


def relative_links(page: Path) -> Iterator[str]:
    for target in _LINK.findall(_FENCE.sub("", page.read_text())):
        if not re.match(r"^[a-z]+:", target):  # http(s):, mailto: are not checked
            yield target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_anchor(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / unquote(path)).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor in {dest.name}")
    assert not broken, broken


def test_anchors_follow_githubs_rules():
    page = ROOT / "docs" / "offline-cluster.md"
    assert {"what-hack-builds-and-where-it-caches", "the-e2e-stack-hackstackpy",
            "make-demo"} <= anchors(page)
