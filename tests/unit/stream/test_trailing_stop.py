"""The trailing-stop consumer's trigger logic: activation and trigger levels for longs and
shorts (boundaries included), one firing per phase, re-arming on close or flip, and the
active-active overlap (repeats, a lagging replica's stale mark, legacy and hybrid
interleaved) never changing what fires."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hybridstream.consumer import StopSpec, TrailingStopConsumer
from hybridstream.consumer.trailing_stop import Phase
from hypothesis import given
from hypothesis import strategies as st


def mark(price: str, t: int, *, side: str = "Buy", seq: int = 5, source: str = "hybrid",
         kind: str = "position.update", symbol: str = "BTCUSDT") -> dict:
    return {"type": kind, "source": source, "symbol": symbol, "seq": seq, "exchangeTime": t,
            "data": {"symbol": symbol, "positionIdx": 0, "side": side, "size": "0.01",
                     "markPrice": price}}


def fired(consumer: TrailingStopConsumer, events: list[dict]) -> list[tuple[str, str, str]]:
    return [(str(f.kind), str(f.mark_price), str(f.stop_price))
            for e in events for f in consumer.feed(e)]


LONG = StopSpec("BTCUSDT", activation_price=Decimal(105), callback=Decimal(5))


def test_a_long_activates_at_the_level_trails_the_peak_and_triggers_once():
    consumer = TrailingStopConsumer([LONG])
    events = [mark("100", 1), mark("104.9", 2), mark("105", 3),  # activation: at the level
              mark("110", 4), mark("106", 5), mark("112", 6),   # 106 > 110-5: still active
              mark("107.5", 7), mark("107", 8),                 # 107 == 112-5: triggered
              mark("100", 9), mark("130", 10)]                  # nothing more fires
    assert fired(consumer, events) == [("active", "105", "100"), ("triggered", "107", "107")]
    assert consumer.phase("BTCUSDT") is Phase.TRIGGERED


def test_a_short_mirrors_it():
    consumer = TrailingStopConsumer([StopSpec("BTCUSDT", Decimal(95), Decimal("2.5"))])
    events = [mark(p, t, side="Sell") for t, p in enumerate(
        ["100", "95.1", "95", "90", "92", "89", "91.4", "91.5"])]
    assert fired(consumer, events) == [("active", "95", "97.5"), ("triggered", "91.5", "91.5")]


def test_a_close_or_a_flip_rearms_the_stop():
    consumer = TrailingStopConsumer([LONG])
    assert fired(consumer, [mark("106", 1), mark("100", 2)]) == [
        ("active", "106", "101"), ("triggered", "100", "101")]
    assert fired(consumer, [mark("100", 3, kind="position.closed", seq=6),
                            mark("106", 4, seq=7)]) == [("active", "106", "101")]
    # flipped to a short: a new position, armed; a short activates at or below 105
    assert fired(consumer, [mark("104", 5, side="Sell", seq=8)]) == [("active", "104", "109")]


def test_positions_without_a_stop_and_other_events_are_ignored():
    consumer = TrailingStopConsumer([LONG])
    assert fired(consumer, [mark("200", 1, symbol="ETHUSDT"),
                            {"type": "execution", "source": "hybrid", "symbol": "BTCUSDT",
                             "seq": 1, "data": {"execId": "e1"}},
                            {**mark("", 2), "data": {"positionIdx": 0, "side": "Buy"}}]) == []


def test_a_lagging_replicas_stale_mark_never_triggers():
    """Replica B delivers a mark older than one replica A already delivered: without the
    de-duplicator it would sit below the trailed stop and trigger a stop the market never
    hit at that point."""
    a = [mark("106", 100), mark("112", 200)]
    stale_from_b = mark("106.5", 150)  # 106.5 < 112 - 5
    assert fired(TrailingStopConsumer([LONG]), [*a, stale_from_b]) == [("active", "106", "101")]


def test_legacy_and_hybrid_interleaved_during_a_handover():
    consumer = TrailingStopConsumer([LONG])
    events = [mark("104", 100, source="rest"), mark("106", 120, source="hybrid"),
              mark("106", 120, source="hybrid"),             # the other hybrid replica
              mark("104", 110, source="rest"),               # a REST poll older than it
              mark("100", 300, seq=6, source="rest")]        # the next seq from REST
    assert fired(consumer, events) == [("active", "106", "101"), ("triggered", "100", "101")]


def test_a_non_positive_callback_is_refused():
    with pytest.raises(ValueError, match="callback"):
        StopSpec("BTCUSDT", Decimal(1), Decimal(0))


@given(st.lists(st.integers(90, 120), min_size=1, max_size=40),
       st.lists(st.integers(1, 3), min_size=40, max_size=40))
def test_repeats_of_any_path_fire_exactly_what_the_path_fires(prices, repeats):
    path = [mark(str(p), t) for t, p in enumerate(prices)]
    once = fired(TrailingStopConsumer([LONG]), path)
    overlapped = [e for e, n in zip(path, repeats, strict=False) for _ in range(n)]
    assert fired(TrailingStopConsumer([LONG]), overlapped) == once
    assert len(once) <= 2
