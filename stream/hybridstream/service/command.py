"""``hybridstream run``: start one stream process from the environment and serve until
SIGTERM/SIGINT, then shut down gracefully (drain the sink, close sockets)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from pydantic import ValidationError

from hybridstream.service.app import StreamService
from hybridstream.settings import StreamSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Everything else is configured by environment variables (docs/CONTRACTS.md)."""
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])


async def serve(settings: StreamSettings) -> None:
    """Run until a termination signal arrives."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    async with StreamService(settings):
        await done.wait()
        logging.getLogger(__name__).info("termination signal: draining and stopping")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``hybridstream run``."""
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = StreamSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        # Report which variables are wrong, never their values (they may be secrets).
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        print(f"hybridstream run: invalid configuration: {fields}", file=sys.stderr)
        return 2
    asyncio.run(serve(settings))
    return 0
