"""Revisions on a real control plane: a new image after Production walks again beside the
stable revision without touching its pods until Production; a change mid-Cutover hands
the buckets back and walks the newest spec; ``kubectl hsr undo --to-revision 1`` walks an
old revision again under its number."""

from __future__ import annotations

import difflib
import pprint
from typing import Any

from hybridstream.hybrid.decisions import build_forward_range
from hybridstream.routing import INITIAL, Role, RoutingDocument
from kubernetes_asyncio import client
from operator_harness import SLOW, promote_to, rollout_manifest, run_plugin

from tests.plugins.waiting import eventually


async def set_image(env, name: str, image: str) -> None:
    await env.custom.patch_namespaced_custom_object(
        "hybridstream.io", "v1alpha1", env.namespace, "hybridstreamrollouts", name,
        {"spec": {"workload": {"image": image}}}, _content_type="application/merge-patch+json")


async def complete(env, name: str, stable: int, within: float = 120) -> dict[str, Any]:
    async def done():
        st = await env.status(name)
        ok = (st.get("phase") == "Production" and "candidateRevision" not in st
              and (st.get("stableRevision") or {}).get("number") == stable)
        return st if ok else None
    return await eventually(done, within=within, what=f"{name}: revision {stable} stable",
                            describe=env.operator.tail)


async def pods_of(env, name: str, revision: int) -> dict[str, str]:
    """Pod name -> uid of one revision's pods."""
    found = await env.core.list_namespaced_pod(
        env.namespace, label_selector=f"hybridstream.io/rollout={name},"
        f"hybridstream.io/revision={revision}")
    return {p.metadata.name: p.metadata.uid for p in found.items
            if not p.metadata.deletion_timestamp}


async def stable_service(env, name: str) -> tuple[str, set[str]]:
    """The revision ``<name>-stable`` selects, and the pods its EndpointSlices list (what
    its DNS name resolves to)."""
    service = await env.core.read_namespaced_service(f"{name}-stable", env.namespace)
    slices = await client.DiscoveryV1Api(env.api).list_namespaced_endpoint_slice(
        env.namespace, label_selector=f"kubernetes.io/service-name={name}-stable")
    pods = {e.target_ref.name for s in slices.items for e in s.endpoints or []
            if e.target_ref is not None and (e.conditions is None or e.conditions.ready)}
    return service.spec.selector["hybridstream.io/revision"], pods


async def stable_service_names(env, name: str, revision: int) -> None:
    """Wait until ``<name>-stable`` selects ``revision`` and resolves to its pods alone."""
    async def named():
        selected, pods = await stable_service(env, name)
        return selected == str(revision) and pods and pods == set(
            await pods_of(env, name, revision))
    await eventually(named, what=f"{name}-stable to name revision {revision}'s pods",
                     describe=env.operator.tail)


async def owned_names(env, name: str) -> dict[str, set[str]]:
    """The rollout's Services and PodDisruptionBudgets, by name."""
    selector = f"hybridstream.io/rollout={name}"
    services = await env.core.list_namespaced_service(env.namespace, label_selector=selector)
    budgets = await client.PolicyV1Api(env.api).list_namespaced_pod_disruption_budget(
        env.namespace, label_selector=selector)
    return {"services": {s.metadata.name for s in services.items},
            "budgets": {b.metadata.name for b in budgets.items}}


def spec_diff(before: Any, after: Any) -> str:
    """What changed in a Deployment's spec (the failure message when it should not)."""
    a = pprint.pformat(before.spec.to_dict()).splitlines()
    b = pprint.pformat(after.spec.to_dict()).splitlines()
    return "\n".join(difflib.unified_diff(a, b, lineterm=""))


def gap_free(seen: list[RoutingDocument], revisions: set[int]) -> None:
    """Under every pair of documents the pods of the stable and the candidate may hold at
    once (consecutive ones: acks gate every step), the two cover all 100 buckets."""
    for before, after in zip([INITIAL, *seen], seen, strict=False):
        for stable_doc, candidate_doc in ((before, after), (after, before), (after, after)):
            stable, candidate = after.stable_revision, after.candidate_revision
            buckets: set[int] = set()
            for revision, doc in ((stable, stable_doc), (candidate, candidate_doc)):
                if revision is None or revision not in revisions:
                    continue
                natural = Role.LEGACY if revision == 0 else Role.HYBRID
                low, high = build_forward_range(doc, doc.side_of(natural, revision))
                buckets |= set(range(low, high))
            assert buckets == set(range(100)), (before, after)


async def test_a_new_image_after_production_walks_beside_the_untouched_stable(env, prometheus):
    env.cluster.apply(rollout_manifest("rev", prometheus.url), namespace=env.namespace)
    apps = client.AppsV1Api(env.api)
    async with env.acking("rev") as acker:
        await complete(env, "rev", stable=1)
        await stable_service_names(env, "rev", 1)  # it followed the swap
        # one pod a side (replicas 1/1): no budget, which could never refuse an eviction
        assert await owned_names(env, "rev") == {"services": {"rev-stable"}, "budgets": set()}
        stable_dep = await apps.read_namespaced_deployment("rev-hybrid-1", env.namespace)
        stable_pods = await pods_of(env, "rev", 1)
        assert stable_pods

        async def first_walk_seen():  # status can say so before the acker's next poll
            return acker.seen and acker.seen[-1].candidate_revision is None
        await eventually(first_walk_seen, what="the acker to see revision 1 stable", within=60)
        first_walk = len(acker.seen)
        assert {(d.stable_revision, d.stable_status) for d in acker.seen
                if d.hybrid_mode.value == "parallel"} == {(0, "rev-stable:8080")}

        await set_image(env, "rev", "hybridstream:v2")
        st = await env.wait_phase("rev", "Canary", started=False)
        assert st["candidateRevision"]["label"] == "2 (v2)"
        assert st["stableRevision"]["number"] == 1
        seen_phases: set[str] = set()

        async def walked():
            # read before the status: a walk seen in flight afterwards was in flight then
            dep = await apps.read_namespaced_deployment("rev-hybrid-1", env.namespace)
            pods = await pods_of(env, "rev", 1)
            st = await env.status("rev")
            seen_phases.add(st.get("phase"))
            if "candidateRevision" in st:
                # stable's Deployment and pods are untouched while the candidate walks, and
                # its Service (where the candidate reads stable's prices) names them
                assert dep.metadata.generation == stable_dep.metadata.generation, spec_diff(
                    stable_dep, dep)
                assert dep.spec.replicas == 1 and pods == stable_pods
                assert (await stable_service(env, "rev"))[0] == "1"
                return None
            return st
        st = await eventually(walked, within=120, what="revision 2 walked to stable",
                              describe=env.operator.tail)
        assert {"Canary", "Parallel", "Cutover", "Production"} <= seen_phases
        # revisions 1 and 2 ran a pod each: two pods on the hybrid side, one budget over both
        assert await owned_names(env, "rev") == {"services": {"rev-stable"},
                                                 "budgets": {"rev-hybrid"}}
        assert st["stableRevision"]["label"] == "2 (v2)"
        candidate = await apps.read_namespaced_deployment("rev-hybrid-2", env.namespace)
        assert candidate.spec.template.spec.containers[0].image == "hybridstream:v2"

        async def old_stable_at_zero():
            dep = await apps.read_namespaced_deployment("rev-hybrid-1", env.namespace)
            return dep.spec.replicas == 0 and not await pods_of(env, "rev", 1)
        await eventually(old_stable_at_zero, what="revision 1 scaled to zero", within=60)
        async def swapped():
            return acker.seen[-1].candidate_revision is None or None
        await eventually(swapped, what="the acker to see revision 2 stable", within=60)
        second_walk = acker.seen[first_walk:]
        assert [(d.stable_revision, d.candidate_revision) for d in second_walk][-1] == (2, None)
        assert {(d.stable_revision, d.candidate_revision) for d in second_walk[:-1]} == {(1, 2)}
        # Parallel compared with revision 1's prices: the document said where they are
        assert {d.stable_status for d in second_walk
                if d.hybrid_mode.value == "parallel"} == {"rev-stable:8080"}
        await stable_service_names(env, "rev", 2)
        gap_free(acker.seen, {0, 1, 2})

    history = await run_plugin(env, "history", "rev")
    assert "revision 2 (v2)" in history and "replaced" in history and "stable since" in history
    table = await run_plugin(env, "get")
    assert "2(v2)" in table


async def test_a_change_mid_cutover_hands_back_and_walks_the_newest_spec(env, prometheus):
    env.cluster.apply(rollout_manifest("mid", prometheus.url, **SLOW), namespace=env.namespace)
    async with env.acking("mid") as acker:
        await promote_to(env, "mid", "Cutover", 0)
        await set_image(env, "mid", "hybridstream:v2")

        async def restarted():
            st = await env.status("mid")
            ok = st.get("phase") == "Canary" and \
                (st.get("candidateRevision") or {}).get("number") == 2
            return st if ok else None
        st = await eventually(restarted, what="the newest spec walking",
                              describe=env.operator.tail, within=60)
        phases = [h["phase"] for h in st["history"]]
        assert phases[-3:] == ["RollingBack", "RolledBack", "Canary"], phases
        assert "superseded" in st["history"][-3]["reason"]
        assert [(r["number"], r.get("outcome")) for r in st["revisions"]] == [
            (0, "stable"), (1, "superseded"), (2, None)]
        # the walk began again only after legacy held every bucket: h went back to 0 first
        async def newest_routed():
            return next((i for i, d in enumerate(acker.seen) if d.candidate_revision == 2),
                        None)
        back = await eventually(newest_routed, what="routing naming revision 2", within=60)
        assert acker.seen[back - 1].effective_hybrid_high == 0
        gap_free(acker.seen, {0, 1, 2})

        async def superseded_gone():
            return not await pods_of(env, "mid", 1)
        await eventually(superseded_gone, what="revision 1's pods gone", within=60)


async def test_undo_to_revision_one(env, prometheus):
    env.cluster.apply(rollout_manifest("undo", prometheus.url), namespace=env.namespace)
    async with env.acking("undo"):
        await complete(env, "undo", stable=1)
        await set_image(env, "undo", "hybridstream:v2")
        await complete(env, "undo", stable=2)
        refused = await run_plugin(env, "undo", "undo", "--to-revision", "0", expect_rc=1)
        assert "legacy REST poller" in refused
        out = await run_plugin(env, "undo", "undo", "--to-revision", "1")
        assert "walks revision 1 (test)" in out
        spec = (await env.rollout("undo"))["spec"]["workload"]
        assert spec["image"] == "hybridstream:test" and spec["replicas"] == {"legacy": 1,
                                                                             "hybrid": 1}
        st = await complete(env, "undo", stable=1)
    assert [(r["number"], r["outcome"]) for r in st["revisions"]] == [
        (0, "replaced"), (1, "stable"), (2, "replaced")]
