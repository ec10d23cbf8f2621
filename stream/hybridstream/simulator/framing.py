"""WebSocket frame bytes built once and written to many sockets (RFC 6455, server side).

The ticker fan-out serializes each push once and frames it once; every subscriber then gets
the same ``bytes`` object, which is what lets one process feed 500 symbols x 10/s to 20
clients. Server-to-client frames are never masked, so a frame is valid for any connection.
The malformed variants exist for the fault injector.
"""

from __future__ import annotations

import struct

OP_TEXT = 0x1
OP_BINARY = 0x2
_FIN = 0x80
_RSV1 = 0x40

#: Malformed frame kinds the admin API can send.
MALFORMED_KINDS = ("invalid_json", "invalid_utf8", "reserved_bits", "binary")


def build_frame(payload: bytes, opcode: int = OP_TEXT, first_byte_extra: int = 0) -> bytes:
    """One unmasked, final frame carrying ``payload``."""
    head = _FIN | first_byte_extra | opcode
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", head, n) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", head, 126, n) + payload
    return struct.pack("!BBQ", head, 127, n) + payload


def build_text_frame(payload: bytes) -> bytes:
    """A text frame (``payload`` must be UTF-8 JSON)."""
    return build_frame(payload, OP_TEXT)


def build_malformed_frame(kind: str) -> bytes:
    """A frame a client must survive: truncated JSON, bad UTF-8, RSV1 without an extension
    (a protocol error that fails the connection) or an unexpected binary frame."""
    if kind == "invalid_json":
        return build_frame(b'{"topic":"tickers.BTCUSDT","type":"delta","data":{"symb')
    if kind == "invalid_utf8":
        return build_frame(b'{"topic":"\xff\xfe"}')
    if kind == "reserved_bits":
        return build_frame(b'{"op":"pong"}', OP_TEXT, _RSV1)
    if kind == "binary":
        return build_frame(b"\x00\x01\x02garbage", OP_BINARY)
    raise ValueError(f"unknown malformed frame kind {kind!r}; use one of {MALFORMED_KINDS}")
