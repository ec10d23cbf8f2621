"""Routing documents from text and from a watched file (invalid ones never applied)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hybridstream.routing import RoutingDocument
from hybridstream.service.routing_source import parse_routing_text, watch_routing_file

from tests.plugins.waiting import eventually


def test_gapped_or_broken_documents_are_ignored() -> None:
    assert parse_routing_text('{"generation": 5, "hybridMode": "canary", "legacyLow": 60}') \
        is None
    assert parse_routing_text("{not json") is None
    assert parse_routing_text(None) is None
    doc = parse_routing_text('{"generation": 2, "hybridMode": "cutover", "hybridHigh": 40}')
    assert doc is not None and doc.effective_hybrid_high == 40


async def test_file_watch_applies_valid_changes_only(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    applied: list[int] = []
    stop = asyncio.Event()
    task = asyncio.create_task(watch_routing_file(path, lambda d: applied.append(d.generation),
                                                  stop))
    # The gapped generation 2 sits between two valid ones; the watcher reads every version
    # because each stays until the previous one was applied (or, for 2, for 3 poll periods).
    path.write_text(RoutingDocument(generation=1).to_json())
    await eventually(lambda: applied == [1], within=30, interval=0.05)
    path.write_text('{"generation": 2, "hybridMode": "canary", "legacyLow": 60}')
    await asyncio.sleep(1.5)  # gives the watcher time to read it; not an assertion
    path.write_text(RoutingDocument(generation=3).to_json())
    await eventually(lambda: applied[-1:] == [3], within=30, interval=0.05)
    stop.set()
    await task
    assert applied == [1, 3]
