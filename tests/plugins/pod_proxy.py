"""Kwok pods that answer through the API server's pod proxy. A kwok pod runs nothing; a test
runs a real process for it and writes an address that process listens on as the pod's
``status.podIP`` (:func:`serve_pod_from`). The API server proxies only to global unicast
addresses (``ResourceLocation`` in Kubernetes' ``pkg/registry/core/pod``: never loopback),
so ``pod_addresses`` adds addresses of the benchmarking range 198.18.0.0/15 (RFC 2544,
never routed) to the loopback device for the session and removes them after. That needs
``CAP_NET_ADMIN`` (the test tiers run as root, as the e2e tier's Docker does); without it
the fixture fails and says so.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from kubernetes_asyncio import client


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False,
                          timeout=10)


@pytest.fixture(scope="session")
def pod_addresses() -> Iterator[list[str]]:
    """Two addresses on ``lo`` (from the process id, so that sessions side by side differ)."""
    high, low = divmod(os.getpid() % 65536, 256)
    addresses = [f"198.18.{high}.{low}", f"198.19.{high}.{low}"]
    added = []
    try:
        for address in addresses:
            done = _ip("addr", "add", f"{address}/32", "dev", "lo")
            assert done.returncode == 0 or "File exists" in done.stderr, (
                f"ip addr add {address}/32 dev lo: {done.stderr.strip()} (the pod proxy "
                "tests need CAP_NET_ADMIN: run them as root)")
            added.append(address)
        yield addresses
    finally:
        for address in added:
            _ip("addr", "del", f"{address}/32", "dev", "lo")


async def serve_pod_from(core: client.CoreV1Api, namespace: str, pod: str,
                         address: str) -> None:
    """Point the pod proxy of ``pod`` at ``address``: a Running pod (kwok wrote its IP
    already; it leaves a Running pod's status alone afterwards)."""
    await core.patch_namespaced_pod_status(  # a merge patch replaces the list (dual stack)
        pod, namespace, {"status": {"podIP": address, "podIPs": [{"ip": address}]}},
        _content_type="application/merge-patch+json")
