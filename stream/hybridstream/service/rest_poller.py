"""The legacy implementation (``HYBRID_MODE=rest``): poll ``/v5/position/list`` and the
tickers every ``HYBRID_POLL_INTERVAL`` seconds and emit the same unified events.

It reuses the hybrid book's REST reconciliation, so both sides produce identical event
shapes and close detection; only ``source`` ("rest") and freshness differ. Rate limiting is
handled by :class:`BybitRest` (headers, 10006, HTTP 403).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from hybridstream.hybrid.book import HybridBook
from hybridstream.hybrid.events import Source
from hybridstream.service.pipeline import Pipeline
from hybridstream.service.rest import REST_FAILURES, BybitRest
from hybridstream.service.sockets import sleep_unless

log = logging.getLogger(__name__)


class RestPoller:
    """Polls positions and mark prices; ``ready`` after the first successful poll."""

    def __init__(self, pipeline: Pipeline, rest: BybitRest, category: str, settle_coin: str,
                 interval: float) -> None:
        self.book = HybridBook(source=Source.REST)
        self.pipeline = pipeline
        self.rest = rest
        self.category = category
        self.settle_coin = settle_coin
        self.interval = interval
        self.ready = False
        self.stats = {"polls": 0, "poll_failures": 0}
        # A price change waits half a poll on average: what "hybrid faster" compares with.
        pipeline.metrics.poll_interval.set(interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``; a failed poll is logged and retried next interval."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.poll_once()
            except REST_FAILURES as exc:
                self.stats["poll_failures"] += 1
                log.warning("rest: poll failed (%s)", exc)
            except (KeyError, TypeError, ValueError) as exc:  # malformed REST data
                self.stats["poll_failures"] += 1
                log.warning("rest: unexpected response shape (%s)", exc.__class__.__name__)
            await sleep_unless(stop, max(0.0, self.interval - (time.monotonic() - started)))

    async def poll_once(self) -> None:
        """One poll: positions, then mark prices for their symbols, then reconcile."""
        items, stamp = await self.rest.fetch_position_snapshot(
            self.category, self.settle_coin, self.book.desired_symbols())
        prices: dict[str, str] = {}
        if self.book.positions or items:
            prices, _ = await self.rest.fetch_mark_prices(self.category)
        self.book.reset_tickers()
        for symbol, mark in prices.items():
            self.book.tickers[symbol] = {"markPrice": mark}
        self.pipeline.received("position", Source.REST, len(items))
        self.pipeline.received("ticker", Source.REST, len(prices))
        token = self.book.begin_seed()
        self.pipeline.emit(self.book.apply_seed(token, items, stamp, time.time() * 1000))
        self.pipeline.metrics.positions_open.set(len(self.book.positions))
        self.stats["polls"] += 1
        self.ready = True

    def status(self) -> dict[str, Any]:
        """The legacy part of ``/api/hybrid/status``; ``tickers`` are the last polled mark
        prices of the open symbols (for people and the dashboard: a candidate compares with
        REST's price at the same moment instead, without the poll's lag)."""
        open_symbols = self.book.desired_symbols()
        return {"positions": [dict(p) for p in self.book.positions.values()],
                "tickers": {s: t.get("markPrice") for s, t in self.book.tickers.items()
                            if s in open_symbols},
                **self.stats}
