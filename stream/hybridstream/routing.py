"""Symbol routing between the legacy and hybrid streams (the handover invariant).

Percentages are shares of symbols, not of traffic: each symbol falls in one of 100 buckets
by a *stable* hash, so every pod and the operator agree. Python's built-in ``hash()`` is
salted per process and must never be used for this.

Hybrid forwards buckets ``[0, hybrid_high)``; legacy forwards ``[legacy_low, 100)``. The
invariant ``legacy_low <= hybrid_high`` means every bucket always has a forwarder; overlap
is allowed (downstream events are idempotent snapshots with the exchange ``seq``).
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

BUCKETS = 100
#: Key of the routing document inside the routing ConfigMap's ``data``.
CONFIGMAP_KEY = "routing.json"
#: Pod annotation in which a stream pod acknowledges the generation it applied.
ACK_ANNOTATION = "hybridstream.io/routing-ack"
#: Labels a stream pod adds to every metric series it exports, whatever the scrape
#: configuration: the operator scopes its default analysis to a rollout's pods by them.
SCOPE_ROLLOUT, SCOPE_NAMESPACE, SCOPE_POD, SCOPE_REVISION = (
    "hybridstream_rollout", "hybridstream_namespace", "hybridstream_pod",
    "hybridstream_revision")


class Mode(StrEnum):
    """What a stream process does (``HYBRID_MODE`` in the seed documents)."""

    REST = "rest"  # legacy REST poller
    CANARY = "canary"  # hybrid, monitor only
    PARALLEL = "parallel"  # hybrid, compares prices with a REST poll, no forwarding
    CUTOVER = "cutover"  # hybrid, forwards its bucket range
    PRODUCTION = "production"  # hybrid, forwards everything it is routed


class Role(StrEnum):
    """Which side of the handover a process is on: ``legacy`` forwards ``[l, 100)`` (the
    stable revision: the REST poller in the first walk, the previous hybrid revision later),
    ``hybrid`` forwards ``[0, h)`` (the candidate revision)."""

    LEGACY = "legacy"
    HYBRID = "hybrid"


FORWARDING_MODES = frozenset({Mode.CUTOVER, Mode.PRODUCTION})


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

    @property
    def effective_hybrid_high(self) -> int:
        """Buckets hybrid really forwards: none until it is in a forwarding mode."""
        return self.hybrid_high if self.hybrid_mode in FORWARDING_MODES else 0

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
            return bucket >= self.legacy_low
        return bucket < self.effective_hybrid_high

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, mode="json", exclude_none=True),
                          sort_keys=True)

    @classmethod
    def parse(cls, text: str) -> RoutingDocument:
        return cls.model_validate_json(text)


#: What a process applies before any routing document exists: legacy forwards everything,
#: hybrid forwards nothing, so standalone legacy behaves as before the rollout.
INITIAL = RoutingDocument(generation=0)
