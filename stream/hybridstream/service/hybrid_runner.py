"""The hybrid side of a stream process: both sockets around one book, plus the price
comparison that runs while the routing document says ``parallel`` (with the stable
revision's prices, REST's when stable's are unavailable), and the REST fallback that keeps
data flowing while a socket is down (after Production no legacy pod covers it).

The mode switches live (``set_mode``) because the operator walks canary → parallel →
cutover → production by editing the routing document, not by restarting pods.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from hybridstream.hybrid.book import HybridBook
from hybridstream.hybrid.decisions import (
    Reference,
    Unavailable,
    assess_divergence,
    split_references,
)
from hybridstream.routing import Mode
from hybridstream.service.pipeline import Pipeline
from hybridstream.service.private_client import PrivateClient
from hybridstream.service.public_client import PublicClient
from hybridstream.service.rest import REST_FAILURES, BybitRest
from hybridstream.service.sockets import ClientConfig, sleep_unless
from hybridstream.service.stable_prices import StablePrices

log = logging.getLogger(__name__)
RESTART_LOOKBACK_MS = 60_000
FALLBACK_GRACE = 5.0  # seconds a fallback poll may take beyond its interval


class HybridRunner:
    """Runs the private and public clients and, in ``parallel`` mode, the comparison."""

    def __init__(self, pipeline: Pipeline, rest: BybitRest, config: ClientConfig,
                 mode: Mode, status_token: str | None = None) -> None:
        # A restarted pod re-reads its last minute of orders and executions on first
        # connect (consumers dedupe by id): a fill in its predecessor's last moments is
        # not lost.
        self.book = HybridBook(started_ms=int(time.time() * 1000) - RESTART_LOOKBACK_MS)
        self.pipeline = pipeline
        self.rest = rest
        self.config = config
        self.mode = mode
        self.public = PublicClient(self.book, pipeline, config)
        self.private = PrivateClient(self.book, pipeline, rest, config, self._positions_changed)
        #: stable's status API, from the routing document (the app sets ``endpoint``)
        self.stable = StablePrices(status_token)
        #: stable is the legacy REST poller (the first walk; the app sets it from routing)
        self.stable_is_poller = False
        self.comparisons = {"agree": 0, "warn": 0, "critical": 0}
        self.compared_against = dict.fromkeys(Reference, 0)
        self.fallbacks = dict.fromkeys(Unavailable, 0)
        self.degraded = {"private": False, "public": False}
        self._fallback_ok_at: dict[str, float | None] = {"private": None, "public": None}

    def set_mode(self, mode: Mode) -> None:
        """Switch mode live; forwarding follows the routing document, comparison the mode."""
        if mode is not self.mode:
            log.info("hybrid mode %s -> %s", self.mode.value, mode.value)
            self.pipeline.metrics.forget_divergence()  # a past mode's ratios are stale
        self.mode = mode
        self.pipeline.metrics.set_mode(mode)

    @property
    def ready(self) -> bool:
        """Serving: each socket is healthy (private authenticated and seeded, public up) or,
        while it is down, its REST fallback polled successfully of late. A pod whose data
        flows through the fallback still covers its buckets; the analysis' socket guards,
        not readiness, decide whether a long outage should roll back."""
        return self._serving("private", self.private.seeded) and \
            self._serving("public", self.public.connected)

    def _serving(self, socket: str, healthy: bool) -> bool:
        polled = self._fallback_ok_at[socket]
        fresh = 2 * self.config.poll_interval + FALLBACK_GRACE
        return healthy or (polled is not None and time.monotonic() - polled <= fresh)

    def _positions_changed(self) -> None:
        metrics = self.pipeline.metrics
        metrics.positions_open.set(len(self.book.positions))
        metrics.forget_divergence(keep=self.book.desired_symbols())  # closed: no ratio
        self.public.changed.set()

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Run everything until ``stop``."""
        await asyncio.gather(self.private.run(session, stop), self.public.run(session, stop),
                             self._compare_loop(session, stop), self._fallback_loop(stop))

    def _assess_degraded(self) -> dict[str, bool]:
        """A socket is degraded once down for ``fallback_after`` and until it is back and
        reconciled (private: re-seeded and its gap recovered)."""
        metrics, after = self.pipeline.metrics, self.config.fallback_after
        back = {"private": self.private.seeded, "public": self.public.connected}
        for socket in self.degraded:
            if metrics.disconnected_seconds(socket) >= after:
                self.degraded[socket] = True
            elif back[socket]:
                self.degraded[socket] = False
                self._fallback_ok_at[socket] = None
            metrics.degraded.labels(socket=socket).set(int(self.degraded[socket]))
        return self.degraded

    async def _fallback_loop(self, stop: asyncio.Event) -> None:
        """Every poll interval while a socket is degraded: poll REST for what it carried
        (private: positions, orders, executions; public: mark prices of open symbols)."""
        while not stop.is_set():
            await sleep_unless(stop, self.config.poll_interval)
            degraded = self._assess_degraded()
            for socket, poll in (("private", self.private.poll_fallback),
                                 ("public", self._poll_marks)):
                if not degraded[socket]:
                    continue
                try:
                    await poll()
                except REST_FAILURES as exc:
                    self.pipeline.metrics.errors.labels(category="rest").inc()
                    log.warning("fallback: %s REST poll failed (%s)", socket,
                                exc.__class__.__name__)
                else:
                    self._fallback_ok_at[socket] = time.monotonic()

    async def _poll_marks(self) -> None:
        """The public socket's part: mark prices of the open symbols (none open: nothing
        to poll, and nothing is missed)."""
        if self.book.positions:
            prices, stamp = await self.rest.fetch_mark_prices(self.config.category)
            self.pipeline.emit(self.book.apply_rest_marks(prices, stamp, time.time() * 1000))

    async def _compare_loop(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Every poll interval in ``parallel`` mode: WS mark vs stable's mark per open
        symbol (REST's for a symbol stable has no price for)."""
        while not stop.is_set():
            if self.mode is Mode.PARALLEL and self.book.positions:
                await self._compare_once(session)
            await sleep_unless(stop, self.config.poll_interval)

    async def _compare_once(self, session: aiohttp.ClientSession) -> None:
        symbols = self.book.desired_symbols()
        if self.stable_is_poller:
            # The poller's prices are REST's as of its last poll, up to an interval old: REST
            # now is stable's own source without that lag, which alone read as divergence
            # and paused healthy first walks at the seed's 0.1 % threshold.
            stable: dict[str, str] = {}
            missing: dict[str, Unavailable] = {}
        else:
            stable, missing = split_references(symbols, await self.stable.fetch(session))
        rest: dict[str, str] = {}
        if missing or self.stable_is_poller:
            try:
                rest, _ = await self.rest.fetch_mark_prices(self.config.category)
            except (*REST_FAILURES, KeyError) as exc:
                log.warning("parallel: REST price poll failed (%s)", exc.__class__.__name__)
        for reason in missing.values():
            self.fallbacks[reason] += 1
            self.pipeline.metrics.price_fallbacks.labels(reason=reason.value).inc()
        for symbol in sorted(symbols):
            if symbol in stable:
                self._compare(symbol, stable[symbol], Reference.STABLE)
            elif symbol in rest:
                self._compare(symbol, rest[symbol], Reference.REST)

    def _compare(self, symbol: str, reference_price: str, against: Reference) -> None:
        ws_price = self.book.mark_price(symbol)
        verdict = None if ws_price is None else assess_divergence(ws_price, reference_price)
        if verdict is None:
            return
        ratio, result = verdict
        metrics = self.pipeline.metrics
        metrics.set_divergence(symbol, ratio)
        metrics.price_comparisons.labels(result=result.value, against=against.value).inc()
        self.comparisons[result.value] += 1
        self.compared_against[against] += 1
        if result.value != "agree":
            log.warning("parallel: %s diverges from %s by %.4f%% (%s)", symbol, against.value,
                        ratio * 100, result.value)

    def status(self) -> dict[str, Any]:
        """The hybrid part of ``/api/hybrid/status``."""
        metrics = self.pipeline.metrics
        return {
            "private": {"connected": metrics.socket_is_up("private"),
                        "authenticated": self.private.authenticated,
                        "seeded": self.private.seeded, "connects": self.private.connects,
                        "disconnectedSeconds": round(metrics.disconnected_seconds("private"), 3),
                        **self.private.stats},
            "public": {"connected": self.public.connected, "connects": self.public.connects,
                       "disconnectedSeconds": round(metrics.disconnected_seconds("public"), 3),
                       **self.public.stats},
            "positions": [dict(p) for p in self.book.positions.values()],
            "subscriptions": sorted(self.public.active),
            "tickers": {s: t.get("markPrice") for s, t in self.book.tickers.items()},
            "comparisons": {**self.comparisons,
                            "against": {k.value: n for k, n in self.compared_against.items()},
                            "fallbacks": {k.value: n for k, n in self.fallbacks.items() if n},
                            "stableStatus": self.stable.endpoint},
            "degraded": dict(self.degraded),
        }
