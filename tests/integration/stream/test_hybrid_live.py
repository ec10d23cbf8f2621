"""The hybrid stream against the simulator over real sockets: positions opened and closed
through the REST order API appear with live mark prices, and tickers follow positions."""

from __future__ import annotations

from hybridstream.simulator.app import running_simulator
from hybridstream.simulator.config import AccountConfig, SimulatorConfig

from tests.plugins.waiting import eventually

from .harness import (
    KEY,
    SECRET,
    assert_book_matches_truth,
    build_settings,
    place_market_order,
    running_stream,
)
from .journal_checks import assess_journal


async def test_positions_follow_live_mark_prices_and_subscriptions_follow_positions() -> None:
    async with running_simulator(symbols=5) as sim, \
            running_stream(build_settings(sim)) as (service, buffer):
        assert service.hybrid is not None
        await eventually(service.is_ready, "stream ready")
        await place_market_order(sim, "BTCUSDT", "Buy", "0.01")
        await eventually(lambda: "BTCUSDT" in service.hybrid.public.active,
                         "ticker subscription for BTCUSDT")
        marks = lambda: {e["data"]["markPrice"] for e in buffer.events()  # noqa: E731
                         if e["type"] == "position.update" and e["symbol"] == "BTCUSDT"}
        await eventually(lambda: len(marks()) >= 3, "three distinct live mark prices")
        await eventually(lambda: assert_book_matches_truth(service, sim), "book == truth")
        await place_market_order(sim, "BTCUSDT", "Sell", "0.01", reduce_only=True)
        await eventually(lambda: any(e["type"] == "position.closed"
                                     for e in buffer.events()), "position.closed")
        await eventually(lambda: not service.hybrid.public.active, "ticker unsubscribed")
        await eventually(lambda: assert_book_matches_truth(service, sim), "book == truth")
        kinds = {e["type"] for e in buffer.events()}
        assert {"order", "execution", "position.update", "position.closed"} <= kinds
        # Connected throughout and trades spaced out: every exchange seq was emitted.
        journal = {e["seq"] for e in sim.control.journal_entries()}
        emitted = {e["seq"] for e in buffer.events() if e["type"].startswith("position.")}
        assert journal and journal <= emitted
        assert not assess_journal(sim, buffer.events())


async def test_hedge_mode_keeps_both_sides_of_a_symbol_apart() -> None:
    config = SimulatorConfig(admin_port=0, symbols=3, accounts=(
        AccountConfig(api_key=KEY, api_secret=SECRET, hedge_mode=True),))
    async with running_simulator(config) as sim, \
            running_stream(build_settings(sim)) as (service, buffer):
        assert service.hybrid is not None
        await eventually(service.is_ready, "stream ready")
        sim.control.open_position(KEY, "ETHUSDT", "Buy", "0.2")
        sim.control.open_position(KEY, "ETHUSDT", "Sell", "0.1")
        await eventually(lambda: set(service.hybrid.book.positions) ==
                         {("ETHUSDT", 1), ("ETHUSDT", 2)}, "both hedge slots")
        await eventually(lambda: {e["data"]["positionIdx"] for e in buffer.events()
                                  if e["type"] == "position.update"} == {1, 2},
                         "updates per slot")
        sim.control.close_position(KEY, "ETHUSDT", position_idx=1)
        await eventually(lambda: set(service.hybrid.book.positions) == {("ETHUSDT", 2)},
                         "one slot closed")
        assert service.hybrid.public.active == {"ETHUSDT"}  # the other side still needs marks
        await eventually(lambda: assert_book_matches_truth(service, sim), "book == truth")
        sim.control.close_position(KEY, "ETHUSDT", position_idx=2)
        await eventually(lambda: not service.hybrid.public.active, "unsubscribed")
        assert not assess_journal(sim, buffer.events())
