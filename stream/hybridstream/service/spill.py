"""The bounded on-disk part of the outbox (docs/delivery.md): events the sink has not taken
while memory is full, and everything left at shutdown, as JSON lines in numbered segment
files. Segments are read and deleted from the head and written at the tail, so the order
on disk is the order produced; a restarted process finds them and delivers them first.

One process per directory (an advisory lock): two writers would interleave segments.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hybridstream.hybrid.delivery import drop_superseded, position_key, worth_compacting
from hybridstream.hybrid.events import Event, event_from_dict

log = logging.getLogger(__name__)

#: Numbers of new segments start here, leaving room below for the segment a shutdown
#: writes in front of the others (events older than everything spilled).
FIRST_SEGMENT = 10**11
SEGMENT_BYTES = 1 << 20
# to_dict() writes "type" first: a line's kind is known without parsing it
_POSITION_PREFIX = b'{"type":"position.'


@dataclass
class Segment:
    number: int
    path: Path
    bytes: int = 0
    events: int = 0
    position_bytes: int = 0

    def count(self, line: bytes) -> None:
        self.bytes += len(line)
        self.events += 1
        if line.startswith(_POSITION_PREFIX):
            self.position_bytes += len(line)


def encode(event: Event) -> bytes:
    return json.dumps(event.to_dict(), separators=(",", ":")).encode() + b"\n"


class SpillDir:
    """``append`` at the tail within ``max_bytes``; ``head``/``ack`` at the head."""

    def __init__(self, path: Path, max_bytes: int,
                 on_dropped: Callable[[str, int], None] = lambda kind, n: None,
                 segment_bytes: int = SEGMENT_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._on_dropped = on_dropped
        # a sixteenth of the bound at most: the head segment, read for delivery, is never
        # compacted, so it must not be most of the spill
        self._segment_bytes = min(segment_bytes, max(max_bytes // 16, 1))
        path.mkdir(parents=True, exist_ok=True)
        self._lock = (path / "lock").open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RuntimeError(f"spill directory {path} is used by another process") from None
        self._segments: deque[Segment] = deque(self._scan())
        self._writer: IO[bytes] | None = None  # open on the last segment while appending
        self._head: list[Event] | None = None  # the first segment, read for delivery
        self._offset = 0  # events of the head already acknowledged
        self._floor = 0  # position bytes the last compaction left
        self.dropped: Counter[str] = Counter()

    def _scan(self) -> list[Segment]:
        found = []
        for file in sorted(self.path.glob("seg-*.jsonl")):
            segment = Segment(int(file.stem.removeprefix("seg-")), file)
            for line in file.read_bytes().splitlines(keepends=True):
                segment.count(line)
            found.append(segment)
        if found:
            log.info("spill: %d events (%d bytes) left by a previous run, delivered first",
                     sum(s.events for s in found), sum(s.bytes for s in found))
        return found

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self._segments)

    @property
    def events(self) -> int:
        return sum(s.events for s in self._segments) - self._offset

    def _position_bytes(self) -> int:
        return sum(s.position_bytes for s in self._segments)

    def append(self, event: Event) -> bool:
        """Write ``event`` at the tail; False if it does not fit even after dropping
        superseded position snapshots (the caller keeps it)."""
        line = encode(event)
        if self.bytes + len(line) > self.max_bytes:
            if not worth_compacting(self._position_bytes(), self._floor, self.max_bytes):
                return False
            self._compact(event)
            if self.bytes + len(line) > self.max_bytes:
                return False
        self._write(line)
        return True

    def _write(self, line: bytes) -> None:
        tail = self._segments[-1] if self._segments else None
        if self._writer is None or tail is None or tail.bytes >= self._segment_bytes:
            number = tail.number + 1 if tail is not None else FIRST_SEGMENT
            tail = self._new_segment(number)
            self._segments.append(tail)
        assert self._writer is not None
        self._writer.write(line)  # unbuffered: on disk (page cache) if the process dies
        tail.count(line)

    def _new_segment(self, number: int) -> Segment:
        self._close_writer()
        path = self.path / f"seg-{number:012d}.jsonl"
        self._writer = path.open("ab", buffering=0)
        return Segment(number, path)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def head(self, limit: int) -> list[Event]:
        """Up to ``limit`` events from the head, not yet removed (see :meth:`ack`)."""
        if self._head is None:
            if not self._segments:
                return []
            if len(self._segments) == 1:
                self._close_writer()  # the head is read whole: later events go to a new one
            self._head, self._offset = self._read(self._segments[0].path), 0
        return self._head[self._offset:self._offset + limit]

    def ack(self, count: int) -> None:
        """The first ``count`` events of :meth:`head` were delivered."""
        assert self._head is not None
        self._offset += count
        if self._offset >= len(self._head):
            self._segments.popleft().path.unlink()
            self._head, self._offset = None, 0

    @staticmethod
    def _read(path: Path) -> list[Event]:
        events = []
        for line in path.read_bytes().splitlines():
            try:
                events.append(event_from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError):  # a line cut by a crash mid-write
                log.warning("spill: unreadable line in %s skipped", path.name)
        return events

    def _compact(self, incoming: Event) -> None:
        """Drop the position snapshots a later one supersedes, newest segment first. The
        head segment is left alone: its events may be in flight to the sink."""
        self._close_writer()
        newer = {key} if (key := position_key(incoming)) is not None else set()
        skip = 1 if self._head is not None else 0
        kept_segments = list(self._segments)[:skip]
        rewritten: list[Segment] = []
        dropped: Counter[str] = Counter()
        for segment in reversed(list(self._segments)[skip:]):
            events, found = drop_superseded(self._read(segment.path), newer)
            dropped += found
            kept = self._rewrite(segment, events) if found else segment
            if kept.events:
                rewritten.append(kept)
        self._segments = deque(kept_segments + rewritten[::-1])
        self._floor = self._position_bytes()
        for kind, count in dropped.items():
            self.dropped[kind] += count
            self._on_dropped(kind, count)
        log.warning("spill: full at %d bytes, dropped %d superseded position snapshots",
                    self.max_bytes, sum(dropped.values()))

    def _rewrite(self, segment: Segment, events: list[Event]) -> Segment:
        fresh = Segment(segment.number, segment.path)
        if not events:
            segment.path.unlink()
            return fresh
        temporary = segment.path.with_suffix(".tmp")
        lines = [encode(e) for e in events]
        temporary.write_bytes(b"".join(lines))
        os.replace(temporary, segment.path)  # a crash leaves the old or the new, never half
        for line in lines:
            fresh.count(line)
        return fresh

    def prepend(self, events: list[Event]) -> None:
        """Shutdown: write ``events``, older than everything spilled, in front of it (the
        byte bound is not applied: the volume's size limit keeps headroom for this)."""
        if not events:
            return
        self._trim_head()
        self._close_writer()
        first = self._segments[0].number if self._segments else FIRST_SEGMENT
        segment = self._new_segment(first - 1)
        self._segments.appendleft(segment)
        lines = [encode(e) for e in events]
        assert self._writer is not None
        self._writer.write(b"".join(lines))
        for line in lines:
            segment.count(line)
        self._close_writer()

    def extend(self, events: list[Event]) -> None:
        """Shutdown: write ``events``, newer than everything spilled, at the tail (unbounded,
        as for :meth:`prepend`)."""
        for line in map(encode, events):
            self._write(line)

    def _trim_head(self) -> None:
        """Rewrite the head segment without its delivered events (fewer duplicates after a
        restart), and forget it was read."""
        if self._head is not None and self._offset:
            head = self._segments.popleft()
            self._segments.appendleft(self._rewrite(head, self._head[self._offset:]))
        self._head, self._offset = None, 0

    def close(self) -> None:
        """Keep only what was not delivered, and release the directory."""
        self._close_writer()
        self._trim_head()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()
