"""``kubectl hsr dashboard``'s HTTP side on a real control plane, as a real subprocess:
the list as JSON and as server-sent events that follow a change, the rollout page's data,
an intent posted from it, and every refusal said out loud (unknown rollout, unknown
action, a cross-origin post, a non-loopback Host)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import yaml
from operator_harness import SLOW, dashboard, rollout_manifest

from tests.plugins.waiting import eventually


async def _sse(resp: aiohttp.ClientResponse) -> AsyncIterator[dict]:
    """The ``data:`` payloads of a server-sent events response."""
    async for raw in resp.content:
        line = raw.decode().strip()
        if line.startswith("data: "):
            yield json.loads(line[len("data: "):])


async def _measured(env, name: str, value: float) -> bool:
    """Whether the operator's analysis recorded ``value`` for the lag metric yet."""
    metrics = ((await env.status(name)).get("analysis") or {}).get("metrics") or []
    return any(m["name"] == "lag" and m.get("lastValue") not in (None, "no data")
               and float(m["lastValue"]) == value for m in metrics)


async def test_list_detail_stream_and_actions(env, prometheus, metrics_source):
    metrics_source.lag.set(4)  # 80 % of the metric's "result < 5": near its threshold
    env.cluster.apply(rollout_manifest("srv", prometheus.url, **SLOW), namespace=env.namespace)
    async with env.acking("srv"):
        await env.wait_phase("srv", "Canary")
        await eventually(lambda: _measured(env, "srv", 4), what="the lag measured", within=60)
        async with dashboard(env) as url, aiohttp.ClientSession() as http:
            async with http.get(f"{url}api/rollouts") as r:
                body = await r.json()
            assert body["namespace"] == env.namespace
            assert [(row["name"], row["phase"]) for row in body["rows"]] == [("srv", "Canary")]

            detail_url = f"{url}api/rollouts/{env.namespace}/srv"
            async with http.get(detail_url) as r:
                detail = await r.json()
            assert detail["row"]["stable"].startswith("#0 ") and detail["row"]["candidate"] \
                .startswith("#1 ") and detail["routing"]["mode"] == "canary"
            assert {p["role"] for p in detail["routing"]["pods"]} == {"legacy", "hybrid"}
            assert detail["history"]["configured"] is False  # nothing asked, and it says so
            assert detail["history"]["message"].startswith("no PostgreSQL history sink")
            # kwok pods run no process: the pod proxy's refusal is shown per pod
            assert detail["streamPods"] and all(p["error"] for p in detail["streamPods"])
            lag = next(m for m in detail["metrics"] if m["name"] == "lag")
            assert (lag["condition"], lag["proximity"], lag["near"]) == ("result < 5", 0.8, True)

            # the list stream: a snapshot first, then the pause as it happens
            async with http.get(f"{url}api/rollouts/stream") as stream:
                assert stream.headers["Content-Type"].startswith("text/event-stream")
                events = _sse(stream)
                first = await asyncio.wait_for(anext(events), 30)
                assert first["rows"][0]["phase"] == "Canary"
                async with http.post(f"{detail_url}/actions",
                                     json={"kind": "pause", "reason": "from the test"}) as r:
                    assert r.status == 202, await r.text()
                    assert (await r.json())["message"] == \
                        f"pause requested for {env.namespace}/srv"

                async def paused() -> bool:
                    update = await asyncio.wait_for(anext(events), 30)
                    return update["rows"][0]["phase"] == "Paused"
                await eventually(paused, within=60, what="the stream to show Paused")

            async with http.get(f"{url}api/rollouts/{env.namespace}/nope") as r:
                assert r.status == 404 and "no such rollout" in (await r.json())["error"]
            async with http.post(f"{url}api/rollouts/{env.namespace}/nope/actions",
                                 json={"kind": "abort"}) as r:
                assert r.status == 404 and (await r.json())["error"].startswith("404:")
            async with http.post(f"{detail_url}/actions", json={"kind": "delete"}) as r:
                assert r.status == 400 and "delete" in (await r.json())["error"]
            async with http.post(f"{detail_url}/actions", json={"kind": "abort"},
                                 headers={"Origin": "http://evil.example"}) as r:
                assert r.status == 403
            async with http.post(f"{detail_url}/actions", data="kind=abort",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}
                                 ) as r:
                assert r.status == 403
            async with http.get(f"{url}api/rollouts",
                                headers={"Host": "attacker.example:3100"}) as r:
                assert r.status == 403
    st = await env.status("srv")
    assert st["phase"] == "Paused", st  # the refused posts changed nothing


async def test_all_namespaces_lists_with_a_namespace(env, prometheus):
    env.cluster.apply(rollout_manifest("everywhere", prometheus.url, **SLOW),
                      namespace=env.namespace)
    async with dashboard(env, "-A") as url, aiohttp.ClientSession() as http:
        async def listed():
            async with http.get(f"{url}api/rollouts") as r:
                body = await r.json()
            return body if any(row["name"] == "everywhere" for row in body["rows"]) else None
        body = await eventually(listed, within=30, what="the rollout listed")
    assert body["namespace"] is None
    assert {"namespace": env.namespace, "name": "everywhere"}.items() <= \
        next(r for r in body["rows"] if r["name"] == "everywhere").items()


async def test_the_callers_rbac_applies(env, prometheus, tmp_path):
    """A caller who may only read rollouts sees the list, and is told, in the API server's
    words, that they may not act or read pods: the dashboard has no rights of its own."""
    env.cluster.apply(rollout_manifest("ro", prometheus.url, **SLOW), namespace=env.namespace)
    reader = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
              "metadata": {"name": "rollout-reader"},
              "rules": [{"apiGroups": ["hybridstream.io"], "resources": ["hybridstreamrollouts"],
                         "verbs": ["get", "list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "rollout-reader"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "rollout-reader"},
               "subjects": [{"kind": "ServiceAccount", "name": "reader",
                             "namespace": env.namespace}]}
    env.cluster.kubectl("-n", env.namespace, "create", "serviceaccount", "reader")
    env.cluster.apply(reader, binding, namespace=env.namespace)
    token = env.cluster.kubectl("-n", env.namespace, "create", "token", "reader").strip()
    config = yaml.safe_load(env.cluster.kubeconfig.read_text())
    config["users"] = [{"name": "reader", "user": {"token": token}}]
    config["contexts"] = [{"name": "reader", "context": {
        "cluster": config["clusters"][0]["name"], "user": "reader",
        "namespace": env.namespace}}]
    config["current-context"] = "reader"
    kubeconfig = tmp_path / "reader.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))

    async with dashboard(env, "--kubeconfig", str(kubeconfig)) as url, \
            aiohttp.ClientSession() as http:
        async with http.get(f"{url}api/rollouts") as r:
            assert r.status == 200 and [row["name"] for row in (await r.json())["rows"]] == ["ro"]
        async with http.post(f"{url}api/rollouts/{env.namespace}/ro/actions",
                             json={"kind": "abort", "reason": "not mine"}) as r:
            error = (await r.json())["error"]
        assert r.status == 403 and "cannot patch resource" in error, error
        assert f"system:serviceaccount:{env.namespace}:reader" in error
        # the rollout itself is shown; the pods and Events it may not read say why
        async with http.get(f"{url}api/rollouts/{env.namespace}/ro/stream") as stream:
            detail = await asyncio.wait_for(anext(_sse(stream)), 30)
        assert detail["row"]["name"] == "ro" and detail["streamPods"] == [], detail
        assert 'cannot list resource "pods"' in detail["problems"]["pods"]
        assert 'cannot list resource "events"' in detail["problems"]["events"]
    annotations = (await env.rollout("ro"))["metadata"].get("annotations") or {}
    assert "hybridstream.io/intent" not in annotations
