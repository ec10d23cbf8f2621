"""When a rollout's next pass may decide from the object its last pass ended with (the
status write's response) and when it must read the rollout again."""

from __future__ import annotations

import asyncio

from hybridstream_operator.handlers.reconcile import Wakeups


async def test_a_nudge_keeps_the_object_a_wake_or_a_timer_reads_it_again():
    wakeups = Wakeups()
    wakeups.nudge("ns", "a")  # its pods or Deployments changed, not the rollout
    assert await wakeups.wait("ns", "a", 30) is False
    assert await wakeups.wait("ns", "a", 0) is False  # at once after its own status write
    assert await wakeups.wait("ns", "a", 0.01) is True  # a timer ran out: read it fresh
    wakeups.nudge("ns", "a")
    wakeups.wake("ns", "a")  # and the rollout changed (an intent, a new spec)
    assert await wakeups.wait("ns", "a", 30) is True
    assert not wakeups.is_woken("ns", "a")


async def test_a_wake_during_the_wait_ends_it_and_is_not_kept_for_later():
    wakeups = Wakeups()
    waiting = asyncio.ensure_future(wakeups.wait("ns", "a", 30))
    await asyncio.sleep(0)
    wakeups.wake("ns", "b")  # another rollout
    await asyncio.sleep(0.01)
    assert not waiting.done()
    wakeups.wake("ns", "a")
    assert await asyncio.wait_for(waiting, 1) is True
    assert await wakeups.wait("ns", "a", 0) is False  # consumed
