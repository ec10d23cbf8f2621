"""The bounded outbox between socket readers and the sink (docs/delivery.md).

Readers must never block (a slow consumer stalling the reader is pybit's failure mode,
docs/bybit-protocol.md §7), so ``put`` is synchronous. Events wait in three places, always
delivered oldest first so that per-symbol order holds:

1. memory, up to ``capacity`` events: position and wallet events coalesce by key (latest
   value wins, moved to the tail); orders and executions never coalesce;
2. the spill directory (optional, bounded in bytes) once memory is full, and for every
   later event while anything is spilled, so nothing overtakes what is on disk. When it is
   full, superseded position snapshots on it are dropped (counted);
3. memory again, past every bound, when the spill is full of events that may not be
   dropped (orders, executions, wallet) or there is no spill directory: back-pressure
   on the exchange socket would stop its heartbeats and lose more on the reconnect than
   memory costs, so the events are kept and each one is counted (``overflowed``). They
   move to the spill as soon as it has room again.

A batch stays in the outbox until the sink acknowledges it (``ack``): what is in flight at
shutdown is persisted with the rest (at-least-once delivery).
"""

from __future__ import annotations

import asyncio

from hybridstream.hybrid.delivery import CoalescingQueue
from hybridstream.hybrid.events import Event
from hybridstream.service.spill import SpillDir


class Outbox:
    """``put`` never blocks; ``next_batch`` awaits at least one event; ``ack`` removes what
    the sink took."""

    def __init__(self, capacity: int, spill: SpillDir | None = None) -> None:
        self.capacity = capacity
        self.spill = spill
        self._memory = CoalescingQueue()
        self._overflow = CoalescingQueue()
        self._in_flight: list[Event] = []
        self._in_flight_spilled = False  # in flight from the spill: still on disk
        self._ready = asyncio.Event()
        self._closed = False
        self.overflowed = 0

    @property
    def coalesced_total(self) -> int:
        return self._memory.coalesced + self._overflow.coalesced

    @property
    def in_memory(self) -> int:
        """Events held in memory, in flight included."""
        in_flight = 0 if self._in_flight_spilled else len(self._in_flight)
        return len(self._memory) + len(self._overflow) + in_flight

    @property
    def spilled(self) -> int:
        return self.spill.events if self.spill is not None else 0

    def __len__(self) -> int:
        return self.in_memory + self.spilled

    def put(self, event: Event) -> bool:
        """Queue an event without blocking; False if it went past every bound."""
        self._ready.set()
        if not self._overflow:  # else it must queue behind the overflow
            if not self.spilled and (len(self._memory) < self.capacity
                                     or self._memory.holds_key_of(event)):
                self._memory.put(event)
                return True
            if self.spill is not None and self.spill.append(event):
                return True
        self._overflow.put(event)
        self.overflowed += 1
        return False

    def close(self) -> None:
        """Shutdown: ``next_batch`` hands out what is left, then returns ``[]``."""
        self._closed = True
        self._ready.set()

    async def next_batch(self, limit: int = 500) -> list[Event]:
        """Wait for events, then return up to ``limit`` of the oldest; they stay in the
        outbox until :meth:`ack`. ``[]`` once the outbox is closed and empty."""
        assert not self._in_flight, "ack the previous batch first"
        while True:
            batch, self._in_flight_spilled = self._memory.take(limit), False
            if not batch and self.spill is not None:
                batch, self._in_flight_spilled = self.spill.head(limit), True
            if not batch:
                batch, self._in_flight_spilled = self._overflow.take(limit), False
            if batch:
                self._in_flight = batch
                return batch
            if self._closed:
                return []
            self._ready.clear()
            await self._ready.wait()

    def ack(self, count: int) -> None:
        """The first ``count`` events of the batch were delivered (or set aside)."""
        if self._in_flight_spilled and count:
            assert self.spill is not None
            self.spill.ack(count)
        del self._in_flight[:count]
        self._unload_overflow()

    def _unload_overflow(self) -> None:
        """Move overflowed events to the spill while it has room (they are newer than
        everything on it, so order holds), freeing memory."""
        while self.spill is not None and (event := self._overflow.peek()) is not None:
            if not self.spill.append(event):
                return
            self._overflow.take(1)

    def persist(self) -> int:
        """Shutdown, after the drain: write what is left to the spill, in order. Returns
        the number of events that could not be kept (no spill directory)."""
        older = ([] if self._in_flight_spilled else self._in_flight)
        older = older + self._memory.take(len(self._memory))
        newer = self._overflow.take(len(self._overflow))
        self._in_flight = []
        if self.spill is None:
            return len(older) + len(newer)
        self.spill.prepend(older)
        self.spill.extend(newer)
        return 0
