"""The stable revision's mark prices, read from its status API (``/api/hybrid/status``):
what a candidate in ``parallel`` compares its own prices with, the seed's compare step
between versions. The routing document says where stable's API is (``stableStatus``, the
operator's ``<rollout>-stable`` Service, which resolves to the stable revision's Ready
pods); a hybrid stable's status carries ``tickers`` ``{symbol: markPrice}``. Beside the
legacy poller (the first walk) the runner does not read it: the poller's prices are REST's
as of its last poll, so REST now is the better reference.

When stable's price cannot be had the comparison falls back to the exchange's REST price,
and says why (``Unavailable``), so Parallel still measures something.
"""

from __future__ import annotations

import json
import logging

import aiohttp

from hybridstream.hybrid.decisions import Unavailable, parse_stable_marks

log = logging.getLogger(__name__)
#: a stable that does not answer within this is unavailable for this poll
STATUS_TIMEOUT = 3.0


class StablePrices:
    """Reads stable's prices with this pod's own status token (every revision's pods get
    the rollout's token); logs when stable becomes (un)available, never each poll."""

    def __init__(self, token: str | None) -> None:
        self.endpoint: str | None = None  # from the routing document
        self._headers = {"Authorization": f"Bearer {token.strip()}"} if token else {}
        self._last: Unavailable | None = None

    async def fetch(self, session: aiohttp.ClientSession) -> dict[str, str] | Unavailable:
        """Stable's prices now, or why there are none."""
        found = await self._read(session)
        state = found if isinstance(found, Unavailable) else None
        if state != self._last:
            if state is None:
                log.info("parallel: comparing prices with stable at %s", self.endpoint)
            else:
                log.warning("parallel: stable's prices unavailable (%s, at %s), comparing "
                            "with REST", state.value, self.endpoint)
            self._last = state
        return found

    async def _read(self, session: aiohttp.ClientSession) -> dict[str, str] | Unavailable:
        if self.endpoint is None:
            return Unavailable.UNROUTED
        url = f"http://{self.endpoint}/api/hybrid/status"
        try:
            async with session.get(url, headers=self._headers,
                                   timeout=aiohttp.ClientTimeout(total=STATUS_TIMEOUT)) as resp:
                if resp.status in (401, 403):
                    return Unavailable.UNAUTHORIZED
                if resp.status != 200:
                    return Unavailable.UNREACHABLE
                body = await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError):
            return Unavailable.UNREACHABLE
        try:
            return parse_stable_marks(json.loads(body))
        except ValueError:
            return Unavailable.INVALID
