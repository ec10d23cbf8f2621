"""Bybit v5 REST calls the stream needs: signed ``/v5/position/list``, the order and
execution lists (paginated) and public ``/v5/market/tickers``, honouring Bybit's rate-limit
signals.

Rate limits (docs/bybit-protocol.md §6): ``X-Bapi-Limit-Status`` = 0 means wait until
``X-Bapi-Limit-Reset-Timestamp``; ``retCode`` 10006 ("Too many visits") or HTTP 403 ("access
too frequent", the IP limit) mean back off exponentially and retry.
Bybit's 10004 message echoes the signed ``origin_string`` (which contains the API key), so
error text from the server is never passed on: only the ``retCode``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from hybridstream.bybit.signing import rest_headers
from hybridstream.hybrid.decisions import Backoff, decide_rate_limit_wait

RATE_LIMIT_CODES = frozenset({10006, 10018})
#: Pages read per list when recovering a gap (100 executions / 50 orders a page): 2000
#: fills and 1000 order changes per gap, far beyond one account's socket outage.
RECOVERY_PAGES = 20


class RestError(RuntimeError):
    """A REST call failed; the message holds only the path, HTTP status and ``retCode``."""


class RateLimited(RestError):
    """Still rate limited after every retry."""


#: What a REST call may raise when the exchange or the network fails (not a bug): callers
#: log it and retry.
REST_FAILURES = (RestError, aiohttp.ClientError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Credentials:
    """API key and secret, kept out of ``repr``."""

    key: str
    secret: str

    def __repr__(self) -> str:
        return "Credentials(***)"


class BybitRest:
    """Minimal async Bybit REST client over one aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, credentials: Credentials,
                 on_rate_limit: Callable[[], None] = lambda: None, attempts: int = 6) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._creds = credentials
        self._on_rate_limit = on_rate_limit
        self._attempts = attempts
        self._backoff = Backoff(base=0.5, cap=10.0)
        self._not_before = 0.0  # monotonic

    async def get(self, path: str, params: dict[str, str], signed: bool) -> dict[str, Any]:
        """GET ``path``; returns Bybit's ``result`` object plus the envelope ``time`` (ms)."""
        query = urlencode(params)
        delays = self._backoff.delays()
        for _ in range(self._attempts):
            wait = self._not_before - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            headers = (rest_headers(self._creds.key, self._creds.secret,
                                    int(time.time() * 1000), query) if signed else {})
            url = f"{self._base}{path}?{query}"
            async with self._session.get(url, headers=headers) as resp:
                limit_wait = decide_rate_limit_wait(resp.headers, int(time.time() * 1000))
                self._not_before = time.monotonic() + limit_wait
                if resp.status == 403:
                    body: dict[str, Any] = {"retCode": 403}
                elif resp.status != 200:
                    raise RestError(f"GET {path}: HTTP {resp.status}")
                else:
                    try:
                        body = await resp.json(content_type=None)
                    except ValueError:
                        raise RestError(f"GET {path}: body is not JSON") from None
            code = body.get("retCode")
            if code == 403 or code in RATE_LIMIT_CODES:
                self._on_rate_limit()
                self._not_before = max(self._not_before, time.monotonic() + next(delays))
                continue
            if code != 0:
                raise RestError(f"GET {path}: retCode {code}")
            result = body.get("result") or {}
            return {**result, "time": int(body.get("time") or time.time() * 1000)}
        raise RateLimited(f"GET {path}: rate limited after {self._attempts} attempts")

    async def get_pages(self, path: str, params: dict[str, str],
                        max_pages: int = 1000) -> tuple[list[dict], int]:
        """Every ``list`` item of a signed, cursor-paginated endpoint (bounded), and the
        first page's envelope time."""
        items: list[dict[str, Any]] = []
        cursor = ""
        stamp = 0
        for _ in range(max_pages):
            page = {**params, "cursor": cursor} if cursor else params
            result = await self.get(path, page, signed=True)
            stamp = stamp or result["time"]
            items.extend(result.get("list") or [])
            cursor = result.get("nextPageCursor") or ""
            if not cursor:
                break
        return items, stamp

    async def fetch_positions(self, category: str, settle_coin: str) -> tuple[list[dict], int]:
        """All open positions (``settleCoin`` returns size > 0 only), 200 a page."""
        return await self.get_pages("/v5/position/list", {
            "category": category, "settleCoin": settle_coin, "limit": "200"})

    async def fetch_facts_since(self, category: str, settle_coin: str,
                                start_ms: int) -> list[tuple[str, dict]]:
        """Executions and order states the exchange produced since ``start_ms`` (closed
        orders from the history, open ones from the realtime list), as ``(topic, item)``.
        Bounded: at most RECOVERY_PAGES pages of each."""
        scope = {"category": category, "settleCoin": settle_coin}
        since = {**scope, "startTime": str(start_ms)}
        executions, _ = await self.get_pages("/v5/execution/list", {**since, "limit": "100"},
                                             RECOVERY_PAGES)
        closed, _ = await self.get_pages("/v5/order/history", {**since, "limit": "50"},
                                         RECOVERY_PAGES)
        open_orders, _ = await self.get_pages("/v5/order/realtime", {**scope, "limit": "50"},
                                              RECOVERY_PAGES)
        recent = [o for o in open_orders if int(o.get("updatedTime") or 0) >= start_ms]
        return ([("execution", e) for e in executions]
                + [("order", o) for o in (*closed, *recent)])

    async def fetch_position_snapshot(self, category: str, settle_coin: str,
                                      known_symbols: AbstractSet[str]) -> tuple[list[dict], int]:
        """Open positions plus the flat state of ``known_symbols`` that are no longer open.

        The ``settleCoin`` list omits flat positions, but a close that happened while we
        were disconnected has its own ``seq``; asking by ``symbol`` (which includes flat
        slots) lets the close event carry the exchange's real sequence number.
        """
        items, stamp = await self.fetch_positions(category, settle_coin)
        open_symbols = {str(i.get("symbol")) for i in items}
        for symbol in sorted(known_symbols - open_symbols):
            result = await self.get("/v5/position/list",
                                    {"category": category, "symbol": symbol}, signed=True)
            items.extend(i for i in result.get("list") or [] if i.get("symbol") == symbol)
        return items, stamp

    async def fetch_mark_prices(self, category: str) -> tuple[dict[str, str], int]:
        """``symbol -> markPrice`` for the whole category in one public call."""
        result = await self.get("/v5/market/tickers", {"category": category}, signed=False)
        prices = {t["symbol"]: t["markPrice"] for t in result.get("list") or []
                  if "symbol" in t and "markPrice" in t}
        return prices, result["time"]
