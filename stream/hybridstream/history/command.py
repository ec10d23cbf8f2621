"""``hybridstream history orders|executions|positions --since ...``: what the PostgreSQL
sink stored, oldest first. The database URL is read from an environment variable
(``HYBRID_SINK_URL`` by default, as the stream gets it from its Secret), never from the
command line, where ``ps`` and shell history would show its password."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from hybridstream.history.connect import connect, describe, redact_url
from hybridstream.history.queries import QUERIES, fetch_history

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float) -> int:
    """Unix ms from ``30m``/``2h``/``7d`` (ago), an ISO-8601 instant (UTC unless it says
    otherwise) or unix ms."""
    if match := _DURATION.match(text):
        return int((now - float(match[1]) * _SECONDS[match[2]]) * 1000)
    if text.isdigit():
        return int(text)
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since {text!r}: want 30m, 2h, 7d, an ISO-8601 time or unix ms") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return int(instant.timestamp() * 1000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=sorted(QUERIES))
    parser.add_argument("--since", default="24h",
                        help="30m, 2h, 7d ago, an ISO-8601 time (UTC) or unix ms (default 24h)")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="one JSON object per line, "
                        "every column")
    parser.add_argument("--url-env", default="HYBRID_SINK_URL",
                        help="the environment variable holding the database URL")


def format_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


async def read(url: str, kind: str, since_ms: int, limit: int) -> list[dict[str, Any]]:
    # a reader never migrates: it may be older than the writers
    conn = await connect(url, migrate_schema=False)
    try:
        return await fetch_history(conn, kind, since_ms, limit)
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    url = os.environ.get(args.url_env)
    if not url:
        print(f"hybridstream history: set {args.url_env} to the database URL", file=sys.stderr)
        return 2
    try:
        since = parse_since(args.since, time.time())
    except argparse.ArgumentTypeError as exc:
        print(f"hybridstream history: {exc}", file=sys.stderr)
        return 2
    try:
        rows = asyncio.run(read(url, args.kind, since, args.limit))
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        print(f"hybridstream history: {redact_url(url)}: {describe(exc)}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
    else:
        print(format_table(rows, QUERIES[args.kind][1]))
    return 0
