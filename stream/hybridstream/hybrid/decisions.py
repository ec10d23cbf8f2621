"""Small pure decisions the I/O layer asks for: backoff delays, subscription diffs, REST
rate-limit waits, price divergence verdicts (and which reference price a comparison
uses), and event forwarding."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from hybridstream.routing import FORWARDING_MODES, Mode, Role, RoutingDocument


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter, capped; the caller restarts it after a success."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Delays for attempts 1, 2, ...: uniform in [d/2, d], d = min(cap, base*factor^n).

        Half-jitter keeps a floor, so a socket that closes at once can never spin.
        """
        rand = rng or random.Random()
        delay = self.base
        while True:
            yield rand.uniform(delay / 2, delay)
            delay = min(self.cap, delay * self.factor)


def decide_subscription_changes(
    desired: frozenset[str], active: set[str]
) -> tuple[list[str], list[str]]:
    """Symbols to subscribe and to unsubscribe, sorted for deterministic requests."""
    return sorted(desired - active), sorted(active - desired)


def build_topic_batches(topics: list[str], size: int = 10) -> list[list[str]]:
    """Split topics into requests of ``size`` args (Bybit spot rejects > 10 per request)."""
    return [topics[i:i + size] for i in range(0, len(topics), size)]


RESET_MARGIN_S = 0.02


def decide_rate_limit_wait(headers: Mapping[str, str], now_ms: int) -> float:
    """Seconds to wait before the next REST call from Bybit's ``X-Bapi-Limit*`` headers.

    Bybit documents ``X-Bapi-Limit-Status`` (requests left in the window) and
    ``X-Bapi-Limit-Reset-Timestamp`` (ms); with none left, wait until the reset.
    """
    status = headers.get("X-Bapi-Limit-Status")
    reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
    if status is None or reset is None:
        return 0.0
    try:
        left, reset_ms = int(status), int(reset)
    except ValueError:
        return 0.0
    if left > 0 or reset_ms <= now_ms:
        return 0.0
    # A little past the reset: the two clocks tick in whole milliseconds.
    return min(60.0, (reset_ms - now_ms) / 1000 + RESET_MARGIN_S)


class Agreement(StrEnum):
    AGREE = "agree"
    WARN = "warn"  # > 0.1 %
    CRITICAL = "critical"  # > 1 %


WARN_RATIO = Decimal("0.001")
CRITICAL_RATIO = Decimal("0.01")


def assess_divergence(ws_price: str, rest_price: str) -> tuple[float, Agreement] | None:
    """``abs(ws - rest) / rest`` and its verdict; None when a price is missing or zero."""
    try:
        ws, rest = Decimal(ws_price), Decimal(rest_price)
    except (InvalidOperation, TypeError):
        return None
    if rest == 0:
        return None
    ratio = abs(ws - rest) / rest
    if ratio > CRITICAL_RATIO:
        verdict = Agreement.CRITICAL
    elif ratio > WARN_RATIO:
        verdict = Agreement.WARN
    else:
        verdict = Agreement.AGREE
    return float(ratio), verdict


class Reference(StrEnum):
    """What a comparison's price came from."""

    STABLE = "stable"
    REST = "rest"


class Unavailable(StrEnum):
    """Why stable's price was not used (the comparison used REST's)."""

    UNROUTED = "unrouted"  # the routing document names no stable status API
    UNREACHABLE = "unreachable"  # refused, timed out, or an HTTP error
    UNAUTHORIZED = "unauthorized"  # 401/403: the revisions' status tokens differ
    NOT_READY = "not_ready"  # stable says it is not ready: its prices may be stale
    INVALID = "invalid"  # not a stream's status document
    NO_PRICE = "no_price"  # stable has no price for this symbol


def parse_stable_marks(doc: Any) -> dict[str, str] | Unavailable:
    """``symbol -> markPrice`` from a stream's status document (hybrid or legacy)."""
    if not isinstance(doc, dict):
        return Unavailable.INVALID
    if doc.get("ready") is not True:
        return Unavailable.NOT_READY
    part = doc.get("hybrid") or doc.get("legacy")
    tickers = part.get("tickers") if isinstance(part, dict) else None
    if not isinstance(tickers, dict):
        return Unavailable.INVALID
    return {s: p for s, p in tickers.items() if isinstance(p, str) and p}


def split_references(symbols: frozenset[str], stable: Mapping[str, str] | Unavailable,
                     ) -> tuple[dict[str, str], dict[str, Unavailable]]:
    """Stable's price per symbol it has, and why each other symbol goes to REST."""
    if isinstance(stable, Unavailable):
        return {}, dict.fromkeys(symbols, stable)
    return ({s: stable[s] for s in symbols if s in stable},
            {s: Unavailable.NO_PRICE for s in symbols if s not in stable})


def decide_forward(doc: RoutingDocument, role: Role | None, symbol: str) -> bool:
    """Whether a process on side ``role`` (None: on neither) forwards an event for
    ``symbol`` (wallet: symbol "")."""
    if role is None:
        return False
    if not symbol:
        # Account-wide events belong to whoever forwards anything (the REST poller never
        # produces them); both sides mid-handover is a harmless repeat (idempotent).
        low, high = build_forward_range(doc, role)
        return low < high
    return doc.forwards(role, symbol)


def build_forward_range(doc: RoutingDocument, role: Role | None) -> tuple[int, int]:
    """``[low, high)`` buckets a process on side ``role`` forwards (None: none)."""
    if role is None:
        return 0, 0
    if role is Role.LEGACY:
        return doc.legacy_low, 100
    return 0, doc.effective_hybrid_high


def decide_hybrid_mode(doc: RoutingDocument, side: Role | None) -> Mode:
    """What a hybrid process does: the candidate the document's mode, a stable hybrid
    revision forwards its range (production), one on neither side only monitors."""
    if side is Role.HYBRID:
        return doc.hybrid_mode
    return Mode.PRODUCTION if side is Role.LEGACY else Mode.CANARY


def build_standalone_document(mode: Mode) -> RoutingDocument:
    """Routing when no source is configured: INITIAL, except ``production`` forwards all.

    ``cutover`` needs a range, which only a routing document can give, so standalone it
    forwards nothing (like canary) until one is configured.
    """
    hybrid_mode = Mode.CANARY if mode is Mode.REST else mode
    high = 100 if hybrid_mode in FORWARDING_MODES and mode is Mode.PRODUCTION else 0
    return RoutingDocument(generation=0, hybridMode=hybrid_mode, hybridHigh=high)
