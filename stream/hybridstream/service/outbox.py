"""The bounded outbox between socket readers and the sink.

Readers must never block (a slow consumer stalling the reader is pybit's failure mode,
docs/bybit-protocol.md §7), so ``put`` is synchronous:

* position and wallet events coalesce by key (latest value wins): a position updated ten
  times while the sink is slow is sent once, with its newest state, in its original place
  in the queue. Their number is bounded by the number of open positions.
* order and execution events are distinct exchange facts and are never coalesced. They go
  to a FIFO bounded at ``capacity``; beyond it we keep them anyway (losing an execution is
  worse than memory) and count every such event in ``overflowed`` so that backpressure is
  visible in status and the ``sink`` error counter. A private socket produces them at
  trading speed, so overflow means the sink is down, not that memory runs away.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

from hybridstream.hybrid.events import Event


class Outbox:
    """``put`` never blocks; ``get_batch`` awaits at least one event."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._coalesced: OrderedDict[tuple[str, ...], Event] = OrderedDict()
        self._fifo: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self.coalesced_total = 0
        self.overflowed = 0

    def __len__(self) -> int:
        return len(self._coalesced) + len(self._fifo)

    def put(self, event: Event) -> bool:
        """Queue an event without blocking; False if it went over the lossless capacity."""
        key = event.coalesce_key
        within = True
        if key is None:
            if len(self._fifo) >= self.capacity:
                self.overflowed += 1
                within = False
            self._fifo.append(event)
        else:
            if key in self._coalesced:
                self.coalesced_total += 1
            self._coalesced[key] = event
        self._ready.set()
        return within

    def close(self) -> None:
        """Shutdown: ``get_batch`` hands out what is left, then returns ``[]``."""
        self._closed = True
        self._ready.set()

    async def get_batch(self, limit: int = 500) -> list[Event]:
        """Wait for events, then take up to ``limit`` (lossless ones first, in order);
        ``[]`` once the outbox is closed and empty."""
        while not self:
            if self._closed:
                return []
            self._ready.clear()
            await self._ready.wait()
        batch: list[Event] = []
        while self._fifo and len(batch) < limit:
            batch.append(self._fifo.popleft())
        while self._coalesced and len(batch) < limit:
            batch.append(self._coalesced.popitem(last=False)[1])
        return batch
