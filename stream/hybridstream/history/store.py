"""Idempotent writes of a batch's rows (docs/history.md#idempotency).

Facts are inserted once by their exchange id (``execId``; an order's status history by
``(orderId, status, updatedTime, cumExecQty)``; a wallet snapshot by ``(accountType,
exchangeTime)``). Latest-state rows are upserted only forward: an order by ``(updatedTime,
cumExecQty, status rank)``, a position snapshot ``(symbol, positionIdx, seq)`` by
``(exchangeTime, closed)``, so a stale replay arriving after a newer event changes nothing.
"""

from __future__ import annotations

import asyncpg

from hybridstream.history.rows import Rows

UPSERT_ORDER = """
INSERT INTO orders (order_id, symbol, side, order_type, status, status_rank, qty, price,
                    avg_price, cum_exec_qty, created_time, updated_time, source, data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb)
ON CONFLICT (order_id) DO UPDATE SET
    side = EXCLUDED.side, order_type = EXCLUDED.order_type, status = EXCLUDED.status,
    status_rank = EXCLUDED.status_rank, qty = EXCLUDED.qty, price = EXCLUDED.price,
    avg_price = EXCLUDED.avg_price, cum_exec_qty = EXCLUDED.cum_exec_qty,
    updated_time = EXCLUDED.updated_time, source = EXCLUDED.source, data = EXCLUDED.data
WHERE (EXCLUDED.updated_time, EXCLUDED.cum_exec_qty, EXCLUDED.status_rank)
    > (orders.updated_time, orders.cum_exec_qty, orders.status_rank)
"""

INSERT_ORDER_HISTORY = """
INSERT INTO order_status_history (order_id, status, updated_time, cum_exec_qty, source)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
"""

INSERT_EXECUTION = """
INSERT INTO executions (exec_id, order_id, symbol, side, exec_price, exec_qty, exec_fee,
                        exec_time, source, data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) ON CONFLICT DO NOTHING
"""

UPSERT_POSITION = """
INSERT INTO position_snapshots (symbol, position_idx, seq, closed, side, size, entry_price,
                                mark_price, exchange_time, source, data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
ON CONFLICT (symbol, position_idx, seq) DO UPDATE SET
    closed = EXCLUDED.closed, side = EXCLUDED.side, size = EXCLUDED.size,
    entry_price = EXCLUDED.entry_price, mark_price = EXCLUDED.mark_price,
    exchange_time = EXCLUDED.exchange_time, source = EXCLUDED.source, data = EXCLUDED.data
WHERE (EXCLUDED.exchange_time, EXCLUDED.closed)
    > (position_snapshots.exchange_time, position_snapshots.closed)
"""

INSERT_WALLET = """
INSERT INTO wallet_snapshots (account_type, exchange_time, total_equity, source, data)
VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING
"""


async def write_rows(conn: asyncpg.Connection, rows: Rows) -> None:
    """All of a batch in one transaction: it is stored whole or not at all, so a retry
    or a replay never meets half a batch."""
    async with conn.transaction():
        for sql, table in ((UPSERT_ORDER, rows.orders),
                           (INSERT_ORDER_HISTORY, rows.order_history),
                           (INSERT_EXECUTION, rows.executions),
                           (UPSERT_POSITION, rows.positions),
                           (INSERT_WALLET, rows.wallets)):
            if table:
                await conn.executemany(sql, table)
