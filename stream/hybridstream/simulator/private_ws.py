"""Private WebSocket ``/v5/private``: auth, subscriptions, pushes and the idle cut-off.

Bybit quirks reproduced (docs/bybit-protocol.md sections 1-5): ``expires`` too close to
now fails with "Params Error" like a bad signature; subscribing before auth gives "Request
not authorized"; no snapshot on subscribe; an idle socket (no client message and no data
for ``max_active_time``, default 10 min) is cut without a close frame (code 1006,
ccxt#16398), checked only every ``idle_check_interval_s``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from typing import Any

from aiohttp import web

from hybridstream.bybit.messages import (
    AUTH_FAILED_MSG,
    INVALID_OP_MSG,
    NOT_AUTHORIZED_MSG,
    ClientRequest,
    build_already_subscribed_msg,
    build_handler_not_found_msg,
    build_private_op_ack,
    build_private_pong,
    build_private_push,
)
from hybridstream.bybit.signing import sign_ws_auth, verify
from hybridstream.simulator.clock import now_ms
from hybridstream.simulator.config import SimulatorConfig
from hybridstream.simulator.connections import (
    Connection,
    ConnectionRegistry,
    SocketHub,
    encode_json,
)
from hybridstream.simulator.faults import FaultState
from hybridstream.simulator.framing import build_text_frame

log = logging.getLogger(__name__)

#: Engine topic -> the subscribable names that receive it (linear account).
TOPIC_VARIANTS = {
    "position": ("position", "position.linear"),
    "order": ("order", "order.linear"),
    "execution": ("execution", "execution.linear"),
    "wallet": ("wallet",),
}
PRIVATE_TOPICS = frozenset(n for names in TOPIC_VARIANTS.values() for n in names)
_ACTIVE_TIME = re.compile(r"^(\d+)([sm])$")


def parse_max_active_time(value: str | None, min_s: float, max_s: float) -> float | None:
    """``max_active_time`` query value (``"30s"``..``"600s"`` or ``"1m"``) in seconds.

    None when absent; ValueError when malformed or outside ``[min_s, max_s]``."""
    if value is None:
        return None
    match = _ACTIVE_TIME.match(value)
    if not match:
        raise ValueError(f"max_active_time {value!r}: expected e.g. 30s or 1m")
    seconds = int(match.group(1)) * (60 if match.group(2) == "m" else 1)
    if not min_s <= seconds <= max_s:
        raise ValueError(f"max_active_time {value!r} outside {min_s:g}s..{max_s:g}s")
    return float(seconds)


def assess_auth(args: list[Any], secrets: dict[str, str], now: int, min_margin_ms: int) -> bool:
    """True when ``[api_key, expires, signature]`` is valid and expires far enough ahead."""
    if len(args) != 3:
        return False
    key, expires, signature = args
    secret = secrets.get(str(key))
    try:
        expires_ms = int(expires)
    except (TypeError, ValueError):
        return False
    if secret is None or expires_ms < now + min_margin_ms:
        return False
    return verify(sign_ws_auth(secret, expires_ms), str(signature))


class PrivateHub(SocketHub):
    """Private connections, per-account subscriptions, pushes and the idle watchdog."""

    kind = "private"

    def __init__(self, config: SimulatorConfig, faults: FaultState,
                 registry: ConnectionRegistry) -> None:
        super().__init__(registry, config.send_queue_max_bytes, faults.delay_ms)
        self.config = config
        self.faults = faults
        self._secrets = {a.api_key: a.api_secret for a in config.accounts}
        self._uids = {a.api_key: a.uid or 1_000_001 + n for n, a in enumerate(config.accounts)}
        self.subscribers: dict[tuple[str, str], set[Connection]] = {}
        self._ids = itertools.count(1)
        self._withheld: list[tuple[str, str, list[dict[str, Any]]]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The WebSocket endpoint (``?max_active_time=`` optional)."""
        try:
            idle = parse_max_active_time(request.query.get("max_active_time"),
                                         self.config.max_active_time_min_s,
                                         self.config.max_active_time_max_s)
        except ValueError as exc:
            return web.Response(status=400, text=str(exc))
        return await self.serve(request, idle or self.config.private_idle_timeout_s)

    def forget(self, conn: Connection) -> None:
        """Drop the connection's private subscriptions."""
        if conn.account_key is not None:
            for topic in conn.topics:
                self.subscribers.get((conn.account_key, topic), set()).discard(conn)

    def on_request(self, conn: Connection, req: ClientRequest) -> None:
        """One client op."""
        if req.op == "ping":
            conn.send_json(build_private_pong(conn.conn_id, req.req_id, now_ms()))
        elif req.op == "auth":
            self._auth(conn, req.args, req.req_id)
        elif req.op in ("subscribe", "unsubscribe"):
            self._subscription(conn, req.op, [str(a) for a in req.args], req.req_id)
        else:
            conn.send_json(build_private_op_ack(req.op, conn.conn_id, req.req_id, False,
                                                INVALID_OP_MSG))

    def _auth(self, conn: Connection, args: list[Any], req_id: str | None) -> None:
        ok = (not self.faults.consume_auth_rejection()
              and assess_auth(args, self._secrets, now_ms(), self.config.auth_min_margin_ms))
        if ok:
            conn.account_key = str(args[0])
        conn.send_json(build_private_op_ack("auth", conn.conn_id, req_id, ok,
                                            "" if ok else AUTH_FAILED_MSG))

    def _subscription(self, conn: Connection, op: str, topics: list[str],
                      req_id: str | None) -> None:
        key = conn.account_key
        if key is None:
            conn.send_json(build_private_op_ack(op, conn.conn_id, req_id, False,
                                                NOT_AUTHORIZED_MSG))
            return
        error = None
        for topic in topics:
            if topic not in PRIVATE_TOPICS:
                error = error or build_handler_not_found_msg(topic)
            elif op == "unsubscribe":
                conn.topics.discard(topic)
                self.subscribers.get((key, topic), set()).discard(conn)
            elif topic in conn.topics:
                error = error or build_already_subscribed_msg(topic)
            else:
                conn.topics.add(topic)
                self.subscribers.setdefault((key, topic), set()).add(conn)
        conn.send_json(build_private_op_ack(op, conn.conn_id, req_id, error is None, error or ""))

    def publish(self, api_key: str, topic: str, data: list[dict[str, Any]]) -> None:
        """Push ``data`` to every connection of ``api_key`` subscribed to ``topic``."""
        if topic in self.faults.stalled_topics or (
                self._withheld and any(w[1] == topic for w in self._withheld)):
            self._withheld.append((api_key, topic, data))  # keep per-topic order
            return
        for name in TOPIC_VARIANTS[topic]:
            subs = self.subscribers.get((api_key, name))
            if not subs:
                continue
            message_id = f"{self._uids[api_key]}{next(self._ids):012d}"
            frame = build_text_frame(encode_json(build_private_push(
                message_id, name, now_ms(), data)))
            for conn in subs:
                conn.last_activity = time.monotonic()
                conn.enqueue(frame)

    def release_withheld(self) -> int:
        """Deliver pushes held by a topic stall that has ended, in their original order."""
        held, self._withheld = self._withheld, []
        for api_key, topic, data in held:
            self.publish(api_key, topic, data)
        return len(held) - len(self._withheld)

    async def run_idle_watchdog(self) -> None:
        """Cut idle private sockets, checking every ``idle_check_interval_s`` (fires late)."""
        while True:
            await asyncio.sleep(self.config.idle_check_interval_s)
            now = time.monotonic()
            for conn in self.registry.select(kind="private"):
                if conn.idle_timeout_s and now - conn.last_activity > conn.idle_timeout_s:
                    log.info("closing idle private connection %s", conn.conn_id)
                    conn.close_without_handshake()
