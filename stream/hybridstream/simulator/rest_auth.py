"""REST request authentication and per-UID rate limiting, as Bybit applies them.

The signature is checked against the query string *as sent* (raw, before any decoding) or
the raw body, because that is what the client signed: pybit sorts GET parameters before
signing, ccxt does not, and both must verify (docs/bybit-protocol.md section 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hybridstream.bybit.rest_envelope import (
    INVALID_API_KEY_MSG,
    RetCode,
    assess_timestamp,
    build_sign_error_msg,
    build_timestamp_error_msg,
)
from hybridstream.bybit.signing import DEFAULT_RECV_WINDOW, rest_sign_payload, sign_rest, verify


@dataclass(frozen=True)
class AuthFailure:
    """Why a signed request was refused."""

    ret_code: int
    ret_msg: str


def assess_signed_request(headers: Mapping[str, str], payload: str, secrets: Mapping[str, str],
                          server_ms: int) -> tuple[str, AuthFailure | None]:
    """Check the ``X-BAPI-*`` headers; returns ``(api_key, failure or None)``.

    Order of checks as Bybit: key known (10003), timestamp window (10002), sign (10004)."""
    api_key = headers.get("X-BAPI-API-KEY", "")
    secret = secrets.get(api_key)
    if secret is None:
        return api_key, AuthFailure(RetCode.INVALID_API_KEY, INVALID_API_KEY_MSG)
    raw_ts = headers.get("X-BAPI-TIMESTAMP", "")
    raw_window = headers.get("X-BAPI-RECV-WINDOW", str(DEFAULT_RECV_WINDOW))
    try:
        timestamp, recv_window = int(raw_ts), int(raw_window)
    except ValueError:
        return api_key, AuthFailure(RetCode.PARAMS_ERROR,
                                    "params error: X-BAPI-TIMESTAMP or X-BAPI-RECV-WINDOW")
    if not assess_timestamp(timestamp, server_ms, recv_window):
        return api_key, AuthFailure(RetCode.TIMESTAMP_ERROR,
                                    build_timestamp_error_msg(raw_ts, server_ms, recv_window))
    expected = sign_rest(secret, timestamp, api_key, recv_window, payload)
    if not verify(expected, headers.get("X-BAPI-SIGN", "")):
        origin = rest_sign_payload(timestamp, api_key, recv_window, payload)
        return api_key, AuthFailure(RetCode.SIGN_ERROR, build_sign_error_msg(origin))
    return api_key, None


@dataclass(frozen=True)
class LimitVerdict:
    """Outcome of one rate-limit check and the values of Bybit's limit headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        """Bybit's rate-limit response headers."""
        return {"X-Bapi-Limit": str(self.limit), "X-Bapi-Limit-Status": str(self.remaining),
                "X-Bapi-Limit-Reset-Timestamp": str(self.reset_ms)}


class RateLimiter:
    """Fixed windows (default one second) per ``(key, path)``: per UID, or per IP."""

    def __init__(self, limits: Mapping[str, int], default: int, window_ms: int = 1000) -> None:
        self._limits = dict(limits)
        self._default = default
        self._window_ms = window_ms
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}

    def check(self, key: str, path: str, now: int, forced: bool = False) -> LimitVerdict:
        """Count a request; ``forced`` (fault injection) refuses it regardless."""
        limit = self._limits.get(path, self._default)
        window = now - now % self._window_ms
        start, used = self._windows.get((key, path), (window, 0))
        if start != window:
            start, used = window, 0
        reset = start + self._window_ms
        if forced or used >= limit:
            return LimitVerdict(False, limit, 0, reset)
        self._windows[(key, path)] = (start, used + 1)
        return LimitVerdict(True, limit, limit - used - 1, reset)
