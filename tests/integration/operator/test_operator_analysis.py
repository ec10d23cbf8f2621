"""Analysis against a real Prometheus scraping a real metrics endpoint: a breached metric
rolls back in every phase (or steps back / holds per its action) with the value in status
and an Event; Prometheus down holds progression; a firing Alertmanager alert and the
emergency endpoint roll back at once, both when the test posts the payload and through the
real chain Prometheus rule -> Alertmanager -> operator webhook."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import yaml
from hybridstream.routing import Mode
from operator_harness import SLOW, TOKEN, promote_to, rollout_manifest, scrape_operator, send_intent

from tests.plugins.alertmanager import webhook_config
from tests.plugins.prometheus import scrape_config
from tests.plugins.waiting import eventually


@pytest.mark.parametrize("where", [
    ("Canary", None, False), ("Parallel", None, False), ("Cutover", 0, False),
    ("Cutover", 1, False), ("Production", None, False)], ids=str)
async def test_breach_rolls_back_in_every_phase(env, prometheus, metrics_source, where):
    phase, index, retired = where
    env.cluster.apply(rollout_manifest("rb", prometheus.url, **SLOW), namespace=env.namespace)
    async with env.acking("rb") as acker:
        await promote_to(env, "rb", phase, index, retired)
        metrics_source.lag.set(9)
        st = await env.wait_phase("rb", "RolledBack", within=60, started=False)
        assert [h["phase"] for h in st["history"]][-2:] == ["RollingBack", "RolledBack"]
        failure = st["lastFailure"]
        assert (failure["source"], failure["name"], failure["value"], failure["action"]) == \
            ("metric", "lag", "9", "rollback")
        last = acker.seen[-1]
        assert (last.hybrid_mode, last.hybrid_high, last.legacy_low) == (Mode.CANARY, 0, 0)
        assert all(d.legacy_low <= d.effective_hybrid_high for d in acker.seen)

        async def hybrid_scaled_down():
            return (await env.status("rb")).get("replicas", {}).get("candidate") == 0
        await eventually(hybrid_scaled_down, what="hybrid scaled down after the delay", within=60)
    assert st["replicas"]["stable"] == 1
    assert st["revisions"][-1]["outcome"] == "rolledBack"
    assert st["revisions"][-1]["failure"]["value"] == "9"
    warnings = [e.message for e in await env.events("rb") if e.reason == "AnalysisFailed"]
    assert any("last value 9" in m for m in warnings), warnings


async def test_step_back_returns_to_the_previous_percentage(env, prometheus, metrics_source):
    manifest = rollout_manifest("sb", prometheus.url, action="step-back", **SLOW)
    env.cluster.apply(manifest, namespace=env.namespace)
    async with env.acking("sb") as acker:
        await promote_to(env, "sb", "Cutover", 1)
        metrics_source.lag.set(9)
        st = await env.wait_phase("sb", "Paused", started=False)
        assert (st["pausedFrom"], st["stepIndex"]) == ("Cutover", 0)

        async def routed_back():
            d = acker.seen[-1] if acker.seen else None
            return d is not None and (d.hybrid_high, d.legacy_low) == (50, 50)
        await eventually(routed_back, what="routing back at 50/50", within=60)
    states = [(d.hybrid_high, d.legacy_low) for d in acker.seen]
    back = states[states.index((100, 100)):]
    assert back.index((100, 50)) < back.index((50, 50))  # l went down before h
    assert st["lastFailure"]["action"] == "step-back" and st["lastFailure"]["value"] == "9"
    assert any(h["reason"].startswith("step back:") and h.get("stepIndex") == 0
               for h in st["history"]), st["history"]
    warnings = [e.message for e in await env.events("sb") if e.reason == "AnalysisFailed"]
    assert any("last value 9" in m for m in warnings), warnings


async def test_hold_pauses_until_resumed(env, prometheus, metrics_source):
    env.cluster.apply(rollout_manifest("hold", prometheus.url, action="hold", **SLOW),
                      namespace=env.namespace)
    async with env.acking("hold"):
        await env.wait_phase("hold", "Canary")
        metrics_source.lag.set(9)
        st = await env.wait_phase("hold", "Paused", started=False)
        assert st["pausedFrom"] == "Canary" and st["lastFailure"]["value"] == "9"
        assert st["lastFailure"]["action"] == "hold"
        warnings = [e.message for e in await env.events("hold") if e.reason == "AnalysisFailed"]
        assert any("last value 9" in m for m in warnings), warnings
        metrics_source.lag.set(0)
        await send_intent(env.custom, env.namespace, "hold", "resume", "r1")
        st = await env.wait_phase("hold", "Canary")
        assert st["lastIntentId"] == "r1" and st["transitions"] == 3


async def test_prometheus_down_holds_and_never_promotes(env, prometheus):
    env.cluster.apply(rollout_manifest("down", prometheus.url), namespace=env.namespace)
    async with env.acking("down"):
        await env.wait_phase("down", "Canary")
        prometheus.stop()

        async def errors(at_least: int):
            st = await env.status("down")
            assert st["phase"] == "Canary", st["message"]  # 2 s steps: it would have moved
            metrics = st.get("analysis", {}).get("metrics") or []
            return metrics and metrics[0]["errored"] >= at_least and st
        st = await eventually(lambda: errors(3), what="analysis errors", within=60)
        st = await eventually(lambda: errors(8), what="more analysis errors", within=60)
    assert st["analysis"]["metrics"][0]["lastVerdict"] == "error"
    assert st["phase"] == "Canary" and st["transitions"] == 1


async def test_alertmanager_webhook_rolls_back_at_once(env, prometheus):
    env.cluster.apply(rollout_manifest("am", prometheus.url, **SLOW), namespace=env.namespace)

    def payload(fingerprint: str, started: datetime) -> dict:
        return {"version": "4", "status": "firing", "alerts": [{
            "status": "firing", "fingerprint": fingerprint, "startsAt": started.isoformat(),
            "labels": {"alertname": "HybridStreamNoEventsCritical", "namespace": env.namespace,
                       "rollout": "am"},
            "annotations": {"summary": "no events for 5 minutes"}}]}
    url = f"{env.operator.url}/api/v1/alertmanager"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with env.acking("am"), aiohttp.ClientSession() as http:
        await promote_to(env, "am", "Cutover", 0)
        # an alert that started firing before this walk (a late delivery of an earlier
        # walk's fault) is recorded as handled and changes nothing
        stale = payload("old999", datetime.now(UTC) - timedelta(hours=1))
        async with http.post(url, json=stale, headers=auth) as r:
            assert r.status == 200 and (await r.json())["acted"] == [f"{env.namespace}/am"]

        async def ignored():
            st = await env.status("am")
            return any(i.startswith("old999@") for i in st.get("handledAlerts", [])) and st
        st = await eventually(ignored, what="the stale alert handled", within=30)
        assert st["phase"] == "Cutover" and not st.get("lastFailure"), st
        alert = payload("abc123", datetime.now(UTC))
        async with http.post(url, json=alert) as r:
            assert r.status == 401
        async with http.post(url, json=alert, headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        assert (await env.status("am"))["phase"] == "Cutover"
        sent = time.monotonic()
        async with http.post(url, json=alert, headers=auth) as r:
            assert r.status == 200 and (await r.json())["acted"] == [f"{env.namespace}/am"]

        async def rolling_back():
            st = await env.status("am")
            return st.get("phase") in ("RollingBack", "RolledBack") and st
        st = await eventually(rolling_back, what="rollback after the alert", within=60)
        elapsed = time.monotonic() - sent
        print(f"\nalertmanager webhook → status {st['phase']} in {elapsed:.3f} s")
        assert st["lastFailure"]["source"] == "alert"
        assert "no events for 5 minutes" in st["lastFailure"]["message"]
        await env.wait_phase("am", "RolledBack", started=False)


async def test_real_alertmanager_chain_rolls_back(env, prometheus_factory, alertmanager_factory,
                                                 metrics_source, tmp_path):
    """A Prometheus alerting rule fires, Debian's Alertmanager routes it to the operator's
    webhook with the bearer token, and the rollout rolls back. The rollout's own analysis
    watches another series, which stays healthy: the rollback can only come from the alert."""
    manager = alertmanager_factory(
        webhook_config(f"{env.operator.url}/api/v1/alertmanager", TOKEN))
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "hybridstream", "rules": [{
        "alert": "HybridStreamNoEventsCritical", "expr": "test_stream_silence_seconds > 300",
        "labels": {"severity": "critical", "namespace": env.namespace, "rollout": "amc"},
        "annotations": {"summary": "no events for {{ $value }} seconds"}}]}]}))
    config = scrape_config([metrics_source.target], "1s", rule_files=[str(rules)])
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [manager.target]}]}]}
    prometheus = prometheus_factory(config)
    metrics_source.lag.set(0)
    metrics_source.silence.set(0)
    env.cluster.apply(rollout_manifest("amc", prometheus.url, **SLOW), namespace=env.namespace)
    async with env.acking("amc") as acker:
        await promote_to(env, "amc", "Cutover", 0)
        metrics_source.silence.set(400)
        breached = time.monotonic()

        async def rolling_back():
            st = await env.status("amc")
            return st.get("phase") in ("RollingBack", "RolledBack") and st
        st = await eventually(rolling_back, within=60, what="rollback after the alert",
                              describe=manager.process.tail)
        print(f"\nmetric breached -> Prometheus rule -> Alertmanager -> {st['phase']} in "
              f"{time.monotonic() - breached:.3f} s")
        failure = st["lastFailure"]
        assert (failure["source"], failure["name"]) == ("alert", "HybridStreamNoEventsCritical")
        assert "no events for 400 seconds" in failure["message"], failure
        # The rollout's own analysis (reset at each step) never saw a failure.
        assert all(m["failed"] == 0 for m in st["analysis"]["metrics"]), st["analysis"]
        held = [a for a in manager.alerts() if a["labels"]["alertname"] ==
                "HybridStreamNoEventsCritical"]
        assert held and held[0]["labels"]["rollout"] == "amc", held
        st = await env.wait_phase("amc", "RolledBack", started=False)
    assert all(d.legacy_low <= d.effective_hybrid_high for d in acker.seen)
    metrics = await scrape_operator(env.operator.url)
    labels = tuple(sorted({"namespace": env.namespace, "rollout": "amc"}.items()))
    assert metrics[("hybridstream_operator_rollbacks_total", labels)] == 1.0
    assert metrics.get(("hybridstream_operator_reconcile_errors_total", labels), 0.0) == 0.0
    assert (acker.seen[-1].hybrid_high, acker.seen[-1].legacy_low) == (0, 0)


async def test_emergency_rollback_endpoint(env, prometheus):
    env.cluster.apply(rollout_manifest("em", prometheus.url, **SLOW), namespace=env.namespace)
    url = f"{env.operator.url}/api/v1/rollouts/{env.namespace}/em/emergency-rollback"
    async with env.acking("em"), aiohttp.ClientSession() as http:
        await promote_to(env, "em", "Parallel")
        async with http.post(url, json={"reason": "x"}) as r:
            assert r.status == 401
        async with http.post(url, json={"reason": "trading error", "operator": "alice"},
                             headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 202
        st = await env.wait_phase("em", "RolledBack", started=False)
    assert "emergency rollback by alice: trading error" in st["lastFailure"]["message"]
