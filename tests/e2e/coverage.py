"""Symbol coverage of a run: every open symbol must be forwarded by at least one side
(legacy or hybrid) in every window, which is what "no symbol uncovered" means for a
consumer. Duplicates (both sides forwarding during a handover) are allowed."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from hack.stack import SYMBOLS
from tests.e2e.stack import Event

# Longest stretch a consumer may see no event for an open symbol: REST polls every second
# and tickers push twice a second, so only a handover or the fault's detection and
# rollback (4 s limit + 2 s scrape + 2 s analysis + acks) can open a gap.
COVERAGE_WINDOW = 30.0


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


def assert_covered(events: list[Event], start: float, end: float,
                   window: float = COVERAGE_WINDOW) -> None:
    """Every open symbol was forwarded at least every ``window`` seconds in [start, end]."""
    gaps = build_gaps(events, SYMBOLS, start, end)
    uncovered = {s: round(g, 1) for s, g in gaps.items() if g > window}
    assert not uncovered, (f"symbols without a forwarded event for longer than "
                           f"{window} s (longest gap per symbol): {uncovered}")
