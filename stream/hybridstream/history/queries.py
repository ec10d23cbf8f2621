"""The reads behind ``hybridstream history`` (what the account did since an instant, oldest
first) and the stream's ``/api/hybrid/history`` (the newest first), as plain dicts
(numbers as exact strings, times in unix ms)."""

from __future__ import annotations

from typing import Any

import asyncpg

#: kind -> (SQL with $1 = since in unix ms, $2 = limit and ``{order}`` the direction,
#: columns shown by default)
QUERIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "orders": ("""
        SELECT o.order_id, o.symbol, o.side, o.order_type, o.status, o.qty, o.price,
               o.avg_price, o.cum_exec_qty, o.created_time, o.updated_time,
               coalesce((SELECT string_agg(h.status, '>' ORDER BY h.updated_time,
                                           h.cum_exec_qty, h.status)
                         FROM order_status_history h WHERE h.order_id = o.order_id),
                        '') AS history
        FROM orders o WHERE o.updated_time >= $1
        ORDER BY o.updated_time {order}, o.order_id {order} LIMIT $2
        """, ("updated_time", "order_id", "symbol", "side", "status", "cum_exec_qty",
              "avg_price", "history")),
    "executions": ("""
        SELECT exec_id, order_id, symbol, side, exec_price, exec_qty, exec_fee, exec_time,
               source
        FROM executions WHERE exec_time >= $1
        ORDER BY exec_time {order}, exec_id {order} LIMIT $2
        """, ("exec_time", "exec_id", "order_id", "symbol", "side", "exec_qty", "exec_price",
              "source")),
    "positions": ("""
        SELECT symbol, position_idx, seq, closed, side, size, entry_price, mark_price,
               exchange_time, source
        FROM position_snapshots WHERE exchange_time >= $1
        ORDER BY exchange_time {order}, symbol {order}, position_idx {order},
                 seq {order} LIMIT $2
        """, ("exchange_time", "symbol", "position_idx", "seq", "closed", "side", "size",
              "entry_price", "mark_price")),
}


async def fetch_history(conn: asyncpg.Connection, kind: str, since_ms: int,
                        limit: int, *, newest_first: bool = False) -> list[dict[str, Any]]:
    sql, _ = QUERIES[kind]
    records = await conn.fetch(sql.format(order="DESC" if newest_first else "ASC"),
                               since_ms, limit)
    return [{k: (str(v) if v is not None and not isinstance(v, int | bool) else v)
             for k, v in record.items()} for record in records]
