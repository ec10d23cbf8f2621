"""Drives the real ``helm`` binary (built by ``hack/build-kube.sh helm``) over the chart and
parses what it renders, so chart tests assert on Kubernetes objects instead of text."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "hybridstream-operator"
RELEASE = "hs"
NAMESPACE = "trading"

#: Every optional feature on: peering with two replicas, extra watched namespaces, all
#: monitoring objects, scrape annotations and a rule selector.
ALL_FEATURES: dict[str, Any] = {
    "replicas": 2,
    "peering": {"enabled": True},
    "watch": {"namespaces": ["bots", "research"]},
    "operator": {"verbose": True, "reconcileInterval": 2},
    "rbac": {"prometheusSecretNames": ["prom-creds"]},
    "monitoring": {
        "scrapeAnnotations": True,
        "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
        "podMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True, "alertLabels": {"team": "trading"}},
        "grafanaDashboard": {"enabled": True},
    },
}


def find_helm() -> Path:
    """The helm binary from hack/build-kube.sh (cached; builds it on a cold machine)."""
    out = subprocess.run(
        ["bash", str(REPO / "hack" / "build-kube.sh"), "helm"],
        capture_output=True, text=True, timeout=1800, check=True,
    ).stdout
    bin_dir = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)["HELM_BIN"]
    return Path(bin_dir) / "helm"


@dataclass(frozen=True)
class Helm:
    """The helm binary plus helpers to render this chart."""

    binary: Path

    def run(self, *args: str, check: bool = True, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.binary), *args], capture_output=True, text=True,
                                timeout=timeout, check=False, env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def template_text(self, values: dict[str, Any] | None = None, *extra: str,
                      release: str = RELEASE, namespace: str = NAMESPACE,
                      check: bool = True) -> subprocess.CompletedProcess[str]:
        """``helm template`` of the chart with ``values`` (a values file) and extra flags."""
        with tempfile.NamedTemporaryFile("w", suffix=".json") as values_file:
            json.dump(values or {}, values_file)
            values_file.flush()
            return self.run("template", release, str(CHART), "--namespace", namespace,
                            "-f", values_file.name, *extra, check=check)

    def render(self, values: dict[str, Any] | None = None, *extra: str) -> list[dict[str, Any]]:
        """Rendered documents, parsed with PyYAML (empty documents dropped)."""
        text = self.template_text(values, *extra).stdout
        return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Documents of one kind."""
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single document of ``kind`` (fails if there are none or several)."""
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {[d['metadata']['name'] for d in found]}"
    return found[0]
