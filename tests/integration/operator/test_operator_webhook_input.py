"""The operator's webhooks never answer 500 to input: malformed or wrong-shaped bodies are
400, a rollout it does not serve (or that does not exist) is 404, an oversized body 413;
every refusal is counted. Against the real operator process and API server, plus the same
application served in-process for a token read with a trailing newline (as from a file)."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hybridstream_operator.clients.kube import Kube
from hybridstream_operator.handlers.reconcile import Runtime
from hybridstream_operator.handlers.webhook import MAX_BODY, build_app
from operator_harness import TOKEN

from tests.plugins.waiting import eventually

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def serving(env) -> None:
    """Until the operator's HTTP server answers (it starts with the operator)."""
    async def up() -> bool:
        try:
            async with aiohttp.ClientSession() as http, \
                    http.get(f"{env.operator.url}/healthz") as r:
                return r.status == 200
        except aiohttp.ClientError:
            return False
    await eventually(up, within=60, what="the operator's HTTP server",
                     describe=env.operator.tail)


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/api/v1/alertmanager", b"{not json", 400),
    ("/api/v1/alertmanager", b"[1, 2]", 400),
    ("/api/v1/alertmanager", b'{"alerts": "firing"}', 400),
    ("/api/v1/alertmanager", b'{"alerts": [1]}', 400),
    ("/api/v1/alertmanager", b'{"alerts": [{"status": "firing", "labels": []}]}', 200),
    ("/api/v1/alertmanager", b" " * (MAX_BODY + 10), 413),
    ("/api/v1/rollouts/{ns}/nope/emergency-rollback", b"{}", 404),
    ("/api/v1/rollouts/other-namespace/em/emergency-rollback", b"{}", 404),
    ("/api/v1/rollouts/{ns}/nope/emergency-rollback", b'"stop"', 400),
])
async def test_bad_input_is_refused_never_a_500(env, path, body, status):
    await serving(env)
    url = env.operator.url + path.format(ns=env.namespace)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body, headers=AUTH) as r:
            assert r.status == status, await r.text()
            assert "Traceback" not in await r.text()
        async with http.get(f"{env.operator.url}/metrics") as r:
            metrics = await r.text()
    if status >= 400:
        assert "hybridstream_operator_webhook_refused_total{" in metrics


async def test_an_existing_rollout_with_a_bad_body_is_400(env):
    env.cluster.apply({"apiVersion": "hybridstream.io/v1alpha1", "kind": "HybridStreamRollout",
                       "metadata": {"name": "em"},
                       "spec": {"workload": {"image": "x",
                                             "credentialsSecret": {"name": "bybit-creds"}}}},
                      namespace=env.namespace)
    await serving(env)
    url = f"{env.operator.url}/api/v1/rollouts/{env.namespace}/em/emergency-rollback"
    async with aiohttp.ClientSession() as http, http.post(url, data=b"[", headers=AUTH) as r:
        assert r.status == 400


async def test_the_token_is_trimmed(env, kube):
    rt = Runtime.create(Kube.from_api_client(kube), aiohttp.ClientSession(), [env.namespace])
    app = build_app(rt, f"{TOKEN}\n", [env.namespace])
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        r = await client.post("/api/v1/alertmanager", json={"alerts": []},
                              headers={"Authorization": f"Bearer {TOKEN}  "})
        assert r.status == 200, await r.text()
        r = await client.post("/api/v1/alertmanager", json={"alerts": []},
                              headers={"Authorization": "Bearer wrong"})
        assert r.status == 401
    await rt.http.close()
