"""A rollout with second-scale steps walks every phase to production on a real control
plane: Deployments scale, the routing document follows the handover order, status,
Events and the kubectl plugin tell the story."""

from __future__ import annotations

import aiohttp
from hybridstream.routing import Mode
from kubernetes_asyncio import client
from operator_harness import API_KEY, API_SECRET, rollout_manifest, run_plugin, scrape_operator

from tests.plugins.waiting import eventually


async def test_walks_every_phase_to_production(env, prometheus):
    env.cluster.apply(rollout_manifest("walk", prometheus.url), namespace=env.namespace)
    apps = client.AppsV1Api(env.api)
    async with env.acking("walk") as acker:
        st = await env.wait_phase("walk", "Canary")
        # kopf settings: our finalizer, and kopf's own state under our prefix only
        meta = (await env.rollout("walk"))["metadata"]
        assert "hybridstream.io/finalizer" in meta["finalizers"], meta
        assert not [k for k in meta.get("annotations") or {} if k.startswith("kopf.")], meta
        legacy = await apps.read_namespaced_deployment("walk-legacy", env.namespace)
        hybrid = await apps.read_namespaced_deployment("walk-hybrid-1", env.namespace)
        assert (legacy.spec.replicas, hybrid.spec.replicas) == (1, 1)

        async def done():
            s = await env.status("walk")
            return s if s.get("phase") == "Production" and s.get("legacyRetiredAt") else None
        st = await eventually(done, within=120, what="production with legacy retired",
                              describe=env.operator.tail)

        async def legacy_scaled_down():
            dep = await apps.read_namespaced_deployment("walk-legacy", env.namespace)
            return dep.spec.replicas == 0 and not (dep.status.ready_replicas or 0)
        await eventually(legacy_scaled_down, what="legacy scaled to zero", within=60)

    assert [(h["phase"], h.get("stepIndex")) for h in st["history"]] == [
        ("Canary", None), ("Parallel", None), ("Cutover", 0), ("Cutover", 1),
        ("Production", None)]
    assert st["transitions"] == 5 and st["rollbacks"] == 0
    assert (st["stepLabel"], st["hybridPercent"]) == ("production", 100)
    assert st["analysis"]["metrics"][0]["passed"] >= 1

    # the routing document went h-first forward: every state the pods applied is gap-free
    states = [(d.hybrid_mode, d.hybrid_high, d.legacy_low) for d in acker.seen]
    assert all(d.legacy_low <= d.effective_hybrid_high for d in acker.seen)
    gens = [d.generation for d in acker.seen]
    assert gens == sorted(set(gens))
    for before, after in [((Mode.CUTOVER, 50, 0), (Mode.CUTOVER, 50, 50)),
                          ((Mode.CUTOVER, 100, 50), (Mode.CUTOVER, 100, 100)),
                          ((Mode.CUTOVER, 100, 100), (Mode.PRODUCTION, 100, 100))]:
        assert states.index(before) < states.index(after), states

    # pods are built as specified
    hybrid = await apps.read_namespaced_deployment("walk-hybrid-1", env.namespace)
    pod = hybrid.spec.template.spec
    c = pod.containers[0]
    env_vars = {e.name: e for e in c.env}
    assert env_vars["HYBRID_MODE"].value == "canary"
    assert env_vars["HYBRID_ROUTING_CONFIGMAP"].value == "walk-routing"
    assert env_vars["POD_NAME"].value_from.field_ref.field_path == "metadata.name"
    assert env_vars["BYBIT_API_SECRET"].value_from.secret_key_ref.name == "bybit-creds"
    assert c.security_context.read_only_root_filesystem and c.security_context.run_as_non_root
    assert hybrid.metadata.owner_references[0].kind == "HybridStreamRollout"
    legacy = await apps.read_namespaced_deployment("walk-legacy", env.namespace)
    assert {e.name: e.value for e in legacy.spec.template.spec.containers[0].env}[
        "HYBRID_MODE"] == "rest"
    rbac = client.RbacAuthorizationV1Api(env.api)
    role = await rbac.read_namespaced_role("walk-stream", env.namespace)
    assert {v for r in role.rules for v in r.verbs} == {"get", "list", "watch"}  # no pods
    ack = await rbac.read_namespaced_role_binding("walk-stream-ack", env.namespace)
    assert (ack.role_ref.kind, ack.role_ref.name) == ("ClusterRole", "hybridstream-stream-ack")

    events = {(e.reason, e.type) for e in await env.events("walk")}
    assert ("PhaseProduction", "Normal") in events and ("LegacyRetired", "Normal") in events

    # credentials never leak into status, Events or the operator's log
    everything = str(st) + str([e.message for e in await env.events("walk")])
    everything += env.operator.process.log.read_text()
    assert API_KEY not in everything and API_SECRET not in everything

    # the kubectl plugin reads the same story
    out = await run_plugin(env, "get")
    assert "walk" in out and "Production" in out and "g8 h0 l0" in out and "1(test)" in out
    assert (await run_plugin(env, "history", "walk")).count("Cutover") == 2


async def test_operator_serves_metrics_and_liveness(env, prometheus):
    env.cluster.apply(rollout_manifest("obs", prometheus.url), namespace=env.namespace)
    async with env.acking("obs"):
        await env.wait_phase("obs", "Parallel", within=60)
        await env.custom.patch_namespaced_custom_object(  # hold it still: pause
            "hybridstream.io", "v1alpha1", env.namespace, "hybridstreamrollouts", "obs",
            {"metadata": {"annotations": {"hybridstream.io/intent": "pause@1"}}},
            _content_type="application/merge-patch+json")
        await env.wait_phase("obs", "Paused", started=False)
    mine = {"namespace": env.namespace, "rollout": "obs"}
    seen: dict[tuple, float] = {}

    def value(name: str, **labels: str) -> float | None:
        return seen.get((name, tuple(sorted({**mine, **labels}.items()))))

    async with aiohttp.ClientSession() as http:
        async def scrape():
            seen.clear()
            seen.update(await scrape_operator(env.operator.url))
            return value("hybridstream_operator_rollout_phase", phase="Paused") == 1.0
        await eventually(scrape, what="operator metrics", describe=lambda: str(seen), within=60)
        assert value("hybridstream_operator_rollout_phase", phase="Parallel") == 0.0
        assert value("hybridstream_operator_analysis_measurements_total",
                     metric="lag", verdict="pass") >= 1
        assert value("hybridstream_operator_transitions_total", phase="Paused") == 1.0
        async with http.get(f"http://127.0.0.1:{env.operator.liveness_port}/healthz") as r:
            assert r.status == 200


async def test_deployments_scale_as_specified(env, prometheus):
    """spec.workload.replicas drives both Deployments, and every acking pod of a side
    gates the handover: three hybrid pods must all ack before legacy lets go."""
    manifest = rollout_manifest("sized", prometheus.url)
    manifest["spec"]["workload"]["replicas"] = {"legacy": 2, "hybrid": 3}
    env.cluster.apply(manifest, namespace=env.namespace)
    apps = client.AppsV1Api(env.api)

    async def scale(name: str) -> tuple[int, int]:
        dep = await apps.read_namespaced_deployment(f"sized-{name}", env.namespace)
        return dep.spec.replicas, dep.status.ready_replicas or 0

    async with env.acking("sized") as acker:
        await env.wait_phase("sized", "Canary")

        async def both_up():
            return await scale("legacy") == (2, 2) and await scale("hybrid-1") == (3, 3)
        await eventually(both_up, what="legacy 2/2 and hybrid 3/3 Ready", within=60)

        async def retired():
            st = await env.status("sized")
            return st if st.get("legacyRetiredAt") else None
        st = await eventually(retired, within=120, what="production with legacy retired",
                              describe=env.operator.tail)

        async def legacy_gone():
            return await scale("legacy") == (0, 0)
        await eventually(legacy_gone, what="legacy scaled to zero", within=60)
    assert await scale("hybrid-1") == (3, 3)
    # revision 1 is stable now: the stable side runs the hybrid replicas
    assert (st["replicas"]["stable"], st["replicas"]["candidate"]) == (3, 0)
    assert st["stableRevision"]["number"] == 1 and "candidateRevision" not in st
    assert all(d.legacy_low <= d.effective_hybrid_high for d in acker.seen)
