"""The handover invariant and the stable symbol hash."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hybridstream.routing import (
    BUCKETS,
    INITIAL,
    Mode,
    Role,
    RoutingDocument,
    bucket_of,
)
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

symbols = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=3, max_size=12)
hybrid_modes = st.sampled_from([m for m in Mode if m is not Mode.REST])


def test_bucket_is_stable_across_processes() -> None:
    """Python's hash() is salted per process; ours must not be."""
    code = "from hybridstream.routing import bucket_of; print(bucket_of('BTCUSDT'))"
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, env={"PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2", "random")
    }
    assert outs == {str(bucket_of("BTCUSDT"))}


def test_bucket_pinned_values() -> None:
    # Pinned so a change of hash function (which would reshuffle every user's cutover)
    # cannot go unnoticed.
    assert [bucket_of(s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")] == [65, 42, 89]


def test_buckets_spread_over_all_values() -> None:
    seen = {bucket_of(f"SYM{i}USDT") for i in range(2000)}
    assert seen == set(range(BUCKETS))


@given(symbols, hybrid_modes, st.integers(0, 100), st.integers(0, 100))
def test_valid_document_always_has_a_forwarder(symbol: str, mode: Mode, high: int,
                                               low: int) -> None:
    try:
        doc = RoutingDocument(generation=1, hybrid_mode=mode, hybrid_high=high, legacy_low=low)
    except ValidationError:
        # Rejected documents are exactly those that would leave a gap.
        forwarding = mode in (Mode.CUTOVER, Mode.PRODUCTION)
        assert low > (high if forwarding else 0)
        return
    assert doc.forwards(Role.LEGACY, symbol) or doc.forwards(Role.HYBRID, symbol)


@pytest.mark.parametrize(
    ("mode", "high", "low", "error"),
    [
        (Mode.CUTOVER, 40, 50, "routing gap"),
        (Mode.CANARY, 50, 10, "routing gap"),
        (Mode.REST, 0, 0, "cannot be 'rest'"),
    ],
)
def test_gaps_and_bad_modes_are_rejected(mode: Mode, high: int, low: int, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        RoutingDocument(generation=1, hybrid_mode=mode, hybrid_high=high, legacy_low=low)


def test_overlap_forwards_from_both() -> None:
    doc = RoutingDocument(generation=2, hybrid_mode=Mode.CUTOVER, hybrid_high=100, legacy_low=0)
    assert doc.forwards(Role.LEGACY, "BTCUSDT") and doc.forwards(Role.HYBRID, "BTCUSDT")


def test_initial_document_routes_everything_to_legacy() -> None:
    for i in range(200):
        assert INITIAL.forwards(Role.LEGACY, f"S{i}")
        assert not INITIAL.forwards(Role.HYBRID, f"S{i}")


def test_json_round_trip_uses_wire_names() -> None:
    doc = RoutingDocument(generation=7, hybrid_mode=Mode.CUTOVER, hybrid_high=50, legacy_low=0)
    text = doc.to_json()
    assert '"hybridHigh": 50' in text and '"hybridMode": "cutover"' in text
    assert RoutingDocument.parse(text) == doc


def test_stable_status_is_a_host_and_port_or_absent() -> None:
    doc = RoutingDocument(generation=1, stableRevision=0, candidateRevision=1,
                          stableStatus="pos-stable:8080")
    assert '"stableStatus": "pos-stable:8080"' in doc.to_json()
    assert RoutingDocument.parse(doc.to_json()) == doc
    assert "stableStatus" not in RoutingDocument(generation=1).to_json()
    for bad in ("http://pos-stable:8080/api", "pos-stable", "a b:80"):
        with pytest.raises(ValidationError):
            RoutingDocument(generation=1, stableStatus=bad)
