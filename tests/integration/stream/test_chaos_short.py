"""The chaos suite, short: one of each of the 13 kinds of fault the bench draws at random
(``bench/chaos.py``), with short outages, against real stream processes split by routing,
a real Redis and a real webhook (``chaos_walk.py``). Outcomes only: every fault recovered,
no order or execution lost, every repeat removed by ``EventDeduplicator``, the position
journal consistent, no symbol uncovered beyond the watchdog bound."""

from __future__ import annotations

import random
from pathlib import Path

from .chaos_accounting import WalkRecord, assess, render_table
from .chaos_walk import WalkConfig, chaos_system

KINDS = ["drop-reset", "kill9-hybrid", "redis-outage", "reject-auth", "refuse-websockets",
         "kill9-legacy", "sim-restart", "webhook-outage", "drop-1006", "malformed", "stall",
         "rate-limit", "drop-clean"]
SHORT = WalkConfig(symbols=6, redis_outage_s=(8, 8), webhook_outage_s=(5, 5),
                   websocket_outage_s=(5, 5), stall_s=(3, 3), rate_limit_s=(3, 3),
                   sim_down_s=(2, 2), kubelet_delay_s=(1, 1), pause_s=(1, 1),
                   recover_within_s=45, settle_within_s=60)


async def test_a_handful_of_faults_loses_nothing_and_leaves_no_symbol_uncovered(
        tmp_path: Path) -> None:
    record = WalkRecord(seed=7)
    async with chaos_system(tmp_path, SHORT, random.Random(7)) as walk:
        assert sorted(KINDS) == sorted(walk.faults)  # every kind, once
        await walk.run(KINDS, budget_s=150, record=record, progress=print)
    result = assess(record)
    print("\n".join(render_table(result.table)))
    assert [f.kind for f in record.faults] == KINDS
    assert record.settled, "orders still missing at the sink after the settle bound"
    assert not [f.kind for f in record.faults if f.recover_s is None]
    assert result.truth_count > 0 and not result.lost, sorted(result.lost)[:5]
    assert result.repeats_after_dedup == 0 and result.lost_by_dedup == 0
    assert not result.position_problems, result.position_problems[:5]
    assert sum(result.cover.beyond_bound_s.values()) == 0, result.cover
