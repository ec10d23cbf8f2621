"""The PostgreSQL sink against a real server: migrations from an empty database and from
the previous schema version, writes idempotent under replay (the same batch again, a stale
event after a newer one, two replicas at once), malformed events rejected, and errors that
never carry the URL's password."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from hybridstream.history.schema import LATEST, MIGRATIONS, migrate, schema_version
from hybridstream.service.sinks import PostgresSink, SinkError, SinkRejected

from tests.plugins.postgres import PASSWORD, PostgresServer
from tests.plugins.processes import free_port

from .pg import exec_ids, query


def order(order_id: str, status: str, updated: int, cum: str = "0") -> dict:
    return {"type": "order", "source": "hybrid", "symbol": "BTCUSDT", "seq": 0,
            "exchangeTime": updated,
            "data": {"orderId": order_id, "symbol": "BTCUSDT", "side": "Buy",
                     "orderType": "Market", "orderStatus": status, "qty": "0.02",
                     "price": "", "avgPrice": "", "cumExecQty": cum,
                     "createdTime": "1000", "updatedTime": str(updated)}}


def execution(exec_id: str, order_id: str = "o1", at: int = 1001) -> dict:
    return {"type": "execution", "source": "hybrid", "symbol": "BTCUSDT", "seq": 7,
            "exchangeTime": at,
            "data": {"execId": exec_id, "orderId": order_id, "symbol": "BTCUSDT",
                     "side": "Buy", "execPrice": "65000.5", "execQty": "0.01",
                     "execFee": "0.39", "execTime": str(at)}}


def position(seq: int, at: int, mark: str, kind: str = "position.update") -> dict:
    return {"type": kind, "source": "hybrid", "symbol": "BTCUSDT", "seq": seq,
            "exchangeTime": at,
            "data": {"symbol": "BTCUSDT", "positionIdx": 0, "side": "Buy", "size": "0.01",
                     "entryPrice": "65000.5", "markPrice": mark, "seq": seq}}


def wallet(at: int) -> dict:
    return {"type": "wallet", "source": "rest", "symbol": "", "seq": 0, "exchangeTime": at,
            "data": {"accountType": "UNIFIED", "totalEquity": "10000"}}


BATCH = [order("o1", "New", 1000), order("o1", "PartiallyFilled", 1001, "0.01"),
         execution("e1"), order("o1", "Filled", 1002, "0.02"), execution("e2", at=1002),
         position(5, 1002, "65001"), position(5, 1100, "65010"), wallet(1002)]


async def tables(url: str) -> set[str]:
    return {r["tablename"] for r in await query(
        url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


async def test_migrations_from_an_empty_database(postgres_url: str) -> None:
    conns = [await asyncpg.connect(postgres_url) for _ in range(2)]
    try:
        assert await schema_version(conns[0]) == 0
        # two replicas starting together: one migrates, the other finds it done
        applied = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(applied, key=len) == [[], [m.version for m in MIGRATIONS]]
        assert await schema_version(conns[0]) == LATEST == 2
        assert await migrate(conns[1]) == []
    finally:
        for conn in conns:
            await conn.close()
    assert await tables(postgres_url) == {"hybridstream_schema", "orders", "executions",
                                          "order_status_history", "position_snapshots",
                                          "wallet_snapshots"}


async def test_migration_from_the_previous_version_keeps_the_data(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await migrate(conn, target=1) == [1]
        # what a v1 writer stored: an order's latest state, no status history
        await conn.execute("""INSERT INTO orders (order_id, symbol, side, order_type, status,
            status_rank, qty, cum_exec_qty, created_time, updated_time, source, data)
            VALUES ('old', 'ETHUSDT', 'Sell', 'Market', 'Filled', 2, 0.1, 0.1, 900, 950,
                    'hybrid', '{}')""")
        await conn.execute("""INSERT INTO executions (exec_id, order_id, symbol, exec_time,
            source, data) VALUES ('old-e', 'old', 'ETHUSDT', 950, 'hybrid', '{}')""")
        assert "order_status_history" not in await tables(postgres_url)
    finally:
        await conn.close()

    sink = PostgresSink(postgres_url)  # a new build starting: migrates on connecting
    await sink.send(BATCH)
    await sink.close()
    assert [r["version"] for r in await query(
        postgres_url, "SELECT version FROM hybridstream_schema ORDER BY 1")] == [1, 2]
    history = await query(postgres_url, "SELECT order_id, status FROM order_status_history "
                          "ORDER BY order_id, updated_time")
    assert [tuple(r) for r in history] == [("o1", "New"), ("o1", "PartiallyFilled"),
                                           ("o1", "Filled"), ("old", "Filled")]
    assert sorted(await exec_ids(postgres_url)) == ["e1", "e2", "old-e"]


async def test_replays_stale_events_and_replicas_add_no_row(postgres_url: str) -> None:
    sinks = [PostgresSink(postgres_url) for _ in range(2)]
    try:
        await sinks[0].send(BATCH)
        await sinks[0].send(BATCH)  # a retry whose commit answer was lost, a spill replay
        await asyncio.gather(*(s.send(BATCH) for s in sinks))  # active-active replicas
        await sinks[1].send(list(reversed(BATCH)))  # stale after newer: nothing goes back
        await sinks[1].send([{**e, "source": "rest"} for e in BATCH])  # REST recovery
    finally:
        for sink in sinks:
            await sink.close()
    assert sorted(await exec_ids(postgres_url)) == ["e1", "e2"]
    [o] = await query(postgres_url, "SELECT status, cum_exec_qty, source FROM orders")
    assert (o["status"], str(o["cum_exec_qty"]), o["source"]) == ("Filled", "0.02", "hybrid")
    assert len(await query(postgres_url, "SELECT 1 FROM order_status_history")) == 3
    [p] = await query(postgres_url, "SELECT seq, mark_price, exchange_time, closed "
                      "FROM position_snapshots")
    assert tuple(p) == (5, 65010, 1100, False)  # the newest mark of seq 5 kept
    assert len(await query(postgres_url, "SELECT 1 FROM wallet_snapshots")) == 1


async def test_a_close_at_the_same_point_supersedes_the_update(postgres_url: str) -> None:
    sink = PostgresSink(postgres_url)
    try:
        await sink.send([position(9, 2000, "65000"),
                         position(9, 2000, "65000", kind="position.closed"),
                         position(9, 2000, "65000")])  # the update replayed after it
    finally:
        await sink.close()
    assert [r["closed"] for r in await query(
        postgres_url, "SELECT closed FROM position_snapshots")] == [True]


async def test_a_malformed_event_is_rejected_not_retried(postgres_url: str) -> None:
    sink = PostgresSink(postgres_url)
    try:
        with pytest.raises(SinkRejected):
            await sink.send([execution("e1"), {**execution(""), "data": {"orderId": "o"}}])
        with pytest.raises(SinkRejected):
            await sink.send([{"type": "nonsense", "data": {}}])
        with pytest.raises(SinkRejected):  # past bigint: the driver cannot encode it
            await sink.send([execution("e-huge", at=10**20)])
        with pytest.raises(SinkRejected):  # a positionIdx past integer
            await sink.send([{**position(1, 1, "1"), "data": {"positionIdx": 2**40}}])
        await sink.send([execution("e1")])  # the rest of the stream goes on
    finally:
        await sink.close()
    assert await exec_ids(postgres_url) == ["e1"]


async def test_errors_never_carry_the_password(postgres_server: PostgresServer,
                                               caplog: pytest.LogCaptureFixture) -> None:
    down = PostgresSink(f"postgresql://u:{PASSWORD}@127.0.0.1:{free_port()}/db")
    await down.prepare()  # down at start: logged, not fatal (the first batch retries)
    assert "not reachable at start" in caplog.text and PASSWORD not in caplog.text
    wrong = PostgresSink(postgres_server.url(password="wrong-" + PASSWORD))
    for sink in (down, wrong):
        with pytest.raises(SinkError) as info:
            await sink.send([execution("e1")])
        assert not isinstance(info.value, SinkRejected)
        assert PASSWORD not in str(info.value) and "127.0.0.1" not in str(info.value)
        await sink.close()
