"""Outbox coalescing/losslessness and the consumer de-duplicator."""

from __future__ import annotations

from hybridstream.consumer import EventDeduplicator
from hybridstream.hybrid.events import Event, EventType, Source
from hybridstream.service.outbox import Outbox


def position_event(symbol: str, seq: int, mark: str, ts: int = 1) -> Event:
    return Event(EventType.POSITION_UPDATE, Source.HYBRID, symbol,
                 {"positionIdx": 0, "markPrice": mark}, seq, ts, 0.0)


def execution_event(exec_id: str) -> Event:
    return Event(EventType.EXECUTION, Source.HYBRID, "A", {"execId": exec_id}, 1, 1, 0.0)


async def test_positions_coalesce_latest_wins_in_place_and_executions_are_lossless() -> None:
    box = Outbox(capacity=2)
    box.put(position_event("A", 1, "1"))
    box.put(position_event("B", 1, "5"))
    box.put(position_event("A", 2, "2"))
    for i in range(4):
        box.put(execution_event(f"e{i}"))
    batch = await box.get_batch()
    assert [e.data.get("execId") for e in batch[:4]] == ["e0", "e1", "e2", "e3"]
    assert [(e.symbol, e.data["markPrice"]) for e in batch[4:]] == [("A", "2"), ("B", "5")]
    assert box.coalesced_total == 1 and box.overflowed == 2 and len(box) == 0


def test_dedup_positions_by_seq_and_exchange_time() -> None:
    d = EventDeduplicator()
    first = position_event("A", 5, "1", ts=100).to_dict()
    assert d.accept(first)
    assert not d.accept(dict(first))  # the same event from a second replica
    assert d.accept(position_event("A", 5, "2", ts=200).to_dict())  # newer mark, same seq
    assert not d.accept(position_event("A", 4, "3", ts=900).to_dict())  # stale seq
    closed = position_event("A", 5, "2", ts=200).to_dict() | {"type": "position.closed"}
    assert d.accept(closed)
    assert d.accept(position_event("A", 6, "2", ts=150).to_dict())  # reopened


def test_dedup_orders_and_executions_by_exchange_ids() -> None:
    d = EventDeduplicator(capacity=2)
    ex = execution_event("e1").to_dict()
    assert d.accept(ex) and not d.accept(ex)
    order = {"type": "order", "symbol": "A", "data": {"orderId": "o", "orderStatus": "New",
                                                      "updatedTime": "1", "cumExecQty": "0"}}
    filled = {**order, "data": {**order["data"], "orderStatus": "Filled"}}
    assert d.accept(order) and d.accept(filled) and not d.accept(filled)
