"""The dashboard in a real browser (Debian's headless Chromium over the DevTools protocol)
against the real operator on the kwok control plane: the list shows a walking rollout and
follows it without a reload; the rollout page is reached and driven with the keyboard
alone; abort, confirmed in the dialog, rolls the rollout back. The screenshots the README
shows are written here (docs/images/)."""

from __future__ import annotations

import json

from operator_harness import REPO, SLOW, dashboard, promote_to, rollout_manifest

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


async def test_list_follows_a_walk_and_abort_from_the_page_rolls_back(
        env, prometheus, metrics_source, browser):
    metrics_source.lag.set(4)  # shown as 80 % of its threshold, "near threshold"
    env.cluster.apply(rollout_manifest("walk", prometheus.url, **SLOW), namespace=env.namespace)
    async with env.acking("walk"), dashboard(env) as url:
        await env.wait_phase("walk", "Canary")
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
        sections = "document.getElementById('sections')?.innerText || ''"
        await browser.wait(f"{sections}.includes('acked g')", what="the rollout page")
        # the new step's first measurement of the lag (4 against "result < 5")
        await browser.wait(f"{sections}.includes('80% (near threshold)')",
                           what="the lag near its threshold")
        for expected in ("hybrid [0,50), legacy [50,100)", "Phase timeline", "◔ Canary",
                         "◑ Parallel", "result < 5", "no PostgreSQL history sink configured",
                         "unreachable:", "Stable revision"):
            await browser.wait(f"document.body.innerText.includes({json.dumps(expected)})",
                               what=expected)
        segments = json.loads(await browser.evaluate(
            "JSON.stringify([...document.querySelectorAll('.seg')].map(s => s.title))"))
        assert segments == ["[0,50) hybrid", "[50,100) legacy"], segments
        await browser.wait("!!document.querySelector('[aria-labelledby=events-title] table')",
                           what="the rollout's Events listed")
        await browser.screenshot(IMAGES / "dashboard-rollout.png")

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
