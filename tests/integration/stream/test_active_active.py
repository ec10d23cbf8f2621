"""Active-active replicas: every hybrid pod forwards its whole range. While pods come and
go, the union of their output covers every exchange position update, and the consumer-side
de-duplicator turns the overlap back into one stream (duplicates are bounded: each identity
passes once)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from hybridstream.consumer import EventDeduplicator
from hybridstream.simulator.app import running_simulator

from tests.plugins.waiting import eventually

from .harness import KEY, EventBuffer, build_settings, running_stream


async def test_replicas_coming_and_going_cover_everything_and_dedup_cleanly() -> None:
    buffers: list[EventBuffer] = []
    async with running_simulator(symbols=4) as sim, AsyncExitStack() as pods:
        settings = build_settings(sim)
        a, buf_a = await pods.enter_async_context(running_stream(settings))
        b_stack = AsyncExitStack()
        b, buf_b = await b_stack.enter_async_context(running_stream(settings))
        buffers += [buf_a, buf_b]
        await eventually(lambda: a.is_ready() and b.is_ready(), "two replicas ready")
        sim.control.open_position(KEY, "BTCUSDT", "Buy", "0.01")
        await eventually(lambda: all(any(e["type"] == "position.update" for e in buf.events())
                                     for buf in (buf_a, buf_b)), "both replicas forward")
        await b_stack.aclose()  # a pod goes away (graceful, drained)
        sim.control.open_position(KEY, "ETHUSDT", "Sell", "0.1")
        c, buf_c = await pods.enter_async_context(running_stream(settings))  # and a new one
        buffers.append(buf_c)
        await eventually(c.is_ready, "replacement ready")
        sim.control.close_position(KEY, "BTCUSDT")
        final = max(e["seq"] for e in sim.control.journal_entries(KEY))
        await eventually(lambda: all(any(e["seq"] == final for e in buf.events())
                                     for buf in (buf_a, buf_c)), "close seen by live pods")

    union = [e for buf in buffers for e in buf.events()]
    dedup = EventDeduplicator()
    kept = [e for e in union if dedup.accept(e)]
    journal = {e["seq"] for e in sim.control.journal_entries(KEY)}
    assert journal <= {e["seq"] for e in kept if e["type"].startswith("position.")}
    assert len(kept) < len(union)  # the overlap existed and was removed
    executions = [e["data"]["execId"] for e in kept if e["type"] == "execution"]
    assert len(executions) == len(set(executions)) == 3  # three fills, each exactly once
