"""Bybit v5 REST response envelope and error codes, pure.

Bybit answers HTTP 200 with ``retCode`` != 0 for API errors; the simulator builds these and
the client classifies them with the same constants (docs/bybit-protocol.md section 6).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class RetCode(IntEnum):
    """Documented ``retCode`` values we produce or react to."""

    OK = 0
    PARAMS_ERROR = 10001
    TIMESTAMP_ERROR = 10002
    INVALID_API_KEY = 10003
    SIGN_ERROR = 10004
    TOO_MANY_VISITS = 10006


#: Headers Bybit sets on rate-limited endpoints (pybit sleeps until the reset timestamp).
LIMIT_HEADER = "X-Bapi-Limit"
LIMIT_STATUS_HEADER = "X-Bapi-Limit-Status"
LIMIT_RESET_HEADER = "X-Bapi-Limit-Reset-Timestamp"

INVALID_API_KEY_MSG = "API key is invalid."
TOO_MANY_VISITS_MSG = "Too many visits"


def build_envelope(
    result: dict[str, Any] | None, now_ms: int, ret_code: int = RetCode.OK, ret_msg: str = "OK"
) -> dict[str, Any]:
    """``{"retCode","retMsg","result","retExtInfo","time"}``."""
    return {"retCode": int(ret_code), "retMsg": ret_msg,
            "result": {} if result is None else result, "retExtInfo": {}, "time": now_ms}


def build_timestamp_error_msg(req_timestamp: str, server_ms: int, recv_window: int) -> str:
    """10002 message, as Bybit words it."""
    return ("invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{req_timestamp}],server_timestamp[{server_ms}],"
            f"recv_window[{recv_window}]")


def build_sign_error_msg(origin_string: str) -> str:
    """10004 message; Bybit echoes the string it signed (which holds no secret)."""
    return ("Error sign, please check your signature generation algorithm: "
            f"origin_string[{origin_string}]")


def assess_timestamp(timestamp_ms: int, server_ms: int, recv_window: int) -> bool:
    """Bybit's acceptance window: ``server - recv_window <= timestamp < server + 1000``."""
    return server_ms - recv_window <= timestamp_ms < server_ms + 1000
