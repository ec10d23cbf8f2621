"""``hybridstream simulator``: run the Bybit v5 simulator until interrupted.

Arguments follow docs/CONTRACTS.md. Account keys are fake credentials of the simulated
exchange; ``--account KEY:SECRET[:hedge]`` may repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal

from hybridstream.simulator.app import Simulator
from hybridstream.simulator.config import AccountConfig, SimulatorConfig


def parse_account(text: str) -> AccountConfig:
    """``KEY:SECRET`` or ``KEY:SECRET:hedge``."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1] or parts[2:] not in ([], ["hedge"]):
        raise argparse.ArgumentTypeError("expected KEY:SECRET or KEY:SECRET:hedge")
    return AccountConfig(api_key=parts[0], api_secret=parts[1], hedge_mode=len(parts) == 3)


def parse_accounts_env(text: str) -> list[AccountConfig]:
    """``HYBRID_SIM_ACCOUNTS``: comma-separated ``KEY:SECRET[:hedge]`` (secrets stay out of
    the process arguments when they come from a Kubernetes Secret)."""
    return [parse_account(item.strip()) for item in text.split(",") if item.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define the subcommand's arguments."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8480)
    parser.add_argument("--admin-port", type=int, default=None,
                        help="serve /admin/ on its own port (default: the main port)")
    parser.add_argument("--admin-token", default=os.environ.get("HYBRID_SIM_ADMIN_TOKEN"),
                        help="bearer token of the admin API (env HYBRID_SIM_ADMIN_TOKEN)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--account", action="append", type=parse_account, default=[],
                        metavar="KEY:SECRET[:hedge]",
                        help="an API key of the simulated exchange (repeatable); also from "
                             "env HYBRID_SIM_ACCOUNTS, comma-separated, e.g. from a Secret")
    parser.add_argument("--ticker-interval-ms", type=int, default=100)
    parser.add_argument("--reject-batch-on-bad-topic", action="store_true")
    parser.add_argument("--private-idle-timeout", type=float, default=600.0, metavar="SECONDS")
    parser.add_argument("--log-level", default="INFO")


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """Arguments -> ``SimulatorConfig`` (defaults where not given)."""
    fields: dict[str, object] = {
        "host": args.host, "port": args.port, "admin_port": args.admin_port,
        "seed": args.seed, "symbols": args.symbols,
        "ticker_interval_ms": args.ticker_interval_ms,
        "reject_batch_on_bad_topic": args.reject_batch_on_bad_topic,
        "private_idle_timeout_s": args.private_idle_timeout,
    }
    if args.admin_token:
        fields["admin_token"] = args.admin_token
    accounts = list(args.account) + parse_accounts_env(os.environ.get("HYBRID_SIM_ACCOUNTS", ""))
    if accounts:
        fields["accounts"] = tuple(accounts)
    return SimulatorConfig.model_validate(fields)


async def serve(config: SimulatorConfig) -> None:
    """Run until SIGINT/SIGTERM."""
    sim = Simulator(config)
    await sim.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"simulator ready rest={sim.rest_url} public={sim.ws_public_url} "
          f"private={sim.ws_private_url} admin={sim.admin_url}/admin/", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def run(args: argparse.Namespace) -> int:
    """Entry point of ``hybridstream simulator``."""
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(build_config(args)))
    return 0
