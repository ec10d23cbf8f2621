"""Revisions: what a rollout's pods run, identified by a hash of the inputs the user
controls (``spec.workload`` without ``replicas``: scaling is not a new version).

Revision 0 is the legacy REST poller (the stable side of the first walk); hybrid revisions
are numbered from 1 in the order their specs were first seen, and a spec seen before keeps
its number (``kubectl hsr undo`` brings an old revision back, not a new one). Argo Rollouts
numbers a re-rolled template anew; we keep one number per pod template so that
``kubectl hsr history`` reads as a list of versions.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from hybridstream.contract import LEGACY_REVISION

from hybridstream_operator.models.spec import Workload
from hybridstream_operator.models.status import (
    REVISION_HISTORY_LIMIT,
    RevisionRecord,
    RevisionRef,
    RolloutStatus,
)


def revision_hash(workload: Workload, *, legacy: bool = False) -> str:
    """10 hex digits of SHA-256 over the pod inputs (and which kind of stream runs them,
    so the legacy poller never shares a hash with the first hybrid revision)."""
    inputs = workload.model_dump(by_alias=True, mode="json", exclude={"replicas"})
    text = json.dumps({"legacy": legacy, "workload": inputs}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def image_tag(image: str) -> str:
    """What a person calls the image: its tag, a short digest, or ``latest``."""
    name, _, digest = image.partition("@")
    if digest:
        return digest.split(":", 1)[-1][:12]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def build_record(number: int, workload: Workload, now: datetime) -> RevisionRecord:
    """A new revision's record."""
    legacy = number == LEGACY_REVISION
    tag = "legacy" if legacy else image_tag(workload.image)
    return RevisionRecord(number=number, hash=revision_hash(workload, legacy=legacy),
                          image=workload.image, label=f"{number} ({tag})",
                          workload=workload, created_at=now)


def reference(record: RevisionRecord) -> RevisionRef:
    """The record's short form (``status.stableRevision`` / ``candidateRevision``)."""
    return RevisionRef(number=record.number, hash=record.hash, image=record.image,
                       label=record.label)


def observed_sides(status: RolloutStatus) -> tuple[int, int | None]:
    """``(stable, candidate)`` revision numbers whose pods a pass observes: the first walk's
    (0, 1) before anything is recorded."""
    if status.stable_revision is None:
        return LEGACY_REVISION, LEGACY_REVISION + 1
    candidate = status.candidate_revision
    return status.stable_revision.number, candidate.number if candidate else None


def find_record(status: RolloutStatus, number: int) -> RevisionRecord | None:
    """The recorded revision ``number``, if still in history."""
    return next((r for r in status.revisions if r.number == number), None)


def adopt_revision(status: RolloutStatus, workload: Workload, now: datetime) -> RevisionRecord:
    """The hybrid revision running ``workload``: the recorded one with its hash, or a new
    record numbered after every revision seen (history trimmed, stable and candidate
    kept)."""
    wanted = revision_hash(workload)
    found = next((r for r in status.revisions if r.hash == wanted), None)
    if found is not None:
        found.workload = workload  # same pod inputs; keeps the record current for replicas
        return found
    # records are appended in order and trimming drops the oldest: the last is the highest
    highest = max((r.number for r in status.revisions), default=LEGACY_REVISION)
    record = build_record(highest + 1, workload, now)
    status.revisions = trim_history([*status.revisions, record], status)
    return record


def trim_history(records: list[RevisionRecord],
                 status: RolloutStatus) -> list[RevisionRecord]:
    """The newest REVISION_HISTORY_LIMIT records, never dropping stable or candidate."""
    keep = {ref.number for ref in (status.stable_revision, status.candidate_revision) if ref}
    drop = len(records) - REVISION_HISTORY_LIMIT
    if drop <= 0:
        return records
    out = []
    for record in records:
        if drop > 0 and record.number not in keep:
            drop -= 1
            continue
        out.append(record)
    return out


class UndoRefused(ValueError):
    """``kubectl hsr undo`` has no revision to go to (the message says why)."""


def choose_undo_target(status: RolloutStatus, to_revision: int | None) -> RevisionRecord:
    """The recorded revision ``undo`` makes the spec again: ``to_revision``, or by default
    the stable one while a candidate is in flight (abandon it), else the hybrid revision
    that was stable before the current one."""
    stable, candidate = status.stable_revision, status.candidate_revision
    if stable is None:
        raise UndoRefused("the rollout has no revisions yet")
    if to_revision is not None:
        target = find_record(status, to_revision)
        if target is None:
            kept = ", ".join(str(r.number) for r in status.revisions)
            raise UndoRefused(f"revision {to_revision} is not in history (kept: {kept})")
    elif candidate is not None:
        target = find_record(status, stable.number)
    else:
        earlier = [r for r in status.revisions if r.number not in (LEGACY_REVISION, stable.number)
                   and r.stable_since is not None]
        if not earlier:
            raise UndoRefused(f"no hybrid revision was stable before {stable.label}")
        target = max(earlier, key=lambda r: r.stable_since or r.created_at)
    assert target is not None
    if target.number == LEGACY_REVISION:
        raise UndoRefused("revision 0 is the legacy REST poller: it cannot walk as a candidate "
                          "(kubectl hsr abort returns a walking rollout to it)")
    if target.number == stable.number and candidate is None:
        raise UndoRefused(f"revision {stable.label} is already stable")
    return target
