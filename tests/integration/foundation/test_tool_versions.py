"""Every Go-built tool reports the version hack/versions.env pins: built from Go modules, a
binary only says the right version when its build sets it (ldflags), and a wrong one is
what a user pastes into a bug report."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PINS = dict(line.split("=", 1) for line in (REPO / "hack" / "versions.env").read_text().splitlines()
            if "=" in line and not line.startswith("#"))

CASES = [  # (bin dir variable, binary, version command, pin)
    ("KUBE_BIN", "kube-apiserver", ["--version"], "KUBE_VERSION"),
    ("KUBE_BIN", "kube-controller-manager", ["--version"], "KUBE_VERSION"),
    ("KUBE_BIN", "kube-scheduler", ["--version"], "KUBE_VERSION"),
    ("KUBE_BIN", "kubectl", ["version", "--client"], "KUBE_VERSION"),
    ("ETCD_BIN", "etcd", ["--version"], "ETCD_VERSION"),
    ("KWOK_BIN", "kwok", ["--version"], "KWOK_VERSION"),
    ("KWOK_BIN", "kwokctl", ["--version"], "KWOK_VERSION"),
    ("KIND_BIN", "kind", ["version"], "KIND_VERSION"),
    ("HELM_BIN", "helm", ["version"], "HELM_VERSION"),
]


@pytest.fixture(scope="module")
def bin_dirs() -> dict[str, str]:
    """hack/build-kube.sh: builds what is missing (cached), prints NAME_BIN=PATH lines."""
    out = subprocess.run(["bash", str(REPO / "hack" / "build-kube.sh")], capture_output=True,
                         text=True, timeout=3600, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.mark.parametrize(("bin_var", "binary", "command", "pin"), CASES,
                         ids=[c[1] for c in CASES])
def test_reports_the_pinned_version(bin_dirs: dict[str, str], bin_var: str, binary: str,
                                    command: list[str], pin: str) -> None:
    result = subprocess.run([str(Path(bin_dirs[bin_var]) / binary), *command],
                            capture_output=True, text=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    number = PINS[pin].removeprefix("v")
    # the whole version, not a prefix of it ("v3.19" must not pass for v3.19.5)
    assert re.search(rf"(?<![\d.])v?{re.escape(number)}(?![\d.])", output), (PINS[pin], output)
