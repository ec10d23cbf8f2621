"""``hybridstream`` command line: wiring only; each subcommand lives in its own module.

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``; modules are
imported only when their subcommand is used, so ``hybridstream simulator`` does not load the
stream service and vice versa.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("hybridstream.service.command", "run the stream (mode from HYBRID_MODE)"),
    "simulator": ("hybridstream.simulator.command", "run the local Bybit v5 simulator"),
    "history": ("hybridstream.history.command",
                "orders, executions or positions the postgres sink stored"),
    "trailing-stop": ("hybridstream.trailing_stop_command",
                      "example consumer: trailing stops over the events on stdin"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="hybridstream")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    # Parse the command name first, then let its module define the rest of the arguments.
    known, rest = parser.parse_known_args(argv[:1])
    module = importlib.import_module(SUBCOMMANDS[known.command][0])
    sub_parser = argparse.ArgumentParser(prog=f"hybridstream {known.command}",
                                         description=SUBCOMMANDS[known.command][1])
    module.add_arguments(sub_parser)
    return int(module.run(sub_parser.parse_args(argv[1:] + rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
