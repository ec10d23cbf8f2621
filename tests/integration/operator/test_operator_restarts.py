"""The operator SIGKILLed at random points of a walk, 20+ times, then restarted: the walk
still completes with every step exactly once, in order, each lasting its full duration,
and the routing the pods applied never had a gap. Status is the only memory."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import datetime, timedelta

import aiohttp
from operator_harness import rollout_manifest

from tests.plugins.waiting import eventually

KILLS = 20
STEPS = {"canary": {"duration": "3s"}, "parallel": {"duration": "3s"},
         "cutover": [{"percent": 10, "pause": {"duration": "2s"}},
                     {"percent": 50, "pause": {"duration": "2s"}},
                     {"percent": 100, "pause": {"duration": "2s"}}],
         "production": {"duration": "2s"}}
EXPECTED = [("Canary", None), ("Parallel", None), ("Cutover", 0), ("Cutover", 1),
            ("Cutover", 2), ("Production", None)]
DURATIONS = [3, 3, 2, 2, 2, 2]


async def healthy(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_sigkill_at_random_points_neither_skips_nor_doubles(env, prometheus):
    rng = random.Random(20261123)
    # Standalone: with peering, a SIGKILLed replica's record (same priority) pauses its
    # successor until the record expires (kopf peering lifetime, 60 s) — that is HA's
    # failover delay, not what this test is about (resuming from status).
    env.operator.stop()
    env.operator.standalone = True
    env.operator.start()
    env.cluster.apply(rollout_manifest("chaos", prometheus.url, **STEPS), namespace=env.namespace)
    kills = 0
    killed_in: list[str] = []
    async with env.acking("chaos") as acker:
        while kills < KILLS:
            # once it serves HTTP (startup done, daemon starting), let it live 0-2 s more:
            # kills land before, during and after passes and routing publications
            await eventually(lambda: healthy(env.operator.url), within=60,
                             what="operator up", describe=env.operator.tail)
            await asyncio.sleep(rng.uniform(0.0, 2.0))
            st = await env.status("chaos")
            env.operator.kill()
            kills += 1
            killed_in.append(f"{st.get('phase')}/{st.get('stepIndex')}")
            env.operator.start()

        async def complete():
            st = await env.status("chaos")
            return st if st.get("legacyRetiredAt") else None
        st = await eventually(complete, within=180, what="the walk to complete",
                              describe=env.operator.tail)
    history = st["history"]
    print(f"\n{kills} SIGKILLs, {env.operator.starts} operator starts; history "
          f"{[(h['phase'], h.get('stepIndex')) for h in history]}; killed in {killed_in}")
    assert len(set(killed_in)) >= 3, killed_in  # the kills really landed across the walk
    assert [(h["phase"], h.get("stepIndex")) for h in history] == EXPECTED
    assert st["transitions"] == len(EXPECTED) and st["rollbacks"] == 0
    # every step lasted at least its duration: a restart never shortened or skipped one
    for (entry, nxt), seconds in zip(itertools.pairwise(history), DURATIONS, strict=False):
        assert _ts(nxt["at"]) - _ts(entry["at"]) >= timedelta(seconds=seconds), (entry, nxt)
    gens = [d.generation for d in acker.seen]
    assert gens == sorted(set(gens))
    assert all(d.legacy_low <= d.effective_hybrid_high for d in acker.seen)
    states = {(d.hybrid_mode.value, d.hybrid_high, d.legacy_low) for d in acker.seen}
    for percent in (10, 50, 100):
        assert ("cutover", percent, percent) in states
