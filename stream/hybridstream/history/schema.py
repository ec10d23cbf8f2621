"""The versioned schema of the history database and its migrations (docs/history.md).

Each migration runs once, in order, in the transaction that records its version in
``hybridstream_schema``; a transaction-scoped advisory lock makes replicas that start
together take turns, so the second finds the work done. Migrations only add: a pod of the
previous release keeps writing into a schema a newer one migrated.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import asyncpg

log = logging.getLogger(__name__)

#: pg_advisory_xact_lock key: "hs-hist" in ASCII, any constant unique to this schema
MIGRATION_LOCK = 0x68732D68697374


class Migration(NamedTuple):
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "orders, executions, position and wallet snapshots", """
CREATE TABLE orders (
    order_id text PRIMARY KEY,
    symbol text NOT NULL,
    side text,
    order_type text,
    status text NOT NULL,
    status_rank smallint NOT NULL,
    qty numeric,
    price numeric,
    avg_price numeric,
    cum_exec_qty numeric NOT NULL,
    created_time bigint NOT NULL,
    updated_time bigint NOT NULL,
    source text NOT NULL,
    data jsonb NOT NULL
);
CREATE TABLE executions (
    exec_id text PRIMARY KEY,
    order_id text NOT NULL,
    symbol text NOT NULL,
    side text,
    exec_price numeric,
    exec_qty numeric,
    exec_fee numeric,
    exec_time bigint NOT NULL,
    source text NOT NULL,
    data jsonb NOT NULL
);
CREATE TABLE position_snapshots (
    symbol text NOT NULL,
    position_idx integer NOT NULL,
    seq bigint NOT NULL,
    closed boolean NOT NULL,
    side text,
    size numeric,
    entry_price numeric,
    mark_price numeric,
    exchange_time bigint NOT NULL,
    source text NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (symbol, position_idx, seq)
);
CREATE TABLE wallet_snapshots (
    account_type text NOT NULL,
    exchange_time bigint NOT NULL,
    total_equity numeric,
    source text NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (account_type, exchange_time)
);
"""),
    # v1 kept only an order's latest state; the statuses it went through are the history.
    # Orders already stored get their latest status as their first history entry.
    Migration(2, "order status history; time indexes for history --since", """
CREATE TABLE order_status_history (
    order_id text NOT NULL,
    status text NOT NULL,
    updated_time bigint NOT NULL,
    cum_exec_qty numeric NOT NULL,
    source text NOT NULL,
    PRIMARY KEY (order_id, status, updated_time, cum_exec_qty)
);
INSERT INTO order_status_history (order_id, status, updated_time, cum_exec_qty, source)
    SELECT order_id, status, updated_time, cum_exec_qty, source FROM orders;
CREATE INDEX orders_updated_time ON orders (updated_time);
CREATE INDEX executions_exec_time ON executions (exec_time);
CREATE INDEX position_snapshots_exchange_time ON position_snapshots (exchange_time);
CREATE INDEX wallet_snapshots_exchange_time ON wallet_snapshots (exchange_time);
"""),
)

LATEST = MIGRATIONS[-1].version


async def schema_version(conn: asyncpg.Connection) -> int:
    """The version the database is at (0: never migrated)."""
    exists = await conn.fetchval("SELECT to_regclass('hybridstream_schema') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM hybridstream_schema"))


async def migrate(conn: asyncpg.Connection, target: int = LATEST) -> list[int]:
    """Bring the database to ``target``; returns the versions applied (none if another
    replica did it first). A database newer than this build is left alone."""
    applied = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("""CREATE TABLE IF NOT EXISTS hybridstream_schema (
            version integer PRIMARY KEY, description text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())""")
        current = await schema_version(conn)
        if current > LATEST:
            log.warning("history schema is at version %d, newer than this build's %d: "
                        "writing with the columns this build knows", current, LATEST)
        for migration in MIGRATIONS:
            if current < migration.version <= target:
                await conn.execute(migration.sql)
                await conn.execute("INSERT INTO hybridstream_schema (version, description) "
                                   "VALUES ($1, $2)", migration.version, migration.description)
                applied.append(migration.version)
    if applied:
        log.info("history schema migrated to version %d (applied %s)", applied[-1], applied)
    return applied
