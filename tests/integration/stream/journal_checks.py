"""Compare what the stream emitted with the simulator's ground-truth journal of position
updates (every ``seq`` the exchange produced)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

from hybridstream.simulator.app import Simulator

from .harness import KEY


def assess_journal(sim: Simulator, events: list[dict[str, Any]],
                   streams: list[list[dict[str, Any]]] | None = None) -> list[str]:
    """Problems found (empty = consistent):

    * every emitted position ``seq`` exists in the journal for that position (none invented);
    * per position, emitted ``seq`` never goes backwards within one delivery order
      (``streams``: one per sink, each in its own order; default: ``events`` as one);
    * per position, the newest journal ``seq`` was emitted (nothing final was lost; earlier
      updates may be superseded by a REST re-seed after a disconnect or coalesced).
    """
    return assess_journal_entries(sim.control.journal_entries(KEY), events, streams)


def assess_journal_entries(entries: list[dict[str, Any]], events: list[dict[str, Any]],
                           streams: list[list[dict[str, Any]]] | None = None) -> list[str]:
    """:func:`assess_journal` on journal entries already read (``journal_entries(KEY)``)."""
    journal: dict[tuple[str, int], list[int]] = defaultdict(list)
    for entry in entries:
        journal[(entry["symbol"], int(entry["position_idx"]))].append(int(entry["seq"]))
    emitted: dict[tuple[str, int], list[int]] = defaultdict(list)
    for e in events:
        if e["type"].startswith("position."):
            emitted[(e["symbol"], int(e["data"]["positionIdx"]))].append(int(e["seq"]))
    problems = []
    for key, seqs in emitted.items():
        invented = set(seqs) - set(journal.get(key, []))
        if invented:
            problems.append(f"{key}: seqs {sorted(invented)} not in the journal")
    for stream in streams if streams is not None else [events]:
        ordered: dict[tuple[str, int], list[int]] = defaultdict(list)
        for e in stream:
            if e["type"].startswith("position."):
                ordered[(e["symbol"], int(e["data"]["positionIdx"]))].append(int(e["seq"]))
        problems += [f"{key}: seq went backwards: {seqs}" for key, seqs in ordered.items()
                     if any(b < a for a, b in itertools.pairwise(seqs))]
    for key, seqs in journal.items():
        if max(seqs) not in emitted.get(key, []):
            problems.append(f"{key}: newest seq {max(seqs)} never emitted ({emitted.get(key)})")
    return problems


def trade(sim: Simulator, placed: dict[str, list[str]], symbols: list[str], count: int,
          start: int = 0) -> None:
    """``count`` market orders round the symbols, alternately buying and selling the
    minimum size; each order's id is appended to ``placed[symbol]`` (placement order)."""
    for i in range(start, start + count):
        symbol = symbols[i % len(symbols)]
        side = "Buy" if (i // len(symbols)) % 2 == 0 else "Sell"
        reply = sim.control.open_position(KEY, symbol, side,
                                          sim.market.instruments[symbol].min_qty)
        placed[symbol].append(reply["orderId"])


def assess_trades(placed: dict[str, list[str]], events: list[dict[str, Any]]) -> list[str]:
    """Problems found (empty = consistent): per symbol, the order events and the execution
    events name every order placed, in the order placed (first sightings: delivery is
    at-least-once, a repeat is allowed), and nothing else."""
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in events:
        if e["type"] in ("order", "execution"):
            ids = seen[(e["type"], e["symbol"])]
            if e["data"]["orderId"] not in ids:
                ids.append(e["data"]["orderId"])
    problems = []
    for symbol, order_ids in placed.items():
        for kind in ("order", "execution"):
            got = seen.get((kind, symbol), [])
            if got != order_ids:
                missing = len(set(order_ids) - set(got))
                problems.append(f"{symbol} {kind}: {missing} of {len(order_ids)} missing or "
                                f"out of order")
    return problems
