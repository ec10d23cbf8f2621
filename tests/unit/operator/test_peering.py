"""Peering priority: replicas of one Deployment (same flags, same environment) get distinct,
stable priorities from their pod names, so kopf does not pause them all."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hybridstream_operator.cli import PRIORITY_ENV, build_parser
from hybridstream_operator.logic.peering import PRIORITY_SPAN, decide_priority, derive_priority

REPLICAS = [f"hybridstream-operator-6c9f7b8d4-{suffix}"
            for suffix in ("x2k9p", "q7wzt", "m4n8r", "b5v2c", "h9j3l")]


def test_replicas_of_one_deployment_get_distinct_priorities():
    priorities = [decide_priority(None, name) for name in REPLICAS]
    assert len(set(priorities)) == len(REPLICAS)
    assert all(1 <= p <= PRIORITY_SPAN for p in priorities)


def test_the_priority_is_sha256_of_the_pod_name():
    # First 8 bytes of sha256("hybridstream-operator-6c9f7b8d4-x2k9p"), big-endian, folded.
    assert derive_priority(REPLICAS[0]) == 0x4C2DCC4CEDC1D478 % PRIORITY_SPAN + 1


@pytest.mark.parametrize("seed", ["1", "2"])
def test_the_priority_does_not_depend_on_the_interpreter(seed):
    """A fresh interpreter with another hash seed (what a restarted container is) agrees:
    the built-in hash() of a str would not."""
    code = ("from hybridstream_operator.logic.peering import derive_priority; "
            f"print(derive_priority({REPLICAS[0]!r}), hash({REPLICAS[0]!r}))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=60, env={"PYTHONHASHSEED": s}).stdout.split()
            for s in (seed, seed + "7")]
    assert runs[0][0] == runs[1][0] == str(derive_priority(REPLICAS[0]))
    assert runs[0][1] != runs[1][1]  # the salted built-in hash differs between them


def test_a_configured_priority_wins_and_nothing_means_zero():
    assert decide_priority(7, REPLICAS[0]) == 7
    assert decide_priority(0, REPLICAS[0]) == 0
    assert decide_priority(None, None) == 0
    assert decide_priority(None, "") == 0


def test_the_cli_reads_the_priority_flag_then_the_environment(monkeypatch):
    monkeypatch.delenv(PRIORITY_ENV, raising=False)
    assert build_parser().parse_args([]).priority is None
    assert build_parser().parse_args(["--priority", "3"]).priority == 3
    monkeypatch.setenv(PRIORITY_ENV, "5")
    assert build_parser().parse_args([]).priority == 5
    assert build_parser().parse_args(["--priority", "3"]).priority == 3
