"""The chart ships the repository's CRDs byte for byte: crds/ (the HybridStreamRollout CRD
generated from the pydantic models, and kopf's peering CRDs) is the source of truth and
charts/hybridstream-operator/crds/ a copy kept in sync by hack/sync-chart-crds.sh."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "crds"
CHART_CRDS = REPO / "charts" / "hybridstream-operator" / "crds"
FIX = "run: bash hack/sync-chart-crds.sh"


def yaml_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.yaml"))}


def test_chart_crds_are_identical_to_generated_crds() -> None:
    source, chart = yaml_files(SOURCE), yaml_files(CHART_CRDS)
    assert {"hybridstreamrollout.yaml", "kopf-peering.yaml"} <= set(source)
    assert set(chart) == set(source), f"chart CRD files differ from crds/; {FIX}"
    stale = [name for name in source if chart[name] != source[name]]
    assert not stale, f"chart CRDs differ from crds/: {stale}; {FIX}"


def test_chart_crd_files_hold_the_expected_definitions() -> None:
    names = {
        doc["metadata"]["name"]
        for path in CHART_CRDS.glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == "CustomResourceDefinition"
    }
    assert names == {"hybridstreamrollouts.hybridstream.io", "kopfpeerings.kopf.dev",
                     "clusterkopfpeerings.kopf.dev"}


def test_kopf_peering_crds_match_what_kopf_watches() -> None:
    """kopf 1.x looks for kopf.dev/v1 clusterkopfpeerings / kopfpeerings
    (kopf/_cogs/structs/references.py) and patches their status in the main resource."""
    docs = list(yaml.safe_load_all((CHART_CRDS / "kopf-peering.yaml").read_text()))
    by_plural = {d["spec"]["names"]["plural"]: d for d in docs if d}
    assert by_plural["clusterkopfpeerings"]["spec"]["scope"] == "Cluster"
    assert by_plural["kopfpeerings"]["spec"]["scope"] == "Namespaced"
    for doc in by_plural.values():
        (version,) = doc["spec"]["versions"]
        assert doc["spec"]["group"] == "kopf.dev" and version["name"] == "v1"
        assert "subresources" not in version
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status["x-kubernetes-preserve-unknown-fields"] is True
