"""Pure decisions: backoff, subscription diffs, rate limits, divergence, forwarding."""

from __future__ import annotations

import itertools
import random

import pytest
from hybridstream.hybrid.decisions import (
    Agreement,
    Backoff,
    assess_divergence,
    build_standalone_document,
    build_topic_batches,
    decide_forward,
    decide_rate_limit_wait,
    decide_subscription_changes,
)
from hybridstream.routing import Mode, Role, RoutingDocument
from hypothesis import given
from hypothesis import strategies as st


def test_backoff_grows_is_capped_and_never_zero() -> None:
    delays = list(itertools.islice(Backoff(base=1, cap=8).delays(random.Random(1)), 8))
    assert all(d >= 0.5 for d in delays)
    assert max(delays) <= 8
    assert delays[-1] >= 4  # reached the cap region (half-jitter floor of 8)


def test_subscription_diff() -> None:
    assert decide_subscription_changes(frozenset({"A", "B"}), {"B", "C"}) == (["A"], ["C"])


def test_batches_of_ten() -> None:
    assert [len(b) for b in build_topic_batches([str(i) for i in range(23)])] == [10, 10, 3]


@pytest.mark.parametrize(("headers", "wait"), [
    ({}, 0.0),
    ({"X-Bapi-Limit-Status": "3", "X-Bapi-Limit-Reset-Timestamp": "2000"}, 0.0),
    ({"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "2500"}, 1.52),
    ({"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "500"}, 0.0),
    ({"X-Bapi-Limit-Status": "x", "X-Bapi-Limit-Reset-Timestamp": "2500"}, 0.0),
])
def test_rate_limit_wait(headers: dict, wait: float) -> None:
    assert decide_rate_limit_wait(headers, 1000) == wait


@pytest.mark.parametrize(("ws", "rest", "verdict"), [
    ("100", "100", Agreement.AGREE), ("100.1", "100", Agreement.AGREE),
    ("100.2", "100", Agreement.WARN), ("98.9", "100", Agreement.CRITICAL),
])
def test_divergence(ws: str, rest: str, verdict: Agreement) -> None:
    result = assess_divergence(ws, rest)
    assert result is not None and result[1] is verdict


def test_divergence_ignores_missing_prices() -> None:
    assert assess_divergence("x", "100") is None and assess_divergence("1", "0") is None


@given(st.integers(0, 100), st.integers(0, 100), st.text(min_size=1, max_size=12))
def test_every_symbol_has_a_forwarder(high: int, low: int, symbol: str) -> None:
    if low > high:
        return  # the model rejects gaps; covered by routing tests
    doc = RoutingDocument(generation=1, hybridMode=Mode.CUTOVER, hybridHigh=high,
                          legacyLow=low)
    assert decide_forward(doc, Role.HYBRID, symbol) or decide_forward(doc, Role.LEGACY, symbol)


def test_standalone_documents() -> None:
    assert build_standalone_document(Mode.PRODUCTION).effective_hybrid_high == 100
    assert build_standalone_document(Mode.CANARY).effective_hybrid_high == 0
    assert build_standalone_document(Mode.REST).legacy_low == 0
    wallet_doc = build_standalone_document(Mode.PRODUCTION)
    assert decide_forward(wallet_doc, Role.HYBRID, "")
    assert not decide_forward(wallet_doc, Role.LEGACY, "")
