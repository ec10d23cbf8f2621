"""Parallel compares the candidate's prices with the stable revision's (issue 11): the
routing document names stable's status API (``stableStatus``), the candidate reads its
``tickers`` with its own status token, and falls back to REST's price, counted and said,
when stable's cannot be had. Two simulators stand for two feeds, so that a price that
diverges only on stable's side proves which reference the candidate used."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from hybridstream.routing import RoutingDocument
from hybridstream.simulator.app import Simulator, running_simulator

from tests.plugins.waiting import eventually

from .harness import KEY, build_settings, running_stream
from .processes import StreamProcess, build_env, stream_process, write_document
from .test_modes import sample

TOKEN = "status-token-of-the-rollout"
SYMBOL = "SOLUSDT"


def freeze(sim: Simulator, price: Decimal) -> None:
    sim.control.set_price(SYMBOL, str(price))


async def status_until(proc: StreamProcess, check: Callable[[dict[str, Any]], bool],
                       what: str, within: float = 45.0) -> dict[str, Any]:
    """The process's status once ``check`` holds for it (bounded)."""
    deadline = time.monotonic() + within
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert proc.proc.alive(), proc.proc.tail()
        try:
            async with aiohttp.ClientSession() as session, session.get(
                    proc.base + "/api/hybrid/status",
                    headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 200, await resp.text()
                last = await resp.json()
        except aiohttp.ClientError:
            last = {}  # still starting
        if last and check(last):
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {last.get('hybrid', last)}")


def comparisons(status: dict[str, Any]) -> dict[str, Any]:
    return status["hybrid"]["comparisons"]


async def test_beside_the_legacy_poller_the_candidate_compares_with_rest_now(
        tmp_path: Path) -> None:
    """Stable is the legacy poller (revision 0, the first walk) on feed B, the candidate
    (revision 1) on feed A. The poller's prices are REST's as of its last poll, up to an
    interval old; the candidate compares with REST's price now (stable's own source
    without that lag, which alone read as divergence at the 0.1 % threshold). So B moving
    5 % changes nothing, stable's status API is not read, and no fallback is counted."""
    routing = tmp_path / "routing.json"
    async with running_simulator(symbols=4) as feed_a, running_simulator(symbols=4) as feed_b:
        price = feed_a.market.mark_price(SYMBOL)
        for sim in (feed_a, feed_b):
            sim.control.open_position(KEY, SYMBOL, "Buy", "1")
            freeze(sim, price)
        stable_env = build_env(feed_b, "rest", HYBRID_REVISION="0", HYBRID_STATUS_TOKEN=TOKEN,
                               HYBRID_ROUTING_FILE=str(routing))
        with stream_process(tmp_path / "stable.log", stable_env) as stable:
            write_document(routing, RoutingDocument(
                generation=1, hybridMode="parallel", stableRevision=0, candidateRevision=1,
                stableStatus=f"127.0.0.1:{stable.port}"))
            candidate_env = build_env(feed_a, "canary", HYBRID_REVISION="1",
                                      HYBRID_STATUS_TOKEN=f"{TOKEN}\n",
                                      HYBRID_ROUTING_FILE=str(routing))
            with stream_process(tmp_path / "candidate.log", candidate_env) as candidate:
                first = await status_until(
                    candidate, lambda s: comparisons(s)["against"]["rest"] >= 3,
                    "comparisons against REST")
                assert first["mode"] == "parallel"
                assert comparisons(first)["against"]["stable"] == 0, comparisons(first)
                assert not any(comparisons(first)["fallbacks"].values()), comparisons(first)

                freeze(feed_b, price * Decimal("1.05"))  # the poller's feed alone moves
                done = comparisons(first)["against"]["rest"]
                later = await status_until(
                    candidate, lambda s: comparisons(s)["against"]["rest"] >= done + 3,
                    "more comparisons against REST")
                assert comparisons(later)["critical"] == 0, comparisons(later)
                assert comparisons(later)["against"]["stable"] == 0, comparisons(later)
                assert TOKEN not in candidate.output() and TOKEN not in stable.output()


async def test_a_hybrid_stable_is_read_with_the_rollouts_token_and_a_wrong_one_falls_back(
        tmp_path: Path) -> None:
    """Stable is a hybrid revision (a later walk): its ``tickers`` are the reference. A
    candidate whose token stable refuses compares with REST, counted as unauthorized."""
    routing = tmp_path / "routing.json"
    async with running_simulator(symbols=4) as sim:
        sim.control.open_position(KEY, SYMBOL, "Buy", "1")
        freeze(sim, sim.market.mark_price(SYMBOL))
        write_document(routing, RoutingDocument(generation=1, hybridMode="canary",
                                                stableRevision=1, candidateRevision=2))
        common = {"HYBRID_ROUTING_FILE": str(routing), "HYBRID_POLL_INTERVAL": 0.5}
        async with running_stream(build_settings(sim, HYBRID_MODE="canary", HYBRID_REVISION=1,
                                                 HYBRID_STATUS_TOKEN=TOKEN, **common)) as (
                stable, _):
            write_document(routing, RoutingDocument(
                generation=2, hybridMode="parallel", stableRevision=1, candidateRevision=2,
                stableStatus=f"127.0.0.1:{stable.http_port}"))
            for token, against, reason in ((TOKEN, "stable", None),
                                           ("another-token", "rest", "unauthorized")):
                async with running_stream(build_settings(
                        sim, HYBRID_MODE="canary", HYBRID_REVISION=2,
                        HYBRID_STATUS_TOKEN=token, **common)) as (candidate, buffer):
                    await eventually(lambda c=candidate, a=against: sample(
                        c, "hybridstream_price_comparisons_total", result="agree",
                        against=a) >= 3, f"agreeing comparisons against {against}")
                    assert stable.hybrid is not None and stable.hybrid.mode.value == "production"
                    other = "rest" if against == "stable" else "stable"
                    assert sample(candidate, "hybridstream_price_comparisons_total",
                                  result="agree", against=other) == 0
                    fallbacks = sample(candidate, "hybridstream_price_reference_fallbacks_total",
                                       reason=reason or "unauthorized")
                    assert (fallbacks >= 3) if reason else (fallbacks == 0)
                    assert buffer.events() == []  # parallel never forwards
