"""Outbox coalescing/losslessness and the consumer de-duplicator."""

from __future__ import annotations

import asyncio
import json

from hybridstream.consumer import EventDeduplicator
from hybridstream.hybrid.events import Event, EventType, Source
from hybridstream.service.outbox import Outbox


def position_event(symbol: str, seq: int, mark: str, ts: int = 1) -> Event:
    return Event(EventType.POSITION_UPDATE, Source.HYBRID, symbol,
                 {"positionIdx": 0, "markPrice": mark}, seq, ts, 0.0)


def execution_event(exec_id: str) -> Event:
    return Event(EventType.EXECUTION, Source.HYBRID, "A", {"execId": exec_id}, 1, 1, 0.0)


async def test_positions_coalesce_latest_wins_at_the_tail_and_executions_are_lossless() -> None:
    box = Outbox(capacity=2)
    box.put(position_event("A", 1, "1"))
    box.put(position_event("B", 1, "5"))
    box.put(position_event("A", 2, "2"))  # replaces A1 and moves behind B: order kept
    for i in range(4):
        box.put(execution_event(f"e{i}"))  # past the capacity: kept in memory, counted
    batch = await box.next_batch()
    assert [(e.symbol, e.data["markPrice"]) for e in batch[:2]] == [("B", "5"), ("A", "2")]
    box.ack(len(batch))
    rest = await box.next_batch()
    assert [e.data.get("execId") for e in rest] == ["e0", "e1", "e2", "e3"]
    box.ack(len(rest))
    assert box.coalesced_total == 1 and box.overflowed == 4 and len(box) == 0


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


def test_wire_form_has_plain_strings_and_microsecond_timestamps() -> None:
    event = Event(EventType.POSITION_UPDATE, Source.REST, "A", {"positionIdx": 0}, 7, 1_700,
                  1_764_605_123_456.789_49, 1_764_605_123_457.250_4)
    wire = event.to_dict()
    assert type(wire["type"]) is str and wire["type"] == "position.update"
    assert type(wire["source"]) is str and wire["source"] == "rest"
    assert (wire["receiveTime"], wire["emitTime"]) == (1_764_605_123_456.789,
                                                       1_764_605_123_457.25)
    assert json.dumps(wire["receiveTime"]) == "1764605123456.789"  # never 17 digits
    assert {k: wire[k] for k in ("symbol", "seq", "exchangeTime", "data")} == {
        "symbol": "A", "seq": 7, "exchangeTime": 1_700, "data": {"positionIdx": 0}}


async def test_a_closed_outbox_hands_out_what_is_left_then_nothing() -> None:
    box = Outbox(capacity=10)
    waiting = asyncio.create_task(box.next_batch())
    await asyncio.sleep(0)
    box.close()
    assert await asyncio.wait_for(waiting, 5) == []  # a drain blocked on an empty outbox ends
    box.put(position_event("A", 1, "1"))  # a late put is still delivered, not dropped
    box.put(execution_event("e0"))
    batch = await box.next_batch()
    assert [e.type for e in batch] == [EventType.POSITION_UPDATE, EventType.EXECUTION]
    box.ack(len(batch))
    assert await box.next_batch() == []
