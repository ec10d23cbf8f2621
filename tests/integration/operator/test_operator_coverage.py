"""The coverage watchdog against the real control plane: the only hybrid pod killed
mid-Cutover (its replacement never applies routing, like a crash loop) rolls the rollout
back after ``coverageDeadline``; legacy's pods gone mid-Cutover hand legacy's buckets to
hybrid until legacy serves again. ``status.coverage`` and the operator's
``hybridstream_operator_uncovered_buckets`` gauge say how many buckets were uncovered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from operator_harness import SLOW, promote_to, rollout_manifest, scrape_operator

from tests.plugins.waiting import eventually


def manifest(name: str, url: str) -> dict:
    body = rollout_manifest(name, url, **SLOW)
    body["spec"]["steps"]["coverageDeadline"] = "5s"
    return body


async def kill_pods(env, name: str, role: str) -> None:
    pods = await env.core.list_namespaced_pod(
        env.namespace, label_selector=f"hybridstream.io/rollout={name},hybridstream.io/role={role}")
    assert pods.items
    for pod in pods.items:
        await env.core.delete_namespaced_pod(pod.metadata.name, env.namespace,
                                             grace_period_seconds=0)


async def uncovered_seen(env, name: str, buckets: int) -> None:
    """status.coverage and the operator's gauge both report ``buckets``."""
    key = ("hybridstream_operator_uncovered_buckets",
           (("namespace", env.namespace), ("rollout", name)))

    async def check():
        st = await env.status(name)
        gauge = (await scrape_operator(env.operator.url)).get(key)
        return st.get("coverage", {}).get("uncoveredBuckets") == buckets and gauge == buckets
    await eventually(check, within=30, what=f"{buckets} uncovered buckets reported",
                     describe=env.operator.tail)


async def posted(env, name: str, reason: str) -> bool:
    """An Event with ``reason`` is posted for ``name`` (Events follow the status write, so
    a test that saw the status may be a moment early)."""
    return reason in [e.reason for e in await env.events(name)]


def never_uncovered_by_a_document(seen) -> None:
    """Every document the pods were given kept each bucket in some side's range."""
    assert seen and all(d.legacy_low <= d.effective_hybrid_high or d.legacy_low == 0
                        for d in seen), seen


async def test_killing_the_only_hybrid_pod_mid_cutover_rolls_back(env, prometheus):
    env.cluster.apply(manifest("cov", prometheus.url), namespace=env.namespace)
    async with env.acking("cov") as acker:
        await promote_to(env, "cov", "Cutover", 0)
        acker.frozen.add("hybrid")  # the replacement pod never applies routing
        await kill_pods(env, "cov", "hybrid")
        await uncovered_seen(env, "cov", 50)
        st = await env.wait_phase("cov", "RolledBack", within=60, started=False)
        failure = st["lastFailure"]
        assert (failure["source"], failure["name"], failure["value"], failure["action"]) == (
            "coverage", "uncovered-buckets", "50", "rollback")
        await uncovered_seen(env, "cov", 0)  # legacy forwards every bucket again
    never_uncovered_by_a_document(acker.seen)
    await eventually(lambda: posted(env, "cov", "RolloutAborted"), "the RolloutAborted event",
                     within=30)


async def test_legacy_gone_mid_cutover_hands_its_buckets_to_hybrid(env, prometheus):
    env.cluster.apply(manifest("lg", prometheus.url), namespace=env.namespace)
    async with env.acking("lg") as acker:
        await promote_to(env, "lg", "Cutover", 0)
        acker.frozen.add("legacy")
        await kill_pods(env, "lg", "legacy")
        await uncovered_seen(env, "lg", 50)

        async def covering():
            st = await env.status("lg")
            routing = st.get("routing", {})
            return st if (st.get("coverage", {}).get("hybridCoversLegacy")
                          and routing.get("hybridHigh") == 100) else None
        st = await eventually(covering, within=60, what="hybrid covering legacy's buckets",
                              describe=env.operator.tail)
        assert st["phase"] == "Paused" and st["lastFailure"]["action"] == "handover"
        assert st["routing"]["legacyLow"] == 50  # legacy keeps its range to come back to
        await uncovered_seen(env, "lg", 0)

        acker.frozen.discard("legacy")  # legacy serves again: it takes its buckets back

        async def restored():
            st = await env.status("lg")
            return st if (not st["coverage"].get("hybridCoversLegacy")
                          and st["routing"]["hybridHigh"] == 50) else None
        st = await eventually(restored, within=60, what="legacy's buckets back",
                              describe=env.operator.tail)
    never_uncovered_by_a_document(acker.seen)
    await eventually(lambda: posted(env, "lg", "CoverageRestored"), "the CoverageRestored event",
                     within=30)


async def test_a_new_rollouts_legacy_starting_late_is_not_covered_nor_paused(env, prometheus):
    """Legacy's first pod has not applied routing when hybrid's has, for longer than the
    deadline: a slow start, not an outage. It is reported; the walk goes on once legacy
    serves."""
    env.cluster.apply(manifest("late", prometheus.url), namespace=env.namespace)
    async with env.acking("late") as acker:
        acker.frozen.add("legacy")
        await uncovered_seen(env, "late", 100)

        async def past_the_deadline():
            st = await env.status("late")
            since = st.get("coverage", {}).get("uncoveredSince")
            return st if since and (datetime.now(UTC) - datetime.fromisoformat(since)
                                    > timedelta(seconds=8)) else None
        st = await eventually(past_the_deadline, within=60, what="the coverage deadline past")
        assert st["phase"] == "Canary" and not st["coverage"].get("hybridCoversLegacy"), st
        assert st.get("lastFailure") is None and not st["coverage"].get("legacyServed"), st
        acker.frozen.discard("legacy")
        st = await env.wait_phase("late", "Canary", within=60)
        assert st["coverage"]["legacyServed"] and st["coverage"]["uncoveredBuckets"] == 0, st
    never_uncovered_by_a_document(acker.seen)
