"""Prometheus credentials come from Secret references, against a real Prometheus that
requires basic auth: the operator authenticates with the Secret's keys (a breach rolls
back), reads them every pass (a fixed Secret takes effect at once), and a missing Secret or a
wrong password is the metric's error, naming the Secret but never a credential."""

from __future__ import annotations

import aiohttp
import pytest
from hybridstream_operator.clients.prometheus import authorization, fetch_sample
from operator_harness import SLOW, rollout_manifest

from tests.plugins.prometheus import BASIC_AUTH, scrape_config
from tests.plugins.waiting import eventually

USER, PASSWORD, _ = BASIC_AUTH


@pytest.fixture
def secured(secured_prometheus_factory, metrics_source):
    server = secured_prometheus_factory(scrape_config([metrics_source.target], "1s"))
    metrics_source.lag.set(0)
    return server


def secured_manifest(name: str, url: str, secret: str) -> dict:
    manifest = rollout_manifest(name, url, **SLOW)
    manifest["spec"]["analysis"]["prometheus"]["basicAuth"] = {
        "username": {"name": secret, "key": "user"},
        "password": {"name": secret, "key": "password"}}
    return manifest


def put_secret(env, name: str, password: str) -> None:
    env.cluster.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                       "stringData": {"user": USER, "password": password}},
                      namespace=env.namespace)


async def test_queries_need_the_credentials(secured):
    async with aiohttp.ClientSession() as http:
        async def ask(headers: dict[str, str]):
            return await fetch_sample(http, secured.url, "m", "vector(7)", 5,
                                      headers=headers)
        good = await ask(authorization((USER, PASSWORD), None))
        anonymous = await ask({})
        wrong = await ask(authorization((USER, "wrong-password"), None))
    assert (good.value, good.error) == (7.0, None)
    assert anonymous.error == wrong.error == "HTTP 401"


async def test_breach_rolls_back_through_an_authenticated_prometheus(env, secured,
                                                                     metrics_source):
    put_secret(env, "prom-creds", PASSWORD)
    env.cluster.apply(secured_manifest("auth", secured.url, "prom-creds"),
                      namespace=env.namespace)
    async with env.acking("auth"):
        await env.wait_phase("auth", "Canary")
        metrics_source.lag.set(9)
        st = await env.wait_phase("auth", "RolledBack", within=60, started=False)
    failure = st["lastFailure"]
    assert (failure["name"], failure["value"], failure["action"]) == ("lag", "9", "rollback")
    written = str(st) + " ".join(e.message for e in await env.events("auth"))
    assert PASSWORD not in written


async def test_unreadable_credentials_are_the_metrics_error(env, secured):
    env.cluster.apply(secured_manifest("creds", secured.url, "prom-creds"),
                      namespace=env.namespace)
    seen: list[str] = []

    async def lag_value(expected: str):
        async def check():
            st = await env.status("creds")
            metrics = {m["name"]: m for m in st.get("analysis", {}).get("metrics", [])}
            value = metrics.get("lag", {}).get("lastValue")
            seen.append(f"{st.get('phase')}: {value}")
            return st if value == expected else None
        return await eventually(check, within=60, what=f"lag = {expected!r}",
                                describe=lambda: f"{seen[-5:]}\n{env.operator.tail()}")

    async with env.acking("creds"):
        st = await lag_value("error: Secret 'prom-creds' not found")
        assert st["phase"] == "Canary"
        put_secret(env, "prom-creds", "wrong-password")
        st = await lag_value("error: HTTP 401")
        assert st["phase"] == "Canary"
        put_secret(env, "prom-creds", PASSWORD)  # read every pass: no restart needed
        st = await lag_value("0")
    assert st["phase"] == "Canary"
    assert "wrong-password" not in str(st)
