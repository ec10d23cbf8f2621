"""Signing pinned to the strings in Bybit's documentation: HMACs recomputed here with
``hmac`` and, for the documented payloads, literal known answers from openssl, so a change
in ``signing`` that alters the output fails."""

from __future__ import annotations

import hashlib
import hmac

from hybridstream.bybit.signing import (
    WS_AUTH_MARGIN_MS,
    rest_headers,
    rest_sign_payload,
    sign_rest,
    sign_ws_auth,
    verify,
    ws_auth_args,
    ws_auth_payload,
)
from hypothesis import given
from hypothesis import strategies as st

DOC_REST_PAYLOAD = "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"
SECRET = "TEST-SECRET-not-real"


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def test_rest_payload_is_the_documented_concatenation() -> None:
    got = rest_sign_payload(1658384314791, "XXXXXXXXXX", 5000,
                            "category=option&symbol=BTC-29JUL22-25000-C")
    assert got == DOC_REST_PAYLOAD


def test_rest_signature_is_hmac_sha256_hex_of_the_documented_payload() -> None:
    got = sign_rest(SECRET, 1658384314791, "XXXXXXXXXX", 5000,
                    "category=option&symbol=BTC-29JUL22-25000-C")
    assert got == _hmac(SECRET, DOC_REST_PAYLOAD)
    assert got == got.lower() and len(got) == 64


def test_rest_headers_carry_key_timestamp_window_and_signature() -> None:
    headers = rest_headers("XXXXXXXXXX", SECRET, 1658384314791,
                           "category=option&symbol=BTC-29JUL22-25000-C")
    assert headers == {
        "X-BAPI-API-KEY": "XXXXXXXXXX", "X-BAPI-TIMESTAMP": "1658384314791",
        "X-BAPI-RECV-WINDOW": "5000", "X-BAPI-SIGN": _hmac(SECRET, DOC_REST_PAYLOAD)}


def test_ws_auth_payload_and_signature() -> None:
    assert ws_auth_payload(1662350400000) == "GET/realtime1662350400000"
    assert sign_ws_auth(SECRET, 1662350400000) == _hmac(SECRET, "GET/realtime1662350400000")


def test_ws_auth_args_expire_with_the_safe_margin() -> None:
    key, expires, signature = ws_auth_args("KEY", SECRET, 1_000_000)
    assert key == "KEY"
    assert expires == 1_000_000 + WS_AUTH_MARGIN_MS
    assert signature == _hmac(SECRET, f"GET/realtime{expires}")


@given(st.text(min_size=1, max_size=40), st.text(max_size=200))
def test_verify_accepts_only_the_matching_signature(secret: str, payload: str) -> None:
    good = _hmac(secret, payload)
    assert verify(good, good)
    assert verify(good, good.upper())
    assert not verify(good, _hmac(secret + "x", payload))


#: Known answers computed independently with ``openssl dgst -sha256 -hmac
#: TEST-SECRET-not-real`` over the documented payloads: a literal, so a change of hash,
#: encoding or concatenation fails even if the ``hmac`` call above changed with it.
KNOWN_REST_SIGNATURE = "b64d5b0ff140b3126192f4893c481826178fdd5886b990c97acdb3b060dda9e5"
KNOWN_WS_SIGNATURE = "43d0b38fe1b11f5ec33fc17aaa304158305617295c6225fd739b572b30a0ba19"


def test_signatures_match_independently_computed_known_answers() -> None:
    assert sign_rest(SECRET, 1658384314791, "XXXXXXXXXX", 5000,
                     "category=option&symbol=BTC-29JUL22-25000-C") == KNOWN_REST_SIGNATURE
    assert sign_ws_auth(SECRET, 1662350400000) == KNOWN_WS_SIGNATURE
