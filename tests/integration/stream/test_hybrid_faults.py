"""Faults injected through the simulator's control API while the hybrid stream runs over
real sockets. Every scenario trades during or right after the fault and must end with the
stream's book equal to the exchange's ground truth, live mark prices, and a seq journal
consistent with the simulator's (nothing invented, nothing reordered, nothing final lost).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from hybridstream.service.app import StreamService
from hybridstream.simulator.app import Simulator, running_simulator
from hybridstream.simulator.framing import MALFORMED_KINDS

from tests.plugins.waiting import eventually

from .harness import (
    KEY,
    assert_book_matches_truth,
    build_settings,
    place_market_order,
    running_stream,
)
from .journal_checks import assess_journal

Fault = Callable[[Simulator, StreamService], Awaitable[None]]


def error_count(service: StreamService, category: str) -> float:
    value = service.metrics.registry.get_sample_value("hybridstream_errors_total",
                                                      {"category": category})
    return value or 0.0


async def trade_during(sim: Simulator) -> None:
    """Open one position, close another, through the exchange (not through our sockets)."""
    sim.control.open_position(KEY, "SOLUSDT", "Buy", "1")
    sim.control.close_position(KEY, "ETHUSDT")


async def clean_drop(sim: Simulator, service: StreamService) -> None:
    await sim.control.drop_connections("all", "clean")
    await trade_during(sim)


async def reset_drop(sim: Simulator, service: StreamService) -> None:
    await sim.control.drop_connections("all", "reset")
    await trade_during(sim)


async def drop_without_close_frame(sim: Simulator, service: StreamService) -> None:
    await sim.control.drop_connections("all", "no_close_frame")
    await trade_during(sim)


async def restart_with_trades_while_down(sim: Simulator, service: StreamService) -> None:
    restart = asyncio.create_task(sim.control.restart(3.0))
    await eventually(lambda: not service.metrics.socket_is_up("private"), "private down")
    await trade_during(sim)
    await restart
    assert service.hybrid is not None
    await eventually(lambda: service.hybrid.private.connects >= 2, "private reconnected")


async def auth_rejection(sim: Simulator, service: StreamService) -> None:
    sim.control.reject_auth(3)
    await sim.control.drop_connections("private", "clean")
    await trade_during(sim)
    assert service.hybrid is not None
    await eventually(lambda: service.hybrid.private.stats["auth_rejected"] >= 3,
                     "three rejected auths")
    assert error_count(service, "auth") >= 3


async def rate_limited_reseed(sim: Simulator, service: StreamService) -> None:
    sim.control.rate_limit(count=3)
    await sim.control.drop_connections("private", "reset")
    await trade_during(sim)
    await eventually(lambda: error_count(service, "rate_limit") >= 3, "rate limit seen")


async def malformed_frames(sim: Simulator, service: StreamService) -> None:
    for kind in MALFORMED_KINDS:
        sim.control.send_malformed(kind, "all")
    await trade_during(sim)
    assert service.hybrid is not None
    await eventually(lambda: service.hybrid.private.stats["bad_frames"]
                     + service.hybrid.public.stats["bad_frames"] > 0, "bad frames counted")


async def stalled_tickers(sim: Simulator, service: StreamService) -> None:
    sim.control.stall()
    await trade_during(sim)
    assert service.hybrid is not None
    await eventually(lambda: service.hybrid.public.stats["stale_reconnects"] >= 1,
                     "stale ticker reconnect")
    sim.control.unstall()


async def slow_pongs(sim: Simulator, service: StreamService) -> None:
    sim.control.set_delay("all", 4000)  # beyond the 2 s pong deadline of the test settings
    await eventually(lambda: error_count(service, "heartbeat") >= 1, "pong deadline missed")
    sim.control.set_delay("all", 0)
    await trade_during(sim)


FAULTS: dict[str, Fault] = {
    "clean_drop": clean_drop,
    "reset_drop": reset_drop,
    "no_close_frame": drop_without_close_frame,
    "restart_trades_while_down": restart_with_trades_while_down,
    "auth_rejection": auth_rejection,
    "rate_limited_reseed": rate_limited_reseed,
    "malformed_frames": malformed_frames,
    "stalled_tickers": stalled_tickers,
    "slow_pongs": slow_pongs,
}


def marks_are_live(sim: Simulator, service: StreamService) -> bool:
    """The stream's mark equals the exchange's for every open symbol (at some instant)."""
    assert service.hybrid is not None
    book = service.hybrid.book
    return all(book.mark_price(s) is not None
               and Decimal(book.mark_price(s)) == sim.market.mark_price(s)
               for s in book.desired_symbols())


@pytest.mark.parametrize("name", sorted(FAULTS))
async def test_fault_ends_in_ground_truth(name: str) -> None:
    async with running_simulator(symbols=6) as sim, \
            running_stream(build_settings(sim)) as (service, buffer):
        await eventually(service.is_ready, "stream ready")
        await place_market_order(sim, "BTCUSDT", "Buy", "0.01")
        await place_market_order(sim, "ETHUSDT", "Sell", "0.1")
        await eventually(lambda: assert_book_matches_truth(service, sim), "initial book")
        await FAULTS[name](sim, service)
        await eventually(lambda: assert_book_matches_truth(service, sim),
                         "book == ground truth after the fault", within=45)
        await eventually(service.is_ready, "ready again", within=45)
        await eventually(lambda: marks_are_live(sim, service), "live marks", within=45)
        await eventually(lambda: not assess_journal(sim, buffer.events()),
                         "journal consistent", within=10)
        assert not assess_journal(sim, buffer.events())
