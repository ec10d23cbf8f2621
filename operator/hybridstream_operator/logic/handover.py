"""The handover invariant as one pure step function.

Hybrid forwards buckets ``[0, h)`` (only in a forwarding mode), legacy ``[l, 100)``; every
bucket must always have a forwarder *in the pods*, not just in the document. Pods apply a
document about a second after it is published, so the next document may only take a bucket
away from one side after the other side acknowledged the document that gave it to them:

* forward: raise ``h`` → wait for every hybrid pod's ack → raise ``l``;
* backward: lower ``l`` → wait for every legacy pod's ack and legacy availability → lower ``h``.

Symbols moved by name follow the same order: hybrid adds them (``hybridSymbols``) before
legacy skips them (``legacyExcept``), and legacy takes them back before hybrid drops them.

This is why a rollback cannot be a single write (and why Flagger #1931, scaling the only
healthy copy to zero, cannot happen here: legacy must be available before hybrid stops).
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridstream.routing import FORWARDING_MODES, Mode, RoutingDocument, effective_high

from hybridstream_operator.models.observations import Acks


@dataclass(frozen=True)
class RoutingTarget:
    """Where a phase wants the routing to be (generation is assigned on publication)."""

    mode: Mode
    hybrid_high: int
    legacy_low: int
    symbols: frozenset[str] = frozenset()  # moved by name (only in a forwarding mode)

    @property
    def effective_high(self) -> int:
        """Buckets hybrid forwards under this target."""
        return effective_high(self.mode, self.hybrid_high)


@dataclass(frozen=True)
class HandoverView:
    """What the handover needs to know about the pods."""

    legacy_acks: Acks
    hybrid_acks: Acks
    legacy_available: bool
    hybrid_available: bool


@dataclass(frozen=True)
class RoutingMove:
    """Next document to publish (if any) and, when none, why we wait."""

    publish: RoutingDocument | None = None
    waiting_for: str | None = None

    @property
    def settled(self) -> bool:
        """Nothing to publish and nothing to wait for."""
        return self.publish is None and self.waiting_for is None


def _next(current: RoutingDocument, **changes: object) -> RoutingDocument:
    """``current`` one generation on with ``changes`` (validated: a gap cannot be built)."""
    body = current.model_dump(by_alias=True)
    body.update(generation=current.generation + 1, **changes)
    return RoutingDocument.model_validate(body)


def decide_routing(
    current: RoutingDocument,
    target: RoutingTarget,
    view: HandoverView,
) -> RoutingMove:
    """One step of ``current`` toward ``target`` that keeps every bucket covered.

    Returns a document to publish, a reason to wait, or neither when ``current`` is the
    target and the side that must confirm it has done so.
    """
    gen = current.generation
    low, eff_high = current.legacy_low, current.effective_hybrid_high
    named, skipped = current.hybrid_symbols, current.legacy_except
    wanted = target.symbols if target.mode in FORWARDING_MODES else frozenset()
    legacy_confirmed = view.legacy_available and view.legacy_acks.all_at_least(gen)
    hybrid_confirmed = view.hybrid_available and view.hybrid_acks.all_at_least(gen)
    waiting_legacy = RoutingMove(waiting_for=f"legacy pods to apply routing generation {gen}")
    waiting_hybrid = RoutingMove(waiting_for=f"hybrid pods to apply routing generation {gen}")

    # always safe: give buckets or symbols back to legacy, or to hybrid
    if low > target.legacy_low:
        return RoutingMove(_next(current, legacyLow=target.legacy_low))
    if skipped - wanted:
        return RoutingMove(_next(current, legacyExcept=skipped & wanted))
    if eff_high < target.effective_high:
        return RoutingMove(_next(current, hybridMode=target.mode, hybridHigh=target.hybrid_high))
    if wanted - named or (wanted and current.hybrid_mode not in FORWARDING_MODES):
        return RoutingMove(_next(current, hybridMode=target.mode, hybridSymbols=named | wanted))
    # take from hybrid: legacy must hold them already
    if eff_high > target.effective_high or named - wanted:
        if not legacy_confirmed:
            return waiting_legacy
        return RoutingMove(_next(current, hybridMode=target.mode, hybridHigh=target.hybrid_high,
                                 hybridSymbols=named & wanted))
    # take from legacy: hybrid must hold them already
    if low < target.legacy_low or wanted - skipped:
        if not hybrid_confirmed:
            return waiting_hybrid
        return RoutingMove(_next(current, hybridMode=target.mode, legacyLow=target.legacy_low,
                                 legacyExcept=wanted))
    if (current.hybrid_mode, current.hybrid_high) != (target.mode, target.hybrid_high):
        # coverage is unchanged (e.g. canary → parallel): publish the mode directly
        return RoutingMove(_next(current, hybridMode=target.mode, hybridHigh=target.hybrid_high))
    return RoutingMove()


def assess_settled(
    current: RoutingDocument, view: HandoverView, *, hybrid_running: bool
) -> str | None:
    """Why the published document is not yet in force, or None when it is.

    Hybrid must apply every generation while it runs (its mode changes live); legacy must
    apply it whenever it still forwards something.
    """
    gen = current.generation
    if hybrid_running and not (view.hybrid_available and view.hybrid_acks.all_at_least(gen)):
        return f"hybrid pods to apply routing generation {gen}"
    if current.legacy_low < 100 and not (
        view.legacy_available and view.legacy_acks.all_at_least(gen)
    ):
        return f"legacy pods to apply routing generation {gen}"
    return None
