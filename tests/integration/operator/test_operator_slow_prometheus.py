"""A hung Prometheus never delays an abort: the analysis query in flight (here it would
wait its whole 50 s timeout) is cancelled as soon as ``kubectl hsr abort`` writes its
intent, and the rollout rolls back at once. The hung Prometheus is a real TCP server on
loopback that accepts connections and never answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from operator_harness import SLOW, rollout_manifest, run_plugin

from tests.plugins.processes import free_port


@pytest.fixture
async def hung_prometheus() -> AsyncIterator[str]:
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing, keep the socket open

    port = free_port()
    server = await asyncio.start_server(accept, "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_abort_is_not_blocked_by_a_hung_prometheus(env, hung_prometheus):
    manifest = rollout_manifest("hung", hung_prometheus, **SLOW)
    manifest["spec"]["analysis"].update(
        {"interval": "55s", "prometheus": {"address": hung_prometheus, "timeout": "50s"}})
    env.cluster.apply(manifest, namespace=env.namespace)
    async with env.acking("hung"):
        # Canary's first analysis query is in flight from the pass after this one
        await env.wait_phase("hung", "Canary", started=False)
        await asyncio.sleep(3)
        await run_plugin(env, "abort", "hung", "--reason", "exchange incident")
        # before the in-flight query's 50 s timeout could have let the pass go on
        st = await env.wait_phase("hung", "RolledBack", started=False, within=40)
    assert "manual abort: exchange incident" in st["lastFailure"]["message"]
