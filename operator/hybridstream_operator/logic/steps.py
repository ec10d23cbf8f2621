"""What each phase and step means in numbers: its routing target, how long it lasts, its
label in ``kubectl get``, and which step comes next. Pure lookups over the spec."""

from __future__ import annotations

from datetime import datetime, timedelta

from hybridstream.routing import Mode

from hybridstream_operator.logic.handover import RoutingTarget
from hybridstream_operator.logic.verdicts import applicable
from hybridstream_operator.models.base import parse_duration
from hybridstream_operator.models.phases import PROGRESSING, Phase
from hybridstream_operator.models.spec import CutoverStep, Metric, RolloutSpec
from hybridstream_operator.models.status import RolloutStatus

#: Where rollbacks lead, and where a complete rollout rests: stable forwards everything,
#: the candidate (if any) back to monitor-only.
ROLLBACK_TARGET = RoutingTarget(Mode.CANARY, 0, 0)


def cutover_index(spec: RolloutSpec, step_index: int | None) -> int:
    """``step_index`` within the spec's cutover steps: a spec edited to fewer steps than the
    one in force continues from its last step instead of failing every pass."""
    return min(step_index or 0, len(spec.steps.cutover) - 1)


def cutover_step(spec: RolloutSpec, step_index: int | None) -> CutoverStep:
    return spec.steps.cutover[cutover_index(spec, step_index)]


def build_target(spec: RolloutSpec, phase: Phase, step_index: int | None) -> RoutingTarget:
    """The routing a (progressing or rolling-back) phase converges to."""
    if phase is Phase.PARALLEL:
        return RoutingTarget(Mode.PARALLEL, 0, 0)
    if phase is Phase.CUTOVER:
        percent = cutover_step(spec, step_index).percent
        return RoutingTarget(Mode.CUTOVER, percent, percent)
    if phase is Phase.PRODUCTION:
        return RoutingTarget(Mode.PRODUCTION, 100, 100)
    return ROLLBACK_TARGET  # Pending, Canary, RollingBack, RolledBack


def effective_phase(status: RolloutStatus) -> Phase:
    """The progressing phase whose routing applies (a paused rollout keeps its step's)."""
    if status.phase is Phase.PAUSED and status.paused_from is not None:
        return status.paused_from
    return status.phase


def step_duration(spec: RolloutSpec, phase: Phase, step_index: int | None) -> timedelta | None:
    """How long a step is watched; None means it waits for a manual ``promote``."""
    if phase is Phase.CANARY:
        return parse_duration(spec.steps.canary.duration)
    if phase is Phase.PARALLEL:
        return parse_duration(spec.steps.parallel.duration)
    if phase is Phase.PRODUCTION:
        return parse_duration(spec.steps.production.duration)
    pause = cutover_step(spec, step_index).pause
    if pause is None:
        return timedelta(0)
    return None if pause.duration is None else parse_duration(pause.duration)


def next_step(spec: RolloutSpec, phase: Phase, step_index: int | None) -> tuple[Phase, int | None]:
    """The step after ``(phase, step_index)`` in Canary → Parallel → Cutover[*] → Production."""
    if phase is Phase.CANARY:
        return Phase.PARALLEL, None
    if phase is Phase.PARALLEL:
        return Phase.CUTOVER, 0
    index = cutover_index(spec, step_index)
    if phase is Phase.CUTOVER and index + 1 < len(spec.steps.cutover):
        return Phase.CUTOVER, index + 1
    return Phase.PRODUCTION, None


def previous_step(
    spec: RolloutSpec, phase: Phase, step_index: int | None
) -> tuple[Phase, int | None] | None:
    """The cutover step before this one (for ``step-back``), or None when there is none."""
    if phase is Phase.PRODUCTION:
        return Phase.CUTOVER, len(spec.steps.cutover) - 1
    index = cutover_index(spec, step_index)
    if phase is Phase.CUTOVER and index > 0:
        return Phase.CUTOVER, index - 1
    return None


def build_step_label(spec: RolloutSpec, status: RolloutStatus) -> str:
    """The STEP printer column, e.g. ``cutover 1/2 (50%)``."""
    phase = effective_phase(status)
    if phase is Phase.CUTOVER:
        index = cutover_index(spec, status.step_index)
        steps = spec.steps.cutover
        return f"cutover {index + 1}/{len(steps)} ({steps[index].percent}%)"
    if phase in PROGRESSING:
        return phase.value.lower()
    return "-"


def measured_metrics(spec: RolloutSpec, status: RolloutStatus) -> list[Metric]:
    """The metrics measured now: those of the progressing phase, or of the phase a paused
    rollout left (its guards only); none while rolling back or rolled back, nor once the
    walk completed (no candidate: nothing to judge or roll back)."""
    phase = effective_phase(status)
    complete = status.stable_revision is not None and status.candidate_revision is None
    if phase not in PROGRESSING or complete:
        return []
    return applicable(spec.analysis.metrics, phase, paused=status.phase is Phase.PAUSED)


def data_start(status: RolloutStatus) -> datetime | None:
    """Since when the current step's data counts: the step's start once its routing is in
    force, else the phase's start (a retry or the next step never sees the last one's).
    None while paused: a hold is not a new attempt, so an outage that began before the
    pause still counts in full (the critical guards must not wait for the hold's age)."""
    if status.phase is Phase.PAUSED:
        return None
    return status.step_started_at or status.phase_started_at


def assess_analysis_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """Whether the next pass should query Prometheus (the interval runs from status, so a
    restarted operator keeps the cadence)."""
    if not measured_metrics(spec, status):
        return False
    last = status.analysis.last_run_at
    return last is None or now - last >= parse_duration(spec.analysis.interval)
