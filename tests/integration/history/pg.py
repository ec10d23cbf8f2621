"""Reading the history tables back in tests (asyncpg, the driver the sink uses)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg


async def query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def exec_ids(url: str) -> list[str]:
    """Every stored execution id, duplicates included (the key forbids them; checked)."""
    return [r["exec_id"] for r in await query(url, "SELECT exec_id FROM executions")]


async def until(probe: Callable[[], Awaitable[Any]], what: str, within: float = 30.0) -> Any:
    """Await ``probe`` until it returns something truthy (returned), or fail."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.2)
