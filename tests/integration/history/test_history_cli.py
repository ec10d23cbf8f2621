"""``hybridstream history`` as a user runs it (a real process, a real database): what the
sink stored, filtered by ``--since``, and a failure that never shows the password."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hybridstream.service.sinks import PostgresSink

from tests.plugins.postgres import PASSWORD, PostgresServer

from .test_schema_and_writes import BATCH, execution


def history(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hybridstream.cli", "history", *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "HYBRID_SINK_URL": url})


async def test_history_lists_what_the_sink_stored_since_an_instant(postgres_url: str) -> None:
    sink = PostgresSink(postgres_url)
    await sink.send([*BATCH, execution("late", at=5000)])
    await sink.close()

    out = history(postgres_url, "executions", "--since", "1002", "--json")
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["exec_id"] for line in out.stdout.splitlines()] == ["e2", "late"]

    table = history(postgres_url, "orders", "--since", "0")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["updated_time", "order_id", "symbol"]
    assert row.split()[-1] == "New>PartiallyFilled>Filled"  # the status history

    positions = history(postgres_url, "positions", "--since", "2d", "--json")
    assert positions.returncode == 0 and positions.stdout == ""  # 1970 snapshots only


def test_a_failure_shows_the_url_redacted(postgres_server: PostgresServer) -> None:
    url = postgres_server.url("no_such_db")
    out = history(url, "orders")
    assert out.returncode == 1
    assert PASSWORD not in out.stderr + out.stdout
    assert "hybridstream:***@127.0.0.1" in out.stderr
