"""Symbol coverage of a run: every open symbol must be forwarded by at least one side
(legacy or hybrid) in every window, which is what "no symbol uncovered" means for a
consumer. Duplicates (both sides forwarding during a handover) are allowed."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from tests.e2e.stack import Event


def build_gaps(events: Iterable[Event], symbols: Iterable[str], start: float,
               end: float) -> dict[str, float]:
    """Per symbol, the longest stretch of [start, end] without a forwarded position event
    from either side."""
    times: dict[str, list[float]] = {s: [] for s in symbols}
    for e in events:
        if e.symbol in times and e.type.startswith("position") and start <= e.at <= end:
            times[e.symbol].append(e.at)
    gaps = {}
    for symbol, stamps in times.items():
        edges = [start, *sorted(stamps), end]
        gaps[symbol] = max(b - a for a, b in itertools.pairwise(edges))
    return gaps


def build_sources(events: Iterable[Event], role: str, start: float,
                  end: float) -> set[str]:
    """Symbols that ``role``'s pods forwarded position events for within [start, end]."""
    return {e.symbol for e in events
            if e.role == role and e.type.startswith("position") and start <= e.at <= end}
