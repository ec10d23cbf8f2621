"""Symbol routing between the legacy and hybrid streams (the handover invariant).

Percentages are shares of symbols, not of traffic: each symbol falls in one of 100 buckets
by a *stable* hash, so every pod and the operator agree. Python's built-in ``hash()`` is
salted per process and must never be used for this.

Hybrid forwards buckets ``[0, hybrid_high)``; legacy forwards ``[legacy_low, 100)``. The
invariant ``legacy_low <= hybrid_high`` means every bucket always has a forwarder; overlap
is allowed (downstream events are idempotent snapshots with the exchange ``seq``).

Symbols can also move by name (a pilot of a few symbols before any percentage): hybrid
forwards ``hybrid_symbols`` too, and legacy skips ``legacy_except``, which must be symbols
hybrid forwards (the same invariant, per symbol).
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

BUCKETS = 100


class Mode(StrEnum):
    """What a stream process does (``HYBRID_MODE`` in the seed documents)."""

    REST = "rest"  # legacy REST poller
    CANARY = "canary"  # hybrid, monitor only
    PARALLEL = "parallel"  # hybrid, compares prices with stable's (or REST's), no forwarding
    CUTOVER = "cutover"  # hybrid, forwards its bucket range
    PRODUCTION = "production"  # hybrid, forwards everything it is routed


class Role(StrEnum):
    """Which side of the handover a process is on: ``legacy`` forwards ``[l, 100)`` (the
    stable revision: the REST poller in the first walk, the previous hybrid revision later),
    ``hybrid`` forwards ``[0, h)`` (the candidate revision)."""

    LEGACY = "legacy"
    HYBRID = "hybrid"


FORWARDING_MODES = frozenset({Mode.CUTOVER, Mode.PRODUCTION})


def effective_high(mode: Mode, high: int) -> int:
    """Buckets hybrid really forwards: ``[0, high)`` in a forwarding mode, none before."""
    return high if mode in FORWARDING_MODES else 0


def role_of(mode: Mode) -> Role:
    return Role.LEGACY if mode is Mode.REST else Role.HYBRID


def bucket_of(symbol: str) -> int:
    """Stable bucket in ``[0, 100)`` for a symbol: first 8 bytes of SHA-256, modulo 100."""
    digest = hashlib.sha256(symbol.encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


class RoutingDocument(BaseModel):
    """The routing document the operator publishes and every stream pod applies."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    generation: int = Field(ge=0)
    hybrid_mode: Mode = Field(default=Mode.CANARY, alias="hybridMode")
    hybrid_high: int = Field(default=0, ge=0, le=BUCKETS, alias="hybridHigh")
    legacy_low: int = Field(default=0, ge=0, le=BUCKETS, alias="legacyLow")
    #: Which revision is on which side (absent: every process is on its mode's side, as
    #: before revisions existed). Revision 0 is the legacy REST poller.
    stable_revision: int | None = Field(default=None, ge=0, alias="stableRevision")
    candidate_revision: int | None = Field(default=None, ge=1, alias="candidateRevision")
    #: ``host:port`` of the stable revision's status API (the operator's ``<rollout>-stable``
    #: headless Service): a candidate in ``parallel`` compares its prices with stable's
    stable_status: str | None = Field(default=None, alias="stableStatus", max_length=300,
                                      pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
    #: symbols moved by name: hybrid forwards these too (in a forwarding mode) ...
    hybrid_symbols: frozenset[str] = Field(default=frozenset(), alias="hybridSymbols")
    #: ... and legacy no longer does (each one hybrid forwards)
    legacy_except: frozenset[str] = Field(default=frozenset(), alias="legacyExcept")

    @property
    def effective_hybrid_high(self) -> int:
        """Buckets hybrid really forwards: none until it is in a forwarding mode."""
        return effective_high(self.hybrid_mode, self.hybrid_high)

    @model_validator(mode="after")
    def _no_gap(self) -> Self:
        if self.hybrid_mode is Mode.REST:
            raise ValueError("hybridMode cannot be 'rest'")
        if self.legacy_low > self.effective_hybrid_high:
            raise ValueError(
                f"routing gap: legacyLow={self.legacy_low} > hybrid forwards "
                f"[0, {self.effective_hybrid_high}) in mode {self.hybrid_mode.value}: "
                "buckets would be left without a forwarder"
            )
        orphans = sorted(s for s in self.legacy_except if not self.forwards(Role.HYBRID, s))
        if orphans:
            raise ValueError(f"routing gap: legacy skips {', '.join(orphans)}, which hybrid "
                             f"does not forward in mode {self.hybrid_mode.value}")
        return self

    def side_of(self, natural: Role, revision: int | None) -> Role | None:
        """The side a process of ``revision`` is on under this document (``natural``: the
        side of its mode); None when the document names revisions and not this one: a
        retiring or not yet routed revision forwards nothing."""
        if revision is None or (self.stable_revision is None and self.candidate_revision is None):
            return natural
        if revision == self.candidate_revision and natural is Role.HYBRID:
            return Role.HYBRID
        if revision == self.stable_revision:
            return Role.LEGACY
        return None

    def forwards(self, role: Role, symbol: str) -> bool:
        """Whether a process of ``role`` forwards events for ``symbol``."""
        bucket = bucket_of(symbol)
        if role is Role.LEGACY:
            return bucket >= self.legacy_low and symbol not in self.legacy_except
        if bucket < self.effective_hybrid_high:
            return True
        return self.hybrid_mode in FORWARDING_MODES and symbol in self.hybrid_symbols

    def to_json(self) -> str:
        body = self.model_dump(by_alias=True, mode="json", exclude_none=True)
        for key in ("hybridSymbols", "legacyExcept"):  # sorted, and absent when empty
            body[key] = sorted(body[key])
            if not body[key]:
                del body[key]
        return json.dumps(body, sort_keys=True)

    @classmethod
    def parse(cls, text: str) -> RoutingDocument:
        return cls.model_validate_json(text)


#: What a process applies before any routing document exists: legacy forwards everything,
#: hybrid forwards nothing, so standalone legacy behaves as before the rollout.
INITIAL = RoutingDocument(generation=0)
