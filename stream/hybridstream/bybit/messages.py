"""Bybit v5 WebSocket message shapes (builders and light parsers), pure.

The simulator builds its frames with these and the stream client recognises them with the
same definitions, so both sides agree byte for byte on what Bybit sends
(shapes: docs/bybit-protocol.md sections 2-5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Failure ``ret_msg`` of a rejected ``auth`` op; also what a too-close ``expires`` yields
#: (observed, pybit#152/#300).
AUTH_FAILED_MSG = "Params Error"
#: Subscribing to a private topic before auth completed (observed).
NOT_AUTHORIZED_MSG = "Request not authorized"
INVALID_OP_MSG = "error:invalid op"


def build_handler_not_found_msg(topic: str) -> str:
    """``ret_msg`` for an unknown topic (observed, undocumented)."""
    return f"error:handler not found,topic:{topic}"


def build_already_subscribed_msg(topic: str) -> str:
    """``ret_msg`` for a duplicate subscription; the existing one keeps delivering."""
    return f"error:already subscribed,topic:{topic}"


def build_public_op_ack(
    op: str, conn_id: str, req_id: str | None, success: bool = True, ret_msg: str = ""
) -> dict[str, Any]:
    """Linear/inverse ack of subscribe/unsubscribe: ``req_id`` is always present ("" if none)."""
    return {"success": success, "ret_msg": ret_msg, "conn_id": conn_id,
            "req_id": req_id or "", "op": op}


def build_linear_pong(conn_id: str, req_id: str | None) -> dict[str, Any]:
    """Linear/inverse pong: note ``op`` stays ``"ping"`` and ``ret_msg`` is ``"pong"``."""
    return {"success": True, "ret_msg": "pong", "conn_id": conn_id,
            "req_id": req_id or "", "op": "ping"}


def build_private_op_ack(
    op: str, conn_id: str, req_id: str | None, success: bool = True, ret_msg: str = ""
) -> dict[str, Any]:
    """Private ack of auth/subscribe/unsubscribe; ``req_id`` only echoed when sent."""
    ack: dict[str, Any] = {"success": success, "ret_msg": ret_msg, "op": op, "conn_id": conn_id}
    if req_id is not None:
        ack["req_id"] = req_id
    return ack


def build_private_pong(conn_id: str, req_id: str | None, now_ms: int) -> dict[str, Any]:
    """Private pong: ``op`` is ``"pong"`` and ``args[0]`` the server time in ms as a string."""
    pong: dict[str, Any] = {"op": "pong", "args": [str(now_ms)], "conn_id": conn_id}
    if req_id is not None:
        pong = {"req_id": req_id, **pong}
    return pong


def build_ticker_message(
    symbol: str, kind: str, data: dict[str, str], cs: int, ts: int
) -> dict[str, Any]:
    """``tickers.{symbol}`` push; ``kind`` is ``snapshot`` or ``delta`` (sparse fields)."""
    return {"topic": f"tickers.{symbol}", "type": kind, "data": data, "cs": cs, "ts": ts}


def build_private_push(
    message_id: str, topic: str, creation_ms: int, data: list[dict[str, Any]]
) -> dict[str, Any]:
    """Private topic envelope ``{"id","topic","creationTime","data":[...]}``."""
    return {"id": message_id, "topic": topic, "creationTime": creation_ms, "data": data}


def parse_topic(topic: str) -> tuple[str, str | None]:
    """Split ``tickers.BTCUSDT`` into ``("tickers", "BTCUSDT")``; private names have no symbol.

    ``position.linear`` style names keep their suffix in the name (no symbol)."""
    name, _, rest = topic.partition(".")
    if name == "tickers" and rest:
        return name, rest
    return topic, None


def is_pong(message: dict[str, Any]) -> bool:
    """A Bybit application pong in any of its shapes (``op=="pong"`` or ``ret_msg=="pong"``)."""
    return message.get("op") == "pong" or message.get("ret_msg") == "pong"


@dataclass(frozen=True)
class ClientRequest:
    """A client op (``ping``, ``auth``, ``subscribe``...) as sent on a socket."""

    op: str
    req_id: str | None
    args: list[Any]


def parse_client_request(text: str) -> ClientRequest | None:
    """``{"op","req_id","args"}`` from a text frame; None when it is not such an object."""
    try:
        msg = json.loads(text)
        return ClientRequest(str(msg.get("op")), msg.get("req_id"), list(msg.get("args") or []))
    except (ValueError, AttributeError, TypeError):
        return None
