"""The dashboard in a real browser (Debian's headless Chromium over the DevTools protocol)
against the real operator on the kwok control plane: the list shows a walking rollout and
follows it without a reload; the rollout page is reached and driven with the keyboard
alone, and shows what the stream pods say and the orders and executions of their
PostgreSQL history, both read through the API server's pod proxy from real stream
processes behind the kwok pods (a database that goes down is shown as such); abort,
confirmed in the dialog, rolls the rollout back. The screenshots the README shows are
written here (docs/images/)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hybridstream.contract import ROLE_LABEL, ROLLOUT_LABEL
from hybridstream.simulator.app import Simulator, running_simulator
from operator_harness import (
    REPO,
    SLOW,
    dashboard,
    promote_to,
    rollout_manifest,
    run_plugin,
)

from tests.integration.stream.harness import KEY, place_market_order
from tests.integration.stream.processes import build_env, stream_process
from tests.plugins.pod_proxy import serve_pod_from
from tests.plugins.postgres import PostgresServer
from tests.plugins.processes import free_port
from tests.plugins.waiting import eventually

IMAGES = REPO / "docs" / "images"


def _row(name: str) -> str:
    """The list row of ``name``, as JavaScript."""
    return f"document.querySelector('tr[data-rollout$=\"/{name}\"]')"


async def _tab_to(page, target: str, limit: int = 40) -> None:
    """Press Tab until ``target`` (as :meth:`Page.focused` names it) has the focus; the
    order it passes through is the page's keyboard order."""
    seen = []
    for _ in range(limit):
        await page.press("Tab")
        seen.append(await page.focused())
        if seen[-1] == target:
            return
    raise AssertionError(f"{target} never got the focus; Tab went through {seen}")


@dataclass
class Backend:
    """What stands behind the rollout's kwok pods: the exchange, the history database and
    the address each role's real stream process listens on (``port`` is the rollout's
    ``metricsPort``)."""

    sim: Simulator
    database: PostgresServer
    db_url: str
    port: int
    addresses: dict[str, str]
    logs: Path

    def apply(self, env, manifest: dict) -> None:
        """Create the rollout with the PostgreSQL history sink and the backend's port."""
        env.cluster.kubectl("-n", env.namespace, "create", "secret", "generic",
                            "history-db", f"--from-literal=url={self.db_url}")
        manifest["spec"]["workload"].update(
            sink={"type": "postgres", "urlSecret": {"name": "history-db", "key": "url"}},
            metricsPort=self.port)
        env.cluster.apply(manifest, namespace=env.namespace)

    @asynccontextmanager
    async def serve(self, env, name: str) -> AsyncIterator[None]:
        """A real ``hybridstream run`` for each of the rollout's two kwok pods, on its role's
        address, which becomes its pod's IP: the pod proxy reaches them. Both write the
        history; the legacy poller stores positions only, so the hybrid one forwards
        everything (``production``, with no routing to follow) to store the orders."""
        async def running() -> dict[str, str] | None:
            pods = (await env.core.list_namespaced_pod(
                env.namespace, label_selector=f"{ROLLOUT_LABEL}={name}")).items
            roles = {p.metadata.labels[ROLE_LABEL]: p.metadata.name for p in pods
                     if p.status.phase == "Running" and p.status.pod_ip}
            return roles if set(roles) == set(self.addresses) else None
        roles = await eventually(running, what="both stream pods Running", describe=lambda:
                               env.cluster.kubectl("-n", env.namespace, "get", "pods",
                                                   "-o", "wide", "--show-labels"))
        with ExitStack() as processes:
            for role, mode in (("legacy", "rest"), ("hybrid", "production")):
                processes.enter_context(stream_process(self.logs / f"{role}.log", build_env(
                    self.sim, mode, HYBRID_HTTP_HOST=self.addresses[role],
                    HYBRID_SINK="postgres", HYBRID_SINK_URL=self.db_url), port=self.port))
                await serve_pod_from(env.core, env.namespace, roles[role],
                                     self.addresses[role])
            yield


@pytest.fixture
async def backend(postgres_factory, pod_addresses, tmp_path) -> AsyncIterator[Backend]:
    database = postgres_factory()
    async with running_simulator(symbols=3) as sim:
        yield Backend(sim, database, database.create_database(), free_port(),
                      dict(zip(("legacy", "hybrid"), pod_addresses, strict=True)), tmp_path)


async def _pods_and_history_shown(browser, backend: Backend) -> None:
    """The stream pods' own status and every order and execution of the exchange (from the
    PostgreSQL history), all through the pod proxy."""
    pods = "(document.querySelector('[aria-labelledby=pods-title]')?.innerText || '')"
    await browser.wait(f"{pods}.includes('\\trest\\t') && {pods}.includes('\\tproduction\\t')",
                       what="both stream pods' own status")
    assert "unreachable" not in await browser.evaluate(pods)
    account = backend.sim.engine.accounts[KEY]
    history = "(document.getElementById('history')?.innerText || '')"
    await browser.wait(" && ".join(f"{history}.includes({json.dumps(i)})" for i in [
        *account.orders, *(e["execId"] for e in account.executions)]),
        what="the orders and executions from the history")
    text = await browser.evaluate(history)
    assert "SOLUSDT\tBuy\tMarket\t3" in text and "Filled" in text, text
    rows = json.loads(await browser.evaluate(
        "JSON.stringify([...document.querySelectorAll('#history table')].map("
        "t => t.tBodies[0].rows.length))"))
    assert rows == [len(account.orders), len(account.executions)], rows


async def _plugin_reads_the_same_pods(env) -> None:
    """``kubectl hsr get NAME`` asks one pod per side through the same pod proxy: each
    process forwards the three open positions (stand-alone, nothing routes them)."""
    async def symbols() -> str | None:
        out = await run_plugin(env, "get", "walk")
        return out if "Symbols:   3 open; stable forwards 3, candidate forwards 3" in out \
            else None
    await eventually(symbols, within=30, what="kubectl hsr get's open symbols")


async def test_list_follows_a_walk_and_abort_from_the_page_rolls_back(
        env, prometheus, metrics_source, browser, backend):
    metrics_source.lag.set(4)  # shown as 80 % of its threshold, "near threshold"
    backend.apply(env, rollout_manifest("walk", prometheus.url, **SLOW))
    async with env.acking("walk"), dashboard(env) as url, backend.serve(env, "walk"):
        await env.wait_phase("walk", "Canary")
        for symbol, side, qty in (("BTCUSDT", "Buy", "0.01"), ("ETHUSDT", "Sell", "0.2"),
                                  ("SOLUSDT", "Buy", "3")):
            await place_market_order(backend.sim, symbol, side, qty)
        await browser.open(url)
        await browser.wait(f"{_row('walk')}?.innerText.includes('Canary')",
                           what="the list showing walk in Canary")
        # A marker on the window: it survives live updates, not a reload.
        await browser.evaluate("window.notReloaded = true")

        await promote_to(env, "walk", "Parallel")
        await promote_to(env, "walk", "Cutover", 0)
        await browser.wait(f"{_row('walk')}?.innerText.includes('Cutover')",
                           what="the list following the walk to Cutover")
        row = await browser.evaluate(f"{_row('walk')}.innerText")
        assert "cutover 1/2 (50%)" in row and "50%" in row, row
        assert await browser.evaluate("window.notReloaded") is True
        assert "live" in await browser.evaluate("document.getElementById('live').innerText")
        await browser.screenshot(IMAGES / "dashboard-list.png")

        # Keyboard only: the skip link, then the header, then the rollout's link.
        await _tab_to(browser, "a:walk")
        await browser.press("Enter")
        await browser.wait(f"location.hash === '#/rollout/{env.namespace}/walk'")
        sections = "(document.getElementById('sections')?.innerText || '')"
        await browser.wait(f"{sections}.includes('acked g')", what="the rollout page")
        # the new step's first measurement of the lag (4 against "result < 5")
        await browser.wait(f"{sections}.includes('80% (near threshold)')",
                           what="the lag near its threshold")
        for expected in ("hybrid [0,50), legacy [50,100)", "Phase timeline", "◔ Canary",
                         "◑ Parallel", "result < 5", "Stable revision"):
            await browser.wait(f"document.body.innerText.includes({json.dumps(expected)})",
                               what=expected)
        await _pods_and_history_shown(browser, backend)
        await _plugin_reads_the_same_pods(env)
        segments = json.loads(await browser.evaluate(
            "JSON.stringify([...document.querySelectorAll('.seg')].map(s => s.title))"))
        assert segments == ["[0,50) hybrid", "[50,100) legacy"], segments
        await browser.wait("!!document.querySelector('[aria-labelledby=events-title] table')",
                           what="the rollout's Events listed")
        await browser.screenshot(IMAGES / "dashboard-rollout.png")

        # The database down: the section says so, in the pod's words.
        backend.database.stop()
        await browser.wait("document.querySelector('[aria-labelledby=history-title]')"
                           "?.innerText.includes('503: postgres unavailable')",
                           what="the history's error on the page")

        # Abort: a reason, the button, and a confirmation that starts on Cancel.
        await _tab_to(browser, "input:reason")
        await browser.type("dashboard test")
        await _tab_to(browser, "button:abort")
        await browser.press("Enter")
        await browser.wait("document.getElementById('confirm').open", what="the dialog")
        assert await browser.focused() == "button:Cancel"
        assert "dashboard test" in await browser.evaluate(
            "document.getElementById('confirm-text').innerText")
        await browser.press("Tab")
        assert await browser.focused() == "button:Confirm"
        await browser.press("Enter")
        await browser.wait("document.getElementById('result').innerText"
                           ".includes('abort requested')", what="the abort acknowledged")

        st = await env.wait_phase("walk", "RolledBack", started=False)
        assert st["lastFailure"]["source"] == "manual"
        assert "dashboard test" in st["lastFailure"]["message"]
        await browser.wait("document.getElementById('phase')?.innerText.includes('RolledBack')",
                           what="the page following the rollback")
        await browser.wait(f"{sections}.includes('manual abort: dashboard test')",
                           what="the last failure on the page")

        # Errors are shown: a rollout that does not exist says so.
        await browser.evaluate(f"location.hash = '#/rollout/{env.namespace}/missing'")
        await browser.wait("document.querySelector('[role=alert]')?.innerText"
                           ".includes('does not exist')", what="the missing rollout's error")
    assert browser.exceptions == []
