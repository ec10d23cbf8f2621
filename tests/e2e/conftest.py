"""Fixtures of the e2e tier: a real kind cluster and our images loaded into it, through
hack.stack (shared with ``make demo``).

The session brings the cluster up once (``hack.stack.cluster_up``: created, or reused) and
deletes it at the end unless it was already running before the session (then it is left
as found, so a developer iterating on e2e tests pays for cluster creation once).
``stack`` builds the stream, operator, Prometheus and Alertmanager images and `kind
load`s them once per session; ``deployed`` deploys the stack into the test's namespace.

The fixture is named ``cluster`` like the integration tier's kwok control plane, so it
overrides that one under tests/e2e and every shared fixture built on it (``namespace``)
runs against kind here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hack import stack as hack_stack
from hack.stack import Stack, deploy, undeploy
from tests.plugins.cluster import Cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The kind cluster (created once per session, or reused if already running)."""
    was_running = hack_stack.cluster_running()
    kube = hack_stack.cluster_up()
    yield Cluster(kube.kubeconfig, kube.kubectl_bin)
    if not was_running:
        hack_stack.cluster_down()


@pytest.fixture(scope="session")
def stack(cluster: Cluster) -> Stack:
    """Stream and operator images built from this checkout and the Prometheus and
    Alertmanager images, loaded into the node, with the helm binary."""
    return hack_stack.up()


@pytest.fixture
def deployed(stack: Stack, namespace: str) -> Iterator[str]:
    """A fresh namespace with the simulator, Prometheus and the operator chart installed
    (the critical socket-down alert at 4 s, so a fault rolls back at once)."""
    deploy(stack, namespace)
    yield namespace
    undeploy(stack, namespace)


@pytest.fixture
def deployed_as_shipped(stack: Stack, namespace: str) -> Iterator[str]:
    """The same with every alert threshold as the chart ships it (socket down 30 s / 120 s):
    what a user gets, for the default analysis tests."""
    deploy(stack, namespace, disconnected_critical_seconds=120)
    yield namespace
    undeploy(stack, namespace)
