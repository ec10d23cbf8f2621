"""High availability through kopf peering: of two replicas, only the higher-priority one
acts; when it is SIGKILLed mid-walk, the other takes over once the dead one's peering
record expires, and the walk completes with every step exactly once. Replicas configured
alike (as a Deployment's are) derive distinct priorities from their pod names, so one of
them works instead of all pausing."""

from __future__ import annotations

from hybridstream_operator.logic.peering import derive_priority
from operator_harness import OperatorProcess, rollout_manifest

from tests.plugins.waiting import eventually

TRANSITION = "hybridstream_operator.handlers.reconcile"
PAUSED, RESUMED = "Pausing operations in favour of", "Resuming operations after the pause"


def since_last_start(replica: OperatorProcess) -> str:
    """The replica's log since its latest start (each start logs its peering priority)."""
    text = replica.process.log.read_text()
    return text[text.rfind("with priority"):]


def yielded(replica: OperatorProcess) -> bool:
    """kopf starts a peering operator paused and logs only changes: a replica has yielded
    when it paused in favour of a peer, or never resumed since it started."""
    text = since_last_start(replica)
    return text.rfind(PAUSED) >= text.rfind(RESUMED)


def resumed(replica: OperatorProcess) -> bool:
    text = since_last_start(replica)
    return text.rfind(RESUMED) > text.rfind(PAUSED)


async def test_standby_replica_takes_over_after_the_active_one_dies(env, prometheus, tmp_path):
    (tmp_path / "primary").mkdir()
    primary = OperatorProcess(env.namespace, env.cluster.kubeconfig, tmp_path / "primary",
                              priority=10)
    primary.start()
    standby = env.operator  # priority 0, started by the fixture
    steps = {"canary": {"duration": "3s"}, "parallel": {"duration": "3s"}}

    async def settled():
        return resumed(primary) and yielded(standby)
    await eventually(settled, what="the primary to resume and the standby to yield",
                     describe=lambda: primary.tail() + standby.tail(), within=60)
    env.cluster.apply(rollout_manifest("ha", prometheus.url, **steps), namespace=env.namespace)
    try:
        async with env.acking("ha"):
            await env.wait_phase("ha", "Parallel", within=90)
            assert TRANSITION not in standby.process.log.read_text()  # it did nothing
            assert TRANSITION in primary.process.log.read_text()
            primary.kill()

            async def done():
                st = await env.status("ha")
                return st if st.get("legacyRetiredAt") else None
            st = await eventually(done, within=120, what="the standby to finish the walk",
                                  describe=standby.tail)
    finally:
        primary.stop()
    assert RESUMED in standby.process.log.read_text()
    assert TRANSITION in standby.process.log.read_text()
    assert [(h["phase"], h.get("stepIndex")) for h in st["history"]] == [
        ("Canary", None), ("Parallel", None), ("Cutover", 0), ("Cutover", 1),
        ("Production", None)]


async def test_replicas_configured_alike_do_not_all_pause(env, prometheus, tmp_path):
    """Two replicas with the chart's configuration: no priority, POD_NAME from the
    downward API. Before per-pod priorities both ran with 0 and kopf paused both."""
    names = ["hybridstream-operator-6c9f7b8d4-x2k9p", "hybridstream-operator-6c9f7b8d4-q7wzt"]
    env.operator.stop()  # the fixture's replica restarts as the first pod (teardown stops it)
    env.operator.priority, env.operator.pod_name = None, names[0]
    env.operator.start()
    (tmp_path / "second").mkdir()
    second = OperatorProcess(env.namespace, env.cluster.kubeconfig, tmp_path / "second",
                             priority=None, pod_name=names[1])
    second.start()
    by_name = {names[0]: env.operator, names[1]: second}
    active_name = max(names, key=derive_priority)
    active = by_name[active_name]
    standby = by_name[next(n for n in names if n != active_name)]
    try:
        # Both start at once, so the standby may never log a pause (it starts paused and
        # simply never resumes): wait for the active one to resume and the standby to be
        # paused by then.
        async def settled():
            return resumed(active) and yielded(standby)
        await eventually(settled, what="the higher-priority replica to resume and the other "
                         "to stay paused", within=60,
                         describe=lambda: active.tail() + standby.tail())
        env.cluster.apply(rollout_manifest("alike", prometheus.url), namespace=env.namespace)
        async with env.acking("alike"):
            await env.wait_phase("alike", "Parallel", within=90)
    finally:
        second.stop()
    assert f"with priority {derive_priority(active_name)}" in active.process.log.read_text()
    assert TRANSITION in active.process.log.read_text()
    assert TRANSITION not in standby.process.log.read_text()
