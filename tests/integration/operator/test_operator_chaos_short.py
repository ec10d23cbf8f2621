"""The chaos suite at the operator level, short: the real operator walks a rollout to
Production on a kwok control plane of its own while real stream processes play its pods
(``chaos_rollout.py``), and a handful of faults hit the pods, the sinks, the exchange, the
operator (SIGKILL) and the kube-apiserver (restart). Every fault is shorter than the
coverage deadline, so the correct outcome is the full walk with no rollback and no
watchdog action; and, as at the stream level, nothing lost, every repeat removed by
``EventDeduplicator``, no symbol uncovered beyond the watchdog bound."""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

from tests.integration.operator.chaos_rollout import (
    OPERATOR_WALK,
    RolloutPlan,
    operator_chaos_system,
)
from tests.integration.stream.chaos_accounting import (
    WalkRecord,
    assess,
    render_table,
    uncured,
)
from tests.plugins.cluster import dedicated_cluster

KINDS = ["kill9-legacy", "kill9-operator", "redis-outage", "apiserver-restart",
         "kill9-hybrid", "webhook-outage", "sim-restart"]
SHORT = dataclasses.replace(OPERATOR_WALK, symbols=6, redis_outage_s=(6, 6),
                            webhook_outage_s=(6, 6), sim_down_s=(2, 2), kubelet_delay_s=(1, 1),
                            pause_s=(1, 1), recover_within_s=45, settle_within_s=60)
PLAN = RolloutPlan(canary_s=6, parallel_s=6, cutover_s=(20, 20), production_s=6,
                   operator_down_s=(3, 3), apiserver_down_s=(4, 4), complete_within_s=120)


async def test_operator_walk_under_faults_completes_and_loses_nothing(tmp_path: Path) -> None:
    record = WalkRecord(seed=7)
    with dedicated_cluster(f"hs-opchaos-{os.getpid()}") as cluster:
        async with operator_chaos_system(tmp_path, cluster, SHORT, PLAN,
                                         random.Random(7)) as walk:
            await walk.run(KINDS, budget_s=150, record=record, progress=print)
    result = assess(record)
    print("\n".join(render_table(result.table)))
    outcome = record.operator
    assert outcome is not None
    print(outcome)
    assert [f.kind for f in record.faults] == KINDS
    assert not [f.kind for f in record.faults if f.recover_s is None]
    # every fault ended inside the coverage deadline: the walk completes, untouched
    assert outcome.completed and outcome.rollbacks == 0, outcome
    assert outcome.history == PLAN.expected_history(), outcome.history
    assert not outcome.watchdog, outcome.watchdog
    assert outcome.operator_starts == 2  # the one SIGKILL
    assert result.truth_count > 0 and not result.lost, sorted(result.lost)[:5]
    assert result.repeats_after_dedup == 0 and result.lost_by_dedup == 0
    assert not result.position_problems, result.position_problems[:5]
    assert record.settled, "not every process ready and covered after the settle bound"
    assert sum(result.cover.beyond_bound_s.values()) == 0, result.cover
    assert not uncured(result.cover.beyond_episodes, outcome.watchdog,
                       PLAN.coverage_deadline_s)
