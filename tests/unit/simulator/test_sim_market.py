"""The seeded market walk: deterministic, sparse deltas, exact strings."""

from __future__ import annotations

from decimal import Decimal

from hybridstream.simulator.market import Market, build_instruments


def _market(seed: int = 3, n: int = 20) -> Market:
    return Market(build_instruments(n, seed), seed, now_ms=1_700_000_000_000)


def test_instruments_are_known_coins_then_synthetic() -> None:
    names = [i.symbol for i in build_instruments(12, 1)]
    assert names[:2] == ["BTCUSDT", "ETHUSDT"]
    assert names[10:] == ["SIM010USDT", "SIM011USDT"]


def test_same_seed_same_walk() -> None:
    a, b = _market(), _market()
    assert [a.step() for _ in range(20)] == [b.step() for _ in range(20)]
    assert _market(seed=4).step() != _market(seed=3).step()


def test_deltas_are_sparse_and_applied_to_snapshot() -> None:
    market = _market()
    state = market.snapshot("BTCUSDT")
    without_mark = 0
    for _ in range(50):
        delta = market.step().get("BTCUSDT", {})
        assert "symbol" not in delta  # the feed adds it
        assert len(delta) < len(state)
        without_mark += "markPrice" not in delta
        state.update(delta)
    assert without_mark > 0
    assert state == market.snapshot("BTCUSDT")


def test_prices_stay_on_tick_and_formatted() -> None:
    market = _market()
    for _ in range(30):
        market.step()
    inst = market.instruments["BTCUSDT"]
    last = Decimal(market.snapshot("BTCUSDT")["lastPrice"])
    assert last % Decimal(inst.tick_size) == 0
    assert market.snapshot("BTCUSDT")["lastPrice"].split(".")[1].__len__() == inst.decimals


def test_set_price_freezes_the_walk() -> None:
    market = _market()
    changed = market.set_price("ETHUSDT", "2500.5")
    assert changed["lastPrice"] == changed["markPrice"] == "2500.50"
    for _ in range(10):
        assert "ETHUSDT" not in market.step()
    assert market.mark_price("ETHUSDT") == Decimal("2500.50")
    market.unfreeze("ETHUSDT")
    assert any("ETHUSDT" in market.step() for _ in range(20))


def test_fill_prices_are_the_touch() -> None:
    market = _market()
    fields = market.snapshot("BTCUSDT")
    assert market.fill_price("BTCUSDT", "Buy") == Decimal(fields["ask1Price"])
    assert market.fill_price("BTCUSDT", "Sell") == Decimal(fields["bid1Price"])
