"""The stream never goes blind while Bybit's WebSockets are out, against the simulator over
real sockets: in Production (legacy retired, nothing else covers) a WebSocket outage with
REST still up keeps positions, fills and mark prices flowing through the REST fallback
(``hybridstream_degraded{socket}``), and after a short gap without fallback the orders and
executions that happened in it are recovered once each when the socket is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from hybridstream.service.app import StreamService
from hybridstream.simulator.app import Simulator, running_simulator

from tests.plugins.waiting import eventually

from .harness import (
    KEY,
    EventBuffer,
    assert_book_matches_truth,
    build_settings,
    place_market_order,
    running_stream,
)


def degraded(service: StreamService, socket: str) -> float:
    return service.metrics.registry.get_sample_value("hybridstream_degraded",
                                                     {"socket": socket}) or 0.0


def executions(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "execution"]


def exchange_exec_ids(sim: Simulator) -> list[str]:
    return [e["execId"] for e in sim.engine.accounts[KEY].executions]


@asynccontextmanager
async def after_a_first_fill() -> AsyncIterator[tuple[Simulator, StreamService, EventBuffer]]:
    """A ready stream without REST fallback (only the recovery after a reconnect) whose
    first fill was delivered over the socket."""
    async with running_simulator(symbols=6) as sim, running_stream(build_settings(
            sim, HYBRID_FALLBACK_AFTER=600)) as (service, buffer):
        await eventually(service.is_ready, "stream ready")
        await place_market_order(sim, "BTCUSDT", "Buy", "0.01")
        await eventually(lambda: len(executions(buffer.events())) == 1, "first fill")
        assert service.hybrid is not None
        yield sim, service, buffer


async def test_websocket_outage_in_production_keeps_events_flowing_over_rest():
    async with running_simulator(symbols=6) as sim, running_stream(build_settings(
            sim, HYBRID_FALLBACK_AFTER=1)) as (service, buffer):
        await eventually(service.is_ready, "stream ready")
        await place_market_order(sim, "BTCUSDT", "Buy", "0.01")
        await eventually(lambda: assert_book_matches_truth(service, sim), "initial book")

        await sim.control.refuse_websockets(25)
        await eventually(lambda: degraded(service, "private") == degraded(service, "public")
                         == 1, "both sockets degraded")
        filled = await place_market_order(sim, "ETHUSDT", "Sell", "0.1")
        mark = str((sim.market.mark_price("BTCUSDT") * Decimal("1.02")).quantize(
            Decimal("0.1")))
        sim.control.set_price("BTCUSDT", mark)

        def fill_delivered():
            return any(e["data"]["orderId"] == filled["orderId"]
                       for e in executions(buffer.events()))

        def mark_delivered():
            return any(e["type"] == "position.update" and e["symbol"] == "BTCUSDT"
                       and e["source"] == "rest"
                       and Decimal(e["data"]["markPrice"]) == Decimal(mark)
                       for e in buffer.events())
        await eventually(fill_delivered, "the outage's fill delivered over REST", within=15)
        await eventually(mark_delivered, "the outage's mark delivered over REST", within=15)
        await eventually(lambda: assert_book_matches_truth(service, sim),
                         "book == exchange during the outage", within=15)
        # still serving (Ready: the coverage watchdog sees a forwarder), as a degraded pod
        await eventually(service.is_ready, "ready through the fallback", within=15)
        assert sim.faults.websockets_refused()  # all of it while the sockets were out
        assert not service.metrics.socket_is_up("private")

        await eventually(lambda: service.is_ready() and degraded(service, "private")
                         == degraded(service, "public") == 0, "sockets back", within=60)
        delivered = [e["data"]["execId"] for e in executions(buffer.events())]
        assert sorted(delivered) == sorted(exchange_exec_ids(sim))  # each once, none lost
        sim.control.release_price("BTCUSDT")


async def test_a_short_gap_is_recovered_once_after_reconnect():
    async with after_a_first_fill() as (sim, service, buffer):
        assert service.hybrid is not None
        connects = service.hybrid.private.connects

        await sim.control.refuse_websockets(3)
        gap = [await place_market_order(sim, "ETHUSDT", "Buy", "0.1"),
               await place_market_order(sim, "BTCUSDT", "Sell", "0.01")]
        assert degraded(service, "private") == 0  # no fallback: only the recovery

        await eventually(lambda: service.hybrid.private.connects > connects
                         and service.is_ready(), "reconnected", within=30)
        events = buffer.events()
        recovered = [e for e in executions(events) if e["source"] == "rest"]
        assert {e["data"]["orderId"] for e in recovered} == {o["orderId"] for o in gap}
        assert sorted(e["data"]["execId"] for e in executions(events)) == sorted(
            exchange_exec_ids(sim))
        orders = {e["data"]["orderId"] for e in events if e["type"] == "order"}
        assert {o["orderId"] for o in gap} <= orders
        count = service.metrics.registry.get_sample_value(
            "hybridstream_recovered_events_total", {"type": "execution"})
        assert count == 2
        await eventually(lambda: assert_book_matches_truth(service, sim), "book == exchange")


async def test_a_gap_is_recovered_even_when_the_reseed_is_rate_limited():
    """Found by the chaos suite (rate-limit fault): the socket back, its re-seed held up by
    a REST rate limit while it already delivers newer fills; the recovery must still read
    back the fill of the gap itself."""
    async with after_a_first_fill() as (sim, service, buffer):
        assert service.hybrid is not None
        connects = service.hybrid.private.connects

        sim.control.rate_limit(seconds=10)
        await sim.control.refuse_websockets(1.5)
        gap = sim.control.open_position(KEY, "ETHUSDT", "Buy", "0.1")  # socket down
        await eventually(lambda: service.hybrid.private.connects > connects
                         and service.hybrid.private.authenticated, "socket back")
        await asyncio.sleep(7)  # past the recovery margin, the re-seed still rate limited
        assert not service.hybrid.private.seeded
        live = sim.control.open_position(KEY, "SOLUSDT", "Buy", "1")  # over the socket

        await eventually(lambda: service.is_ready() and any(
            e["data"]["orderId"] == live["orderId"] for e in executions(buffer.events())),
            "re-seeded, the live fill delivered", within=60)
        await eventually(lambda: any(e["data"]["orderId"] == gap["orderId"]
                                     for e in executions(buffer.events())),
                         "the gap's fill recovered", within=10)
        assert sorted(e["data"]["execId"] for e in executions(buffer.events())) == sorted(
            exchange_exec_ids(sim))
