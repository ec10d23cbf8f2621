"""Marks every test with its tier from the directory it lives in, so ``-m unit`` etc. work
and a test can never sit outside a tier."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).parts
        tier = next((t for t in TIERS if t in parts), None)
        if tier is None:
            raise pytest.UsageError(f"{item.nodeid}: tests must live under tests/<tier>/")
        item.add_marker(getattr(pytest.mark, tier))
