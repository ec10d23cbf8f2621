"""The hybrid book: ticker merge, (symbol, positionIdx) keys, REST seeding races."""

from __future__ import annotations

from hybridstream.hybrid.book import HybridBook, build_unrealised_pnl
from hybridstream.hybrid.events import EventType
from hybridstream.hybrid.frames import PrivateFrame, TickerFrame


def pos(symbol: str, idx: int, size: str, seq: int, side: str = "Buy") -> dict:
    return {"symbol": symbol, "positionIdx": idx, "side": side if size != "0" else "",
            "size": size, "entryPrice": "100", "markPrice": "100", "seq": seq,
            "updatedTime": str(1000 + seq)}


def private(*items: dict) -> PrivateFrame:
    return PrivateFrame("position", 1, list(items))


def tick(symbol: str, data: dict, snapshot: bool = False, ts: int = 5000) -> TickerFrame:
    return TickerFrame(symbol, snapshot, {"symbol": symbol, **data}, 1, ts)


def test_delta_without_mark_price_emits_nothing_and_keeps_mark() -> None:
    book = HybridBook()
    book.on_private(private(pos("BTCUSDT", 0, "1", 1)), 0)
    [ev] = book.on_ticker(tick("BTCUSDT", {"markPrice": "101.5", "lastPrice": "101"}, True), 0)
    assert ev.data["markPrice"] == "101.5" and ev.data["unrealisedPnl"] == "1.5"
    assert book.on_ticker(tick("BTCUSDT", {"ask1Price": "102"}), 0) == []
    assert book.tickers["BTCUSDT"]["markPrice"] == "101.5"
    assert book.tickers["BTCUSDT"]["ask1Price"] == "102"


def test_new_snapshot_replaces_state() -> None:
    book = HybridBook()
    book.on_ticker(tick("X", {"markPrice": "1", "ask1Price": "2"}, True), 0)
    book.on_ticker(tick("X", {"markPrice": "3"}, True), 0)
    assert book.tickers["X"] == {"symbol": "X", "markPrice": "3"}


def test_hedge_mode_positions_are_separate_and_both_follow_the_mark() -> None:
    book = HybridBook()
    book.on_private(private(pos("ETHUSDT", 1, "2", 1), pos("ETHUSDT", 2, "3", 2, "Sell")), 0)
    events = book.on_ticker(tick("ETHUSDT", {"markPrice": "110"}, True), 0)
    pnl = {e.data["positionIdx"]: e.data["unrealisedPnl"] for e in events}
    assert pnl == {1: "20", 2: "-30"}
    [closed] = book.on_private(private(pos("ETHUSDT", 1, "0", 3)), 0)
    assert closed.type is EventType.POSITION_CLOSED and closed.data["positionIdx"] == 1
    assert book.desired_symbols() == {"ETHUSDT"}
    book.on_private(private(pos("ETHUSDT", 2, "0", 4)), 0)
    assert book.desired_symbols() == frozenset()


def test_prices_stay_exact() -> None:
    assert build_unrealised_pnl({"entryPrice": "0.1", "size": "3", "side": "Buy"}, "0.3") \
        == "0.6"


def test_seed_closes_missing_opens_new_and_never_rewinds() -> None:
    book = HybridBook()
    book.on_private(private(pos("A", 0, "1", 5), pos("B", 0, "1", 5)), 0)
    token = book.begin_seed()
    # While the REST call is in flight the socket opens C and updates B.
    book.on_private(private(pos("C", 0, "1", 1), pos("B", 0, "2", 9)), 0)
    rest = [{**pos("B", 0, "1", 5), "avgPrice": "100"}, pos("D", 0, "4", 2)]
    events = book.apply_seed(token, rest, 7000, 0)
    kinds = {(e.symbol, e.type) for e in events}
    assert kinds == {("A", EventType.POSITION_CLOSED), ("D", EventType.POSITION_UPDATE)}
    assert book.positions[("B", 0)]["size"] == "2"  # socket's newer state kept
    assert set(book.positions) == {("B", 0), ("C", 0), ("D", 0)}


def test_seed_with_lower_seq_than_socket_is_ignored() -> None:
    book = HybridBook()
    book.on_private(private(pos("A", 0, "3", 10)), 0)
    token = book.begin_seed()
    assert book.apply_seed(token, [pos("A", 0, "1", 4)], 1, 0) == []
    assert book.positions[("A", 0)]["size"] == "3"


def test_order_and_execution_pass_through_with_exchange_ids() -> None:
    book = HybridBook()
    [ev] = book.on_private(PrivateFrame("execution", 9, [
        {"symbol": "A", "execId": "e1", "execTime": "123", "seq": 77}]), 0)
    assert (ev.type, ev.seq, ev.exchange_time) == (EventType.EXECUTION, 77, 123)
    assert ev.coalesce_key is None
