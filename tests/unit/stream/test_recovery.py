"""Recovery after a private-socket gap and the REST fallback's marks, in the pure book:
every order state and execution is emitted once whether it came from the socket, from REST,
or both; recovered facts come oldest first marked ``source: rest``; the next recovery
starts just before the newest fact seen, inside Bybit's seven-day window; REST marks re-emit
only open positions whose mark moved."""

from __future__ import annotations

from hybridstream.hybrid.book import HybridBook
from hybridstream.hybrid.events import EventType, Source
from hybridstream.hybrid.frames import PrivateFrame
from hybridstream.hybrid.recovery import (
    QUERY_WINDOW_MS,
    RECOVERY_MARGIN_MS,
    FactLog,
    fact_key,
)


def execution(exec_id: str, t: int, symbol: str = "BTCUSDT") -> dict:
    return {"execId": exec_id, "execTime": str(t), "symbol": symbol, "orderId": "o1",
            "seq": t}


def order(order_id: str, t: int, status: str = "Filled") -> dict:
    return {"orderId": order_id, "updatedTime": str(t), "orderStatus": status,
            "symbol": "BTCUSDT"}


def test_an_order_has_one_key_per_state_and_an_execution_one_key():
    assert fact_key("order", order("o1", 5, "New")) != fact_key("order", order("o1", 6))
    assert fact_key("execution", execution("e1", 5)) == fact_key("execution",
                                                                 execution("e1", 9))
    assert fact_key("wallet", {"coin": []}) is None


def test_socket_then_rest_emits_each_fact_once_oldest_first():
    book = HybridBook(started_ms=0)
    pushed = book.on_private(PrivateFrame("execution", 10, [execution("e1", 10)]), 11)
    assert [e.data["execId"] for e in pushed] == ["e1"]
    recovered = book.apply_recovered([("execution", execution("e3", 30)),
                                      ("execution", execution("e1", 10)),
                                      ("order", order("o1", 20)),
                                      ("execution", execution("e2", 25))], 40)
    assert [(e.type, e.data.get("execId") or e.data["orderId"]) for e in recovered] == [
        (EventType.ORDER, "o1"), (EventType.EXECUTION, "e2"), (EventType.EXECUTION, "e3")]
    assert {e.source for e in recovered} == {Source.REST}
    # the socket delivering a recovered fact late, or a second recovery: nothing again
    assert book.on_private(PrivateFrame("execution", 50, [execution("e3", 30)]), 51) == []
    assert book.apply_recovered([("execution", execution("e2", 25))], 60) == []


def test_wallet_pushes_are_never_deduplicated():
    book = HybridBook()
    wallet = {"accountType": "UNIFIED", "totalEquity": "1"}
    for _ in range(2):
        assert len(book.on_private(PrivateFrame("wallet", 1, [wallet]), 2)) == 1


def test_recovery_starts_before_the_newest_fact_within_the_query_window():
    log = FactLog(started_ms=1_000_000)
    now = 2_000_000
    assert log.recovery_start(now) == 1_000_000 - RECOVERY_MARGIN_MS
    log.close_gap()  # the first recovery ran: from now on the newest fact leads
    log.admit("execution", execution("e1", 1_500_000))
    log.admit("execution", execution("e0", 1_200_000))  # older: does not move it back
    assert log.recovery_start(now) == 1_500_000 - RECOVERY_MARGIN_MS
    far_future = 1_500_000 + 30 * QUERY_WINDOW_MS
    assert log.recovery_start(far_future) == far_future - QUERY_WINDOW_MS


def test_a_gap_pins_the_recovery_start_however_many_newer_facts_arrive_first():
    """Socket down after e1; reconnected, the socket delivers e2 20 s later while the
    recovery is still held up (rate-limited REST): the recovery must still start before
    the gap, or the gap's fills are never read back."""
    log = FactLog()
    log.close_gap()
    log.admit("execution", execution("e1", 1_000_000))
    log.open_gap()
    log.admit("execution", execution("e2", 1_020_000))
    assert log.recovery_start(2_000_000) == 1_000_000 - RECOVERY_MARGIN_MS
    log.open_gap()  # dropped again before recovering: the first gap's start holds
    assert log.recovery_start(2_000_000) == 1_000_000 - RECOVERY_MARGIN_MS
    log.close_gap()
    assert log.recovery_start(2_000_000) == 1_020_000 - RECOVERY_MARGIN_MS


def test_until_the_first_recovery_it_starts_from_the_start():
    """A restarted pod's look-back survives fills its new socket delivers first."""
    log = FactLog(started_ms=1_000_000)
    log.admit("execution", execution("e1", 1_100_000))
    assert log.recovery_start(2_000_000) == 1_000_000 - RECOVERY_MARGIN_MS


def test_the_fact_log_forgets_the_oldest_beyond_its_bound():
    log = FactLog(limit=3)
    for i in range(4):
        assert log.admit("execution", execution(f"e{i}", i))
    assert log.admit("execution", execution("e0", 0))  # forgotten: admitted again
    assert not log.admit("execution", execution("e3", 3))


def test_rest_marks_re_emit_only_open_positions_whose_mark_moved():
    book = HybridBook()
    book.apply_seed(book.begin_seed(), [
        {"symbol": "BTCUSDT", "positionIdx": 0, "side": "Buy", "size": "1",
         "avgPrice": "100", "markPrice": "100", "seq": 1}], 1, 1)
    events = book.apply_rest_marks({"BTCUSDT": "110", "ETHUSDT": "5"}, 7, 8)
    [event] = events
    assert (event.type, event.source, event.symbol) == (
        EventType.POSITION_UPDATE, Source.REST, "BTCUSDT")
    assert (event.data["markPrice"], event.data["unrealisedPnl"], event.exchange_time) == (
        "110", "10", 7)
    assert book.apply_rest_marks({"BTCUSDT": "110"}, 9, 9) == []  # unchanged
    assert book.mark_price("BTCUSDT") == "110"


def test_fallback_polls_emit_only_changed_positions():
    book = HybridBook()
    item = {"symbol": "BTCUSDT", "positionIdx": 0, "side": "Buy", "size": "1",
            "avgPrice": "100", "seq": 1}
    assert len(book.apply_seed(book.begin_seed(), [item], 1, 1)) == 1
    assert book.apply_seed(book.begin_seed(), [item], 2, 2, changes_only=True) == []
    grown = {**item, "size": "2", "seq": 2}
    [event] = book.apply_seed(book.begin_seed(), [grown], 3, 3, changes_only=True)
    assert event.data["size"] == "2"
