"""Reading the history tables back in tests (asyncpg, the driver the sink uses)."""

from __future__ import annotations

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
