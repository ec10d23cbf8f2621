"""In-process control of a running simulator: trading on behalf of accounts, prices, faults,
ground truth. The admin HTTP API is a thin layer over this class, and tests in the same
process may call it directly (``sim.control``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hybridstream.simulator.connections import ConnectionRegistry
from hybridstream.simulator.engine import Engine
from hybridstream.simulator.faults import ALL, FaultState
from hybridstream.simulator.framing import MALFORMED_KINDS, build_malformed_frame
from hybridstream.simulator.journal import Journal
from hybridstream.simulator.private_ws import TOPIC_VARIANTS, PrivateHub
from hybridstream.simulator.public_ws import PublicHub

DROP_MODES = ("clean", "reset", "no_close_frame")


class Control:
    """Operations the admin API exposes, callable in-process."""

    def __init__(self, engine: Engine, journal: Journal, faults: FaultState, *,
                 registry: ConnectionRegistry, public: PublicHub, private: PrivateHub,
                 restart: Callable[[float], Awaitable[None]]) -> None:
        self.engine = engine
        self.journal = journal
        self.faults = faults
        self.registry = registry
        self.public = public
        self.private = private
        self._restart = restart
        self._scripts: dict[str, asyncio.Task[None]] = {}

    # -- trading and ground truth -----------------------------------------------------------
    def open_position(self, account: str, symbol: str, side: str, qty: str,
                      position_idx: int | None = None) -> dict[str, str]:
        """Market order for ``account`` as if placed elsewhere; pushes and journal as usual."""
        return self.engine.open_position(account, symbol, side, qty, position_idx)

    def close_position(self, account: str, symbol: str,
                       position_idx: int | None = None) -> list[dict[str, str]]:
        """Flatten ``symbol`` (all slots, or ``position_idx``) with reduce-only market orders."""
        return self.engine.close_position(account, symbol, position_idx)

    def positions(self, account: str) -> list[dict[str, Any]]:
        """Ground truth: every position slot that ever traded, in REST shape (flat included)."""
        acc = self.engine.accounts[account]
        slots = sorted(acc.positions.values(), key=lambda p: (p.symbol, p.position_idx))
        return [self.engine.rest_position(p) for p in slots]

    def journal_entries(self, account: str | None = None, symbol: str | None = None,
                        since_seq: int | None = None) -> list[dict[str, Any]]:
        """Ground-truth position updates in emission order."""
        return [e.to_dict() for e in self.journal.entries(account, symbol, since_seq)]

    # -- prices ---------------------------------------------------------------------------
    def set_price(self, symbol: str, price: str, freeze: bool = True) -> dict[str, str]:
        """Move ``symbol`` to ``price`` now and push the delta; ``freeze`` stops its walk."""
        self._cancel_script(symbol)
        return self._apply_price(symbol, price, freeze)

    def _apply_price(self, symbol: str, price: str, freeze: bool) -> dict[str, str]:
        changed = self.engine.market.set_price(symbol, price, freeze)
        if changed:
            self.public.publish_changes({symbol: changed})
        return changed

    def script_prices(self, symbol: str, prices: list[str], interval_ms: int) -> None:
        """Play ``prices`` one per ``interval_ms`` (frozen walk), then keep the last one."""
        self._cancel_script(symbol)

        async def play() -> None:
            for price in prices:
                self._apply_price(symbol, price, True)
                await asyncio.sleep(interval_ms / 1000)

        self._scripts[symbol] = asyncio.create_task(play(), name=f"price-script-{symbol}")

    def release_price(self, symbol: str) -> None:
        """Resume the random walk of ``symbol``."""
        self._cancel_script(symbol)
        self.engine.market.unfreeze(symbol)

    def _cancel_script(self, symbol: str) -> None:
        task = self._scripts.pop(symbol, None)
        if task is not None:
            task.cancel()

    # -- faults ---------------------------------------------------------------------------
    async def drop_connections(self, kind: str = "all", mode: str = "clean",
                               account: str | None = None, conn_id: str | None = None,
                               code: int = 1000) -> int:
        """End matching sockets: ``clean`` close handshake with ``code``, ``reset`` (TCP RST)
        or ``no_close_frame`` (FIN only, client sees 1006). Returns how many."""
        if mode not in DROP_MODES:
            raise ValueError(f"mode must be one of {DROP_MODES}")
        conns = self.registry.select(kind, account, conn_id)
        for conn in conns:
            if mode == "reset":
                conn.reset()
            elif mode == "no_close_frame":
                conn.close_without_handshake()
        if mode == "clean":
            await asyncio.gather(*(c.close_clean(code) for c in conns))
        return len(conns)

    async def refuse_websockets(self, seconds: float) -> int:
        """A WebSocket outage: reset every socket and answer 503 to upgrades for ``seconds``
        while REST keeps serving. Returns how many sockets were reset."""
        self.faults.websockets_refused_until = time.monotonic() + float(seconds)
        return await self.drop_connections("all", "reset")

    def stall(self, symbols: list[str] | None = None,
              topics: list[str] | None = None) -> None:
        """Withhold ticker pushes for ``symbols`` while the market moves on, and/or private
        pushes of ``topics`` (position, order, execution, wallet). Neither: all tickers."""
        unknown = set(topics or ()) - set(TOPIC_VARIANTS)
        if unknown:
            raise ValueError(f"unknown private topics {sorted(unknown)}")
        if topics:
            self.faults.stalled_topics.update(topics)
        if symbols or not topics:
            self.faults.stalled.update(symbols or [ALL])

    def unstall(self, symbols: list[str] | None = None,
                topics: list[str] | None = None) -> None:
        """End stalls (neither given: every stall). Withheld ticker changes go out as one
        merged delta; withheld private pushes are delivered in their original order."""
        if symbols is None and topics is None:
            self.faults.stalled.clear()
            self.faults.stalled_topics.clear()
        self.faults.stalled.difference_update(symbols or ())
        self.faults.stalled_topics.difference_update(topics or ())
        self.private.release_withheld()

    def set_delay(self, kind: str, ms: int) -> None:
        """Delay every outgoing message on ``public``/``private``/``all`` sockets by ``ms``."""
        for k in ("public", "private") if kind == "all" else (kind,):
            self.faults.delay_ms[k] = ms

    def reject_auth(self, count: int) -> None:
        """Fail the next ``count`` private auth attempts with "Params Error"."""
        self.faults.reject_auth_remaining = count

    def rate_limit(self, count: int = 0, seconds: float = 0.0) -> None:
        """Answer 10006 to the next ``count`` signed REST calls and/or for ``seconds``."""
        self.faults.rate_limit_remaining = count
        self.faults.rate_limit_until = time.monotonic() + seconds if seconds else 0.0

    def send_malformed(self, kind: str, conn_kind: str = "all",
                       conn_id: str | None = None) -> int:
        """Queue one malformed frame (see ``framing.MALFORMED_KINDS``) on matching sockets."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"kind must be one of {MALFORMED_KINDS}")
        conns = self.registry.select(conn_kind, None, conn_id)
        frame = build_malformed_frame(kind)
        for conn in conns:
            conn.enqueue(frame)
        return len(conns)

    async def restart(self, down_seconds: float = 1.0) -> None:
        """Stop listening, reset every socket, wait, listen again; state is kept."""
        await self._restart(down_seconds)

    def clear_faults(self) -> None:
        """Back to a healthy exchange (stalls, delays, auth rejects, rate limits)."""
        self.faults.clear()
        self.private.release_withheld()

    def connections(self) -> list[dict[str, Any]]:
        """Open WebSocket connections."""
        return [c.describe() for c in self.registry.select()]

    def stats(self) -> dict[str, Any]:
        """Feed and fan-out counters (the benchmark reads these)."""
        conns = self.registry.select()
        return {"ticks": self.public.ticks, "ticks_skipped": self.public.ticks_skipped,
                "ticker_messages_built": self.public.messages_built,
                "frames_sent": sum(c.frames_sent for c in conns),
                "dropped": sum(c.dropped for c in conns), "connections": len(conns)}

    def cancel_scripts(self) -> None:
        """Stop every running price script (shutdown)."""
        for symbol in list(self._scripts):
            self._cancel_script(symbol)
