"""``hybridstream trailing-stop --stop SYMBOL:ACTIVATION:CALLBACK[:POSITION_IDX] ...``: the
example consumer on a pipe. It reads the unified events as JSON lines on stdin (what
``hybridstream run`` prints with the default sink, legacy or hybrid) and prints one JSON
line per activation or trigger, with ``firedAt`` (unix ms, this process's clock)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal, InvalidOperation
from typing import IO

from hybridstream.consumer import Firing, StopSpec, TrailingStopConsumer


def parse_stop(text: str) -> StopSpec:
    parts = text.split(":")
    try:
        if len(parts) not in (3, 4):
            raise ValueError
        return StopSpec(parts[0], Decimal(parts[1]), Decimal(parts[2]),
                        int(parts[3]) if len(parts) == 4 else 0)
    except (ValueError, InvalidOperation):
        raise argparse.ArgumentTypeError(
            f"--stop {text!r}: want SYMBOL:ACTIVATION:CALLBACK[:POSITION_IDX] with a "
            "positive callback") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stop", type=parse_stop, action="append", required=True,
                        help="SYMBOL:ACTIVATION:CALLBACK[:POSITION_IDX], repeatable")


def to_json(firing: Firing, fired_at: float) -> str:
    return json.dumps({"event": str(firing.kind), "symbol": firing.symbol,
                       "positionIdx": firing.position_idx, "side": firing.side,
                       "markPrice": str(firing.mark_price), "stopPrice": str(firing.stop_price),
                       "exchangeTime": firing.exchange_time, "source": firing.source,
                       "firedAt": round(fired_at * 1000, 3)}, separators=(",", ":"))


def follow(consumer: TrailingStopConsumer, lines: IO[str], out: IO[str]) -> None:
    for line in lines:
        if not line.strip().startswith("{"):
            continue  # not an event (a log line on a merged pipe)
        for firing in consumer.feed(json.loads(line)):
            out.write(to_json(firing, time.time()) + "\n")
            out.flush()


def run(args: argparse.Namespace) -> int:
    follow(TrailingStopConsumer(args.stop), sys.stdin, sys.stdout)
    return 0
