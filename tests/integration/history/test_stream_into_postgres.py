"""Streams writing their history into a real PostgreSQL, against the simulator over real
sockets: two hybrid replicas and the legacy poller at once (the active-active overlap and a
handover), a private-socket disconnect during which orders filled (recovered over REST by
both replicas), a database outage, and a restart while a batch was committed but not yet
acknowledged. In each, every execution of the exchange is stored exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from hybridstream.service.app import StreamService
from hybridstream.simulator.app import Simulator, running_simulator

from tests.integration.stream.harness import KEY, build_settings, place_market_order
from tests.plugins.postgres import PostgresServer
from tests.plugins.waiting import eventually

from .pg import exec_ids, query


def exchange_exec_ids(sim: Simulator) -> list[str]:
    return sorted(e["execId"] for e in sim.engine.accounts[KEY].executions)


def to_postgres(url: str) -> dict[str, str]:
    return {"HYBRID_SINK": "postgres", "HYBRID_SINK_URL": url}


async def stored_exactly(url: str, sim: Simulator) -> bool:
    return sorted(await exec_ids(url)) == exchange_exec_ids(sim)


async def already_stored(url: str, events: list[dict[str, Any]]) -> int:
    """How many of ``events`` have their row in the database already."""
    found = 0
    for e in events:
        data = e["data"]
        if e["type"] == "order":
            found += bool(await query(url, "SELECT 1 FROM order_status_history WHERE "
                                      "order_id = $1 AND status = $2", data["orderId"],
                                      data["orderStatus"]))
        elif e["type"] == "execution":
            found += bool(await query(url, "SELECT 1 FROM executions WHERE exec_id = $1",
                                      data["execId"]))
        elif e["type"].startswith("position."):
            found += bool(await query(url, "SELECT 1 FROM position_snapshots WHERE symbol = $1 "
                                      "AND seq = $2 AND exchange_time >= $3", e["symbol"],
                                      e["seq"], e["exchangeTime"]))
    return found


async def assert_history_matches_exchange(url: str, sim: Simulator) -> None:
    assert sorted(await exec_ids(url)) == exchange_exec_ids(sim)  # each once, none lost
    orders = sim.engine.accounts[KEY].orders
    stored = {r["order_id"]: r["status"] for r in await query(url, "SELECT * FROM orders")}
    assert stored == {oid: o["orderStatus"] for oid, o in orders.items()}
    history = await query(url, "SELECT order_id, status, count(*) AS n FROM "
                          "order_status_history GROUP BY 1, 2")
    assert all(r["n"] == 1 for r in history), [tuple(r) for r in history]
    newest = {(r["symbol"], r["position_idx"]): r["seq"] for r in await query(
        url, "SELECT symbol, position_idx, max(seq) AS seq FROM position_snapshots "
             "GROUP BY 1, 2")}
    journal: dict[tuple[str, int], int] = {}
    for entry in sim.control.journal_entries(KEY):
        key = (entry["symbol"], int(entry["position_idx"]))
        journal[key] = max(journal.get(key, -1), int(entry["seq"]))
    assert newest == journal


async def test_replicas_and_the_legacy_poller_overlap_into_one_history(
        postgres_url: str) -> None:
    async with running_simulator(symbols=4) as sim, AsyncExitStack() as pods:
        hybrid = [await pods.enter_async_context(StreamService(build_settings(
            sim, **to_postgres(postgres_url)))) for _ in range(2)]
        legacy = await pods.enter_async_context(StreamService(build_settings(
            sim, HYBRID_MODE="rest", **to_postgres(postgres_url))))
        pods_all = [*hybrid, legacy]
        await eventually(lambda: all(p.is_ready() for p in pods_all), "three pods ready")
        for symbol, side, qty in (("BTCUSDT", "Buy", "0.01"), ("ETHUSDT", "Sell", "0.1"),
                                  ("BTCUSDT", "Buy", "0.02")):
            await place_market_order(sim, symbol, side, qty)
        sim.control.close_position(KEY, "ETHUSDT")
        await eventually(lambda: stored_exactly(postgres_url, sim), "every fill stored")
        await eventually(lambda: all(p.pipeline.stats["forwarded"] and not len(
            p.pipeline.outbox) for p in pods_all), "every pod delivered", within=15)
        await assert_history_matches_exchange(postgres_url, sim)
        forwarded = sum(p.pipeline.stats["forwarded"] for p in pods_all)
        rows = len(await query(postgres_url, "SELECT 1 FROM executions UNION ALL SELECT 1 "
                               "FROM order_status_history"))
        assert forwarded > 2 * rows  # the overlap was real: three writers of the same facts
        assert not any(p.pipeline.stats["rejected"] for p in pods_all)


async def test_fills_during_a_disconnect_are_stored_once(postgres_url: str) -> None:
    """Both replicas lose their private socket while two orders fill; each recovers the
    fills over REST when it reconnects: every execution appears exactly once."""
    async with running_simulator(symbols=6) as sim, AsyncExitStack() as pods:
        replicas = [await pods.enter_async_context(StreamService(build_settings(
            sim, HYBRID_FALLBACK_AFTER=600, **to_postgres(postgres_url)))) for _ in range(2)]
        await eventually(lambda: all(r.is_ready() for r in replicas), "replicas ready")
        await place_market_order(sim, "BTCUSDT", "Buy", "0.01")
        await eventually(lambda: stored_exactly(postgres_url, sim), "first fill stored")
        connects = [r.hybrid.private.connects for r in replicas]  # type: ignore[union-attr]

        await sim.control.refuse_websockets(3)
        await place_market_order(sim, "ETHUSDT", "Buy", "0.1")
        await place_market_order(sim, "BTCUSDT", "Sell", "0.01")

        await eventually(lambda: all(r.hybrid.private.connects > c and r.is_ready()  # type: ignore[union-attr]
                                     for r, c in zip(replicas, connects, strict=True)),
                         "both reconnected", within=30)
        await eventually(lambda: stored_exactly(postgres_url, sim), "the gap's fills stored")
        for replica in replicas:  # each really recovered the gap over REST
            assert replica.metrics.registry.get_sample_value(
                "hybridstream_recovered_events_total", {"type": "execution"}) == 2
        await assert_history_matches_exchange(postgres_url, sim)


async def test_a_database_outage_loses_and_duplicates_nothing(
        postgres_factory: Callable[[], PostgresServer], tmp_path: Path) -> None:
    server = postgres_factory()
    url = server.create_database()
    async with running_simulator(symbols=4) as sim:
        settings = build_settings(sim, HYBRID_SPILL_DIR=str(tmp_path / "spill"),
                                  HYBRID_QUEUE_SIZE=20, HYBRID_SINK_BACKOFF_CAP=0.5,
                                  **to_postgres(url))
        async with StreamService(settings) as service:
            await eventually(service.is_ready, "ready")
            await place_market_order(sim, "BTCUSDT", "Buy", "0.01")
            await eventually(lambda: stored_exactly(url, sim), "first fill stored")
            server.stop()
            for symbol in ("ETHUSDT", "BTCUSDT", "ETHUSDT"):
                await place_market_order(sim, symbol, "Buy", "0.01" if symbol[0] == "B"
                                         else "0.1")
            await eventually(lambda: service.pipeline.stats["sink_failures"], "sink down")
            assert not service.pipeline.health.up
            server.start()
            await eventually(lambda: stored_exactly(url, sim), "the outage's fills stored")
            await eventually(lambda: service.pipeline.health.up, "sink back up")
            assert "pg-test-secret" not in (service.pipeline.health.last_error or "")
        await assert_history_matches_exchange(url, sim)


async def test_a_restart_after_a_batch_committed_unacknowledged_adds_no_row(
        postgres_factory: Callable[[], PostgresServer], tmp_path: Path) -> None:
    """A synchronous standby that never answers holds every COMMIT after the transaction
    committed locally: the stream stops with that batch in flight (not acknowledged, so
    persisted to the spill), and the restarted stream delivers it again."""
    server = postgres_factory()
    url = server.create_database()
    async with running_simulator(symbols=4) as sim:
        settings = build_settings(sim, HYBRID_SPILL_DIR=str(tmp_path / "spill"),
                                  HYBRID_DRAIN_TIMEOUT=1, **to_postgres(url))
        async with StreamService(settings) as first:
            await eventually(first.is_ready, "ready")
            await place_market_order(sim, "BTCUSDT", "Buy", "0.01")
            await eventually(lambda: stored_exactly(url, sim), "first fill stored")
            server.psql("ALTER SYSTEM SET synchronous_standby_names = 'hs_absent_standby'")
            server.psql("SELECT pg_reload_conf()")
            await place_market_order(sim, "ETHUSDT", "Sell", "0.1")
            await place_market_order(sim, "BTCUSDT", "Buy", "0.01")
            await eventually(lambda: query(url, "SELECT 1 FROM pg_stat_activity WHERE "
                                      "wait_event = 'SyncRep'"), "a COMMIT waiting")
        # stopped mid-batch: the batch's events were persisted, undelivered ...
        assert first.pipeline.outbox.spilled
        server.psql("ALTER SYSTEM RESET synchronous_standby_names")
        server.psql("SELECT pg_reload_conf()")
        # ... though its transaction had committed (visible once the standby wait ends)
        spilled = [json.loads(line) for seg in sorted((tmp_path / "spill").glob("seg-*"))
                   for line in seg.read_text().splitlines()]
        await eventually(lambda: already_stored(url, spilled), "the batch in flight committed",
                         within=15)

        async with StreamService(settings) as second:
            await eventually(lambda: second.is_ready() and not second.pipeline.outbox.spilled
                             and second.pipeline.stats["forwarded"], "spill replayed")
            assert not second.pipeline.stats["rejected"]
        await assert_history_matches_exchange(url, sim)
