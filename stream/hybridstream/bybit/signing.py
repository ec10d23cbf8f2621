"""Bybit v5 request signing (REST headers and WebSocket auth), pure functions.

Shared by the stream client and the simulator so both sides use one definition; the unit
tests pin it to the examples in Bybit's documentation.
"""

from __future__ import annotations

import hashlib
import hmac

DEFAULT_RECV_WINDOW = 5000
#: WebSocket auth ``expires`` margin: +1 s is rejected by Bybit ("Params Error",
#: pybit#152/#300), +10 s works.
WS_AUTH_MARGIN_MS = 10_000


def hmac_sha256_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def rest_sign_payload(timestamp_ms: int, api_key: str, recv_window: int, params: str) -> str:
    """``timestamp + api_key + recv_window + (query string | JSON body)``."""
    return f"{timestamp_ms}{api_key}{recv_window}{params}"


def sign_rest(
    secret: str, timestamp_ms: int, api_key: str, recv_window: int, params: str
) -> str:
    return hmac_sha256_hex(secret, rest_sign_payload(timestamp_ms, api_key, recv_window, params))


def rest_headers(
    api_key: str, secret: str, timestamp_ms: int, params: str,
    recv_window: int = DEFAULT_RECV_WINDOW,
) -> dict[str, str]:
    return {
        "X-BAPI-API-KEY": api_key,
        "X-BAPI-TIMESTAMP": str(timestamp_ms),
        "X-BAPI-RECV-WINDOW": str(recv_window),
        "X-BAPI-SIGN": sign_rest(secret, timestamp_ms, api_key, recv_window, params),
    }


def ws_auth_payload(expires_ms: int) -> str:
    return f"GET/realtime{expires_ms}"


def sign_ws_auth(secret: str, expires_ms: int) -> str:
    return hmac_sha256_hex(secret, ws_auth_payload(expires_ms))


def ws_auth_args(api_key: str, secret: str, now_ms: int) -> list[str | int]:
    """``args`` of the private ``auth`` op, expiring ``WS_AUTH_MARGIN_MS`` after ``now_ms``."""
    expires = now_ms + WS_AUTH_MARGIN_MS
    return [api_key, expires, sign_ws_auth(secret, expires)]


def verify(expected_hex: str, given: str) -> bool:
    """Constant-time signature comparison."""
    return hmac.compare_digest(expected_hex, given.lower())
