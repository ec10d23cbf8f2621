"""``/api/hybrid/history``: the newest orders and executions of the PostgreSQL history, read
by the stream process that holds the database URL (from its Secret), so that a dashboard
reads them through the API server's pod proxy and never needs the password itself."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from hybridstream.history.connect import connect, describe
from hybridstream.history.queries import fetch_history

#: rows per kind when the request names no limit, and the most it may ask for
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
KINDS = ("orders", "executions")


class HistoryUnavailable(RuntimeError):
    """The database could not be read (the message names no URL, host or password)."""


class RecentHistory:
    """Reads for ``/api/hybrid/history``, one at a time (a page refreshing in several tabs
    opens one connection at a time, never a burst), each on a connection of its own that
    is closed after the read: the sink's connection is never shared with a reader."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = asyncio.Lock()

    async def read(self, limit: int) -> dict[str, list[dict[str, Any]]]:
        async with self._lock:
            try:
                # a reader never migrates: the sink does, before its first write
                conn = await connect(self._url, migrate_schema=False)
                try:
                    return {kind: await fetch_history(conn, kind, 0, limit, newest_first=True)
                            for kind in KINDS}
                finally:
                    await conn.close()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError,
                    TimeoutError) as exc:
                raise HistoryUnavailable(f"postgres unavailable: {describe(exc)}") from None
