"""``/api/hybrid/history`` of a real ``hybridstream run`` process writing into a real
PostgreSQL, against the simulator over real sockets: the newest orders and executions as
the database has them, bounded, behind the status token, never with the password; a
database that goes down is a 503 that says so, and the endpoint answers again once it is
back. Without the PostgreSQL sink the endpoint says there is none."""

from __future__ import annotations

import json
from pathlib import Path

from hybridstream.simulator.app import running_simulator

from tests.integration.stream.harness import place_market_order
from tests.integration.stream.processes import StreamProcess, build_env, stream_process
from tests.plugins.postgres import PASSWORD
from tests.plugins.waiting import eventually

from .pg import query

TOKEN = "status-token-5c2e"


async def answer(stream: StreamProcess, path: str, token: str | None = None
                 ) -> tuple[int, str] | None:
    """The process's answer, None while it does not listen yet."""
    try:
        return await stream.get(path, token)
    except OSError:
        return None


async def test_the_stream_serves_its_newest_orders_and_executions(
        postgres_factory, tmp_path: Path) -> None:
    server = postgres_factory()
    url = server.create_database()
    async with running_simulator(symbols=3) as sim:
        env = build_env(sim, "production", HYBRID_SINK="postgres", HYBRID_SINK_URL=url,
                        HYBRID_STATUS_TOKEN=TOKEN)
        with stream_process(tmp_path / "stream.log", env) as stream:
            async def ready() -> bool:
                got = await answer(stream, "/api/hybrid/status", TOKEN)
                return got is not None and got[0] == 200 and json.loads(got[1])["ready"]
            await eventually(ready, "the stream ready")
            for symbol, side, qty in (("BTCUSDT", "Buy", "0.01"), ("ETHUSDT", "Sell", "0.2"),
                                      ("BTCUSDT", "Sell", "0.01")):
                await place_market_order(sim, symbol, side, qty)

            async def stored() -> bool:
                return len(await query(url, "SELECT 1 FROM executions")) >= 3 and all(
                    r["status"] == "Filled" for r in await query(url, "SELECT * FROM orders"))
            await eventually(stored, "three filled orders stored")

            assert (await stream.get("/api/hybrid/history"))[0] == 401  # the status token
            code, raw = await stream.get("/api/hybrid/history", TOKEN)
            assert code == 200, raw
            body = json.loads(raw)
            newest = [r["order_id"] for r in await query(
                url, "SELECT order_id FROM orders ORDER BY updated_time DESC, order_id DESC")]
            assert body["limit"] == 50
            assert [o["order_id"] for o in body["orders"]] == newest and len(newest) == 3
            assert [(o["symbol"], o["side"], o["qty"], o["status"], o["history"])
                    for o in body["orders"]][-1] == ("BTCUSDT", "Buy", "0.01", "Filled",
                                                      "Filled")
            executions = body["executions"]
            assert sorted(e["exec_id"] for e in executions) == sorted(
                e["execId"] for e in sim.engine.accounts[env["BYBIT_API_KEY"]].executions)
            times = [e["exec_time"] for e in executions]
            assert times == sorted(times, reverse=True)
            assert {"exec_price", "exec_qty", "exec_fee", "order_id"} <= executions[0].keys()

            code, raw = await stream.get("/api/hybrid/history?limit=1", TOKEN)
            one = json.loads(raw)
            assert code == 200 and [o["order_id"] for o in one["orders"]] == newest[:1]
            assert [e["exec_id"] for e in one["executions"]] == [executions[0]["exec_id"]]
            for bad in ("0", "501", "many"):
                code, raw = await stream.get(f"/api/hybrid/history?limit={bad}", TOKEN)
                assert code == 400 and "limit must be" in json.loads(raw)["error"], raw

            server.stop()
            code, raw = await stream.get("/api/hybrid/history", TOKEN)
            assert code == 503, raw
            error = json.loads(raw)["error"]
            assert error.startswith("postgres unavailable: "), error
            assert str(server.port) not in error and "127.0.0.1" not in error

            server.start()

            async def back() -> bool:
                return (await stream.get("/api/hybrid/history", TOKEN))[0] == 200
            await eventually(back, "the history readable again")
            bodies = [raw for _, raw in [await stream.get(path, TOKEN) for path in (
                "/api/hybrid/history", "/api/hybrid/history?limit=1", "/api/hybrid/status")]]
        assert PASSWORD not in "".join([stream.output(), error, *bodies])


async def test_without_the_postgres_sink_there_is_no_history(tmp_path: Path) -> None:
    async with running_simulator(symbols=2) as sim:
        with stream_process(tmp_path / "stream.log", build_env(sim, "production")) as stream:
            code, raw = await eventually(lambda: answer(stream, "/api/hybrid/history"),
                                         "the stream's HTTP server")
    assert code == 404
    assert json.loads(raw)["error"] == "no PostgreSQL history sink (HYBRID_SINK is jsonl)"
