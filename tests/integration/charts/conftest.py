"""Fixtures for the chart tests: the real helm binary and the chart rendered with default
values and with every optional feature on (rendered once per session: helm is a subprocess)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.charts.helm import ALL_FEATURES, Helm, find_helm


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(find_helm())


@pytest.fixture(scope="session")
def default_docs(helm: Helm) -> list[dict[str, Any]]:
    return helm.render()


@pytest.fixture(scope="session")
def full_docs(helm: Helm) -> list[dict[str, Any]]:
    return helm.render(ALL_FEATURES)
