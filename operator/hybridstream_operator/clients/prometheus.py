"""Prometheus instant queries (``/api/v1/query``) turned into :class:`Sample`s.

Errors are reported by kind and HTTP status only: error text ends up in status and Events,
and must never echo a credential (the ``Authorization`` header comes from a Secret).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

import aiohttp

from hybridstream_operator.models.observations import Sample


def parse_result(metric: str, body: dict) -> Sample:
    """One value from an instant-query response; empty → no data; several series → error
    (an ambiguous answer must not pass silently: aggregate it in the query)."""
    if body.get("status") != "success":
        return Sample(metric, error=f"query failed: {body.get('errorType', 'unknown')}")
    data = body.get("data", {})
    result = data.get("result")
    if data.get("resultType") == "scalar":
        return Sample(metric, float(result[1]))
    if not result:
        return Sample(metric, None)
    if len(result) > 1:
        return Sample(metric, error=f"query returned {len(result)} series; aggregate it")
    value = float(result[0]["value"][1])
    return Sample(metric, None if math.isnan(value) else value)


def authorization(basic: tuple[str, str] | None, token: str | None) -> dict[str, str]:
    """The request headers for credentials read from Secrets (none: no header)."""
    if basic:
        return {"Authorization": aiohttp.encode_basic_auth(*basic)}
    if token:
        return {"Authorization": f"Bearer {token.strip()}"}
    return {}


async def fetch_sample(session: aiohttp.ClientSession, address: str, name: str, query: str,
                       deadline: float, *, headers: Mapping[str, str]) -> Sample:
    """Run one metric's instant query."""
    url = address.rstrip("/") + "/api/v1/query"
    try:
        async with session.get(url, params={"query": query}, headers=headers,
                               timeout=aiohttp.ClientTimeout(total=deadline)) as resp:
            if resp.status >= 500 or resp.status in (401, 403, 404):
                return Sample(name, error=f"HTTP {resp.status}")
            return parse_result(name, await resp.json(content_type=None))
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Sample(name, error=type(exc).__name__)


async def fetch_samples(session: aiohttp.ClientSession, address: str,
                        queries: dict[str, str], deadline: float, *,
                        headers: Mapping[str, str]) -> tuple[Sample, ...]:
    """Every ``name -> rendered query`` of a pass, concurrently."""
    return tuple(await asyncio.gather(*(
        fetch_sample(session, address, name, query, deadline, headers=headers)
        for name, query in queries.items())))
