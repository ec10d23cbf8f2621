"""The pure parts of durable delivery (docs/delivery.md): the coalescing FIFO the outbox
keeps in memory, the drop policy of a full spill, and what a sink's HTTP status means.

Per-symbol order is the invariant everything here keeps: what reaches the sink is a
subsequence of what was produced, never a reordering.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Hashable, Iterable
from enum import StrEnum

from hybridstream.hybrid.events import Event, EventType

POSITION_TYPES = (EventType.POSITION_UPDATE, EventType.POSITION_CLOSED)


class CoalescingQueue:
    """A FIFO where a coalescable event (position, wallet) replaces the queued one with
    the same key and moves to the tail. Replacing in place would deliver the newer state
    before an order queued between the two; moving it keeps per-symbol order."""

    def __init__(self) -> None:
        self._items: OrderedDict[Hashable, Event] = OrderedDict()
        self._serial = 0  # the key of an event that never coalesces
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self._items)

    def holds_key_of(self, event: Event) -> bool:
        """Whether ``put(event)`` would replace a queued event (the queue does not grow)."""
        key = event.coalesce_key
        return key is not None and key in self._items

    def put(self, event: Event) -> None:
        key: Hashable = event.coalesce_key
        if key is None:
            self._serial += 1
            key = self._serial
        elif self._items.pop(key, None) is not None:
            self.coalesced += 1
        self._items[key] = event

    def peek(self) -> Event | None:
        return next(iter(self._items.values()), None)

    def take(self, limit: int) -> list[Event]:
        """Remove and return up to ``limit`` events from the head."""
        items = self._items
        return [items.popitem(last=False)[1] for _ in range(min(limit, len(items)))]


def position_key(event: Event) -> tuple[str, ...] | None:
    """The key under which a newer position snapshot supersedes an older one."""
    return event.coalesce_key if event.type in POSITION_TYPES else None


def drop_superseded(events: Iterable[Event], newer: set[tuple[str, ...]]
                    ) -> tuple[list[Event], Counter[str]]:
    """The drop policy of a full spill: remove every position snapshot superseded by a
    later one of the same position; orders, executions and wallet are always kept.

    ``newer`` holds the position keys seen in later events; walk segments newest first,
    passing the same set, and it is updated with the keys found here. Returns the kept
    events (in order) and the dropped ones counted by type."""
    kept: list[Event] = []
    dropped: Counter[str] = Counter()
    for event in reversed(list(events)):
        key = position_key(event)
        if key is not None:
            if key in newer:
                dropped[str(event.type)] += 1
                continue
            newer.add(key)
        kept.append(event)
    kept.reverse()
    return kept, dropped


def worth_compacting(position_bytes: int, floor: int, bound: int) -> bool:
    """Compact a full spill only if position snapshots fill an eighth of it and twice what
    the last compaction left (``floor``): rewriting the spill for a few freed bytes on
    every new event would stall the event loop."""
    return position_bytes >= max(bound // 8, 2 * floor)


class Verdict(StrEnum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # this content: retrying the same events cannot help
    UNAVAILABLE = "unavailable"  # the receiver: down, overloaded or misconfigured


#: Statuses that refuse the content sent (malformed, too large) rather than the sender: the
#: batch is split until the one bad event is found and set aside, so it cannot wedge the
#: stream. 401/403/404 and the rest mean a misconfigured or absent receiver: retried.
REJECTING_STATUSES = frozenset({400, 413, 415, 422})


def classify_http_status(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status in REJECTING_STATUSES:
        return Verdict.REJECTED
    return Verdict.UNAVAILABLE
