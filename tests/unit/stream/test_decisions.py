"""Pure decisions: backoff, subscription diffs, rate limits, divergence, forwarding."""

from __future__ import annotations

import itertools
import random

import pytest
from hybridstream.hybrid.decisions import (
    Agreement,
    Backoff,
    Unavailable,
    assess_divergence,
    build_standalone_document,
    build_topic_batches,
    decide_forward,
    decide_hybrid_mode,
    decide_rate_limit_wait,
    decide_subscription_changes,
    parse_stable_marks,
    split_references,
)
from hybridstream.routing import FORWARDING_MODES, Mode, Role, RoutingDocument
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


def test_stable_marks_come_from_a_hybrid_or_a_legacy_status() -> None:
    hybrid = {"ready": True, "hybrid": {"tickers": {"BTCUSDT": "100.5", "ETHUSDT": None}}}
    legacy = {"ready": True, "legacy": {"tickers": {"SOLUSDT": "20"}, "polls": 3}}
    assert parse_stable_marks(hybrid) == {"BTCUSDT": "100.5"}  # no price, no reference
    assert parse_stable_marks(legacy) == {"SOLUSDT": "20"}


@pytest.mark.parametrize(("doc", "why"), [
    ({"ready": False, "hybrid": {"tickers": {"BTCUSDT": "1"}}}, Unavailable.NOT_READY),
    ({"ready": True, "legacy": {"positions": []}}, Unavailable.INVALID),  # an older stable
    ({"ready": True}, Unavailable.INVALID),
    (["not", "a", "status"], Unavailable.INVALID),
])
def test_a_stale_or_foreign_stable_status_gives_no_reference(doc: object,
                                                              why: Unavailable) -> None:
    assert parse_stable_marks(doc) is why


def test_symbols_stable_has_no_price_for_go_to_rest_and_say_why() -> None:
    symbols = frozenset({"BTCUSDT", "ETHUSDT"})
    assert split_references(symbols, {"BTCUSDT": "1", "XRPUSDT": "2"}) == (
        {"BTCUSDT": "1"}, {"ETHUSDT": Unavailable.NO_PRICE})
    assert split_references(symbols, Unavailable.UNAUTHORIZED) == (
        {}, dict.fromkeys(symbols, Unavailable.UNAUTHORIZED))


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
    # the account's events go with a non-empty range, whichever side holds it
    production = RoutingDocument(generation=2, hybridMode=Mode.PRODUCTION, hybridHigh=100,
                                 legacyLow=100)
    assert not decide_forward(production, Role.LEGACY, "")
    assert decide_forward(production.model_copy(update={"legacy_low": 0}), Role.LEGACY, "")
    assert not decide_forward(wallet_doc, None, "") and not decide_forward(wallet_doc, None, "X")


@given(st.tuples(st.integers(0, 100), st.integers(0, 100)), st.sampled_from(list(Mode)[1:]),
       st.tuples(st.integers(0, 4), st.integers(1, 4)), st.text(min_size=1, max_size=12))
def test_revisions_put_each_process_on_one_side(bounds: tuple[int, int], mode: Mode,
                                                revisions: tuple[int, int],
                                                symbol: str) -> None:
    """Every symbol has a forwarder among the stable and candidate revisions' processes;
    a revision the document does not name forwards nothing, and the REST poller is never
    the candidate."""
    (high, low), (stable, candidate) = bounds, revisions
    if low > (high if mode in FORWARDING_MODES else 0) or stable == candidate:
        return
    doc = RoutingDocument(generation=3, hybridMode=mode, hybridHigh=high, legacyLow=low,
                          stableRevision=stable, candidateRevision=candidate)
    stable_side = doc.side_of(Role.LEGACY if stable == 0 else Role.HYBRID, stable)
    candidate_side = doc.side_of(Role.HYBRID, candidate)
    assert (stable_side, candidate_side) == (Role.LEGACY, Role.HYBRID)
    assert decide_forward(doc, stable_side, symbol) or decide_forward(doc, candidate_side, symbol)
    assert doc.side_of(Role.HYBRID, 9) is None and doc.side_of(Role.LEGACY, candidate) is None
    assert decide_hybrid_mode(doc, stable_side) is Mode.PRODUCTION
    assert decide_hybrid_mode(doc, candidate_side) is mode
    assert decide_hybrid_mode(doc, None) is Mode.CANARY
    # no revisions named: the process's own mode decides, as before revisions existed
    plain = RoutingDocument(generation=3, hybridMode=mode, hybridHigh=high, legacyLow=low)
    assert plain.side_of(Role.LEGACY, stable) is Role.LEGACY
