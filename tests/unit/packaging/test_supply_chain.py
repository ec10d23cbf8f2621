"""Supply chain: every requirement file pins exact versions with sha256 hashes, the image's
runtime lock is the test lock's subset at the same versions, the direct dependencies in
pyproject.toml are the locked ones, and every pip call that installs or downloads a
requirement file enforces the hashes. The stock base image is pinned by digest."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
REQUIREMENTS = REPO / "requirements"
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every entry of a hashed requirement file."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        if match := _ENTRY.match(line):
            current = canonical(match.group(1))
            assert current not in entries, f"{path.name}: {current} twice"
            entries[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = entries[current]
            assert re.fullmatch(r"--hash=sha256:[0-9a-f]{64}( \\)?", line.strip()), line
            entries[current] = (version, hashes + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            pytest.fail(f"{path.name}: unexpected line {line!r}")
    return entries


@pytest.mark.parametrize("name", ["lock.txt", "runtime.txt", "tools.txt", "nautilus-lock.txt"])
def test_every_entry_is_pinned_with_hashes(name: str) -> None:
    entries = parse_lock(REQUIREMENTS / name)
    assert entries
    unhashed = [pkg for pkg, (_, hashes) in entries.items() if hashes == 0]
    assert unhashed == []


def test_runtime_is_the_locked_subset_and_matches_pyproject() -> None:
    lock, runtime = parse_lock(REQUIREMENTS / "lock.txt"), parse_lock(REQUIREMENTS / "runtime.txt")
    differ = {pkg: (v, lock.get(pkg, ("missing",))[0]) for pkg, (v, _) in runtime.items()
              if lock.get(pkg, ("",))[0] != v}
    assert differ == {}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement, locked in ((r, runtime) for r in project["dependencies"]):
        name, version = requirement.split("==")
        assert locked[canonical(name)][0] == version, requirement
    for requirement in project["optional-dependencies"]["dev"]:
        name, version = requirement.split("==")
        assert lock[canonical(name)][0] == version, requirement
    assert not {"pytest", "hypothesis", "ccxt", "pybit", "ruff"} & set(runtime)


def pip_calls(text: str) -> list[str]:
    """Each ``pip install|download`` command (continuation lines joined) that reads a
    requirement file."""
    joined = re.sub(r"\\\n", " ", text)
    return [line for line in joined.splitlines()
            if re.search(r"\bpip\"? (install|download)\b", line) and " -r " in line]


@pytest.mark.parametrize("path", ["hack/setup-python.sh", "hack/images/build.sh", "Dockerfile",
                                  "hack/nautilus-venv.sh"])
def test_every_requirement_install_requires_hashes(path: str) -> None:
    calls = pip_calls((REPO / path).read_text())
    assert calls, f"{path}: no pip call found (the check would pass vacuously)"
    for call in calls:
        assert "--require-hashes" in call, f"{path}: {call.strip()}"


def test_stock_base_image_is_pinned_by_digest() -> None:
    (base,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base)


def test_every_tool_version_is_pinned_in_versions_env():
    """hack/ scripts read versions from hack/versions.env only: a pin written in a script
    (``==1.2.3``, ``@v1.2.3``, ``:v1.2.3``) would drift from the cache keys and the docs."""
    pin = re.compile(r"(==|@v|:v)[0-9]+\.[0-9]+\.[0-9]+")
    scripts = [p for p in (REPO / "hack").rglob("*")
               if p.is_file() and (p.suffix == ".sh" or p.name == "cluster")]
    found = [f"{p.relative_to(REPO)}: {line.strip()}" for p in scripts
             for line in p.read_text().splitlines()
             if pin.search(line) and not line.lstrip().startswith("#")]
    assert scripts and found == []
