"""The coverage watchdog's pure half: which buckets have no forwarder in the pods.

The handover keeps every bucket in *some* side's range, but a range is only served while
that side has a Ready pod that applied a routing document. Hybrid forwards ``[0, h)`` and
legacy ``[l, 100)``; where the two overlap (mid-handover) either side covers, elsewhere one
side alone does, and if it has no such pod those buckets reach nobody. The phase machine
reacts after ``steps.coverageDeadline``: a dead hybrid rolls back, a dead legacy hands its
buckets to hybrid until it recovers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hybridstream.routing import FORWARDING_MODES, Mode, Role, RoutingDocument, bucket_of

from hybridstream_operator.logic.handover import RoutingTarget
from hybridstream_operator.models.observations import Acks


def serving(acks: Acks) -> bool:
    """At least one Ready pod of the side applied a routing document (-1: none yet)."""
    return any(generation >= 0 for generation in acks.generations)


@dataclass(frozen=True)
class Coverage:
    """Buckets each side forwards alone under a document, and whether it can."""

    hybrid_alone: int
    legacy_alone: int
    hybrid_serving: bool
    legacy_serving: bool

    @property
    def uncovered(self) -> int:
        """Buckets no Ready, acked pod forwards."""
        return (0 if self.hybrid_serving else self.hybrid_alone) + \
            (0 if self.legacy_serving else self.legacy_alone)

    @property
    def down(self) -> Role | None:
        """The side whose absence uncovers buckets (hybrid first: it is the candidate)."""
        if self.hybrid_alone and not self.hybrid_serving:
            return Role.HYBRID
        if self.legacy_alone and not self.legacy_serving:
            return Role.LEGACY
        return None


def assess_coverage(document: RoutingDocument, legacy: Acks, hybrid: Acks) -> Coverage:
    """Coverage of ``document`` by the pods behind ``legacy`` and ``hybrid`` acks (a symbol
    legacy skips by name counts as one more unit hybrid serves alone)."""
    high, low = document.effective_hybrid_high, document.legacy_low
    named = sum(1 for s in document.legacy_except if bucket_of(s) >= low)
    return Coverage(hybrid_alone=max(0, min(high, low)) + named,
                    legacy_alone=max(0, 100 - max(high, low)),
                    hybrid_serving=serving(hybrid), legacy_serving=serving(legacy))


def cover_for_legacy(target: RoutingTarget) -> RoutingTarget:
    """``target`` with hybrid forwarding every bucket as well (legacy's range unchanged, so
    legacy takes its buckets back through the normal handover once it serves again)."""
    mode = target.mode if target.mode in FORWARDING_MODES else Mode.CUTOVER
    return replace(target, mode=mode, hybrid_high=100)
