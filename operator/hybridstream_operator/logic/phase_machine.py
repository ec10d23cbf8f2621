"""The phase machine: ``decide(spec, status, observations, now) -> Decision``.

One call is one reconcile pass. It never awaits and never talks to anything, so every
transition is a table-driven unit test and a restarted operator replays from status alone.
Order inside a pass: revisions (a new spec) → manual intent → firing alert → analysis
verdicts → coverage watchdog → routing handover → step timers.

Every walk is between two revisions: the **stable** one forwards ``[l, 100)`` (the routing's
legacy side: the REST poller in the first walk, the previous hybrid revision later) and the
**candidate** forwards ``[0, h)`` (the hybrid side). ``obs.legacy``/``obs.hybrid`` are those
two sides' Deployments. When Production completes the candidate becomes stable in one
routing document that keeps each of its pods' range; a spec change during a walk hands the
candidate's buckets back to stable first (a rollback), then walks the newest spec.

The I/O layer then publishes routing, emits Events, converges the Deployments to
``status.replicas`` and persists the status once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hybridstream.routing import Mode, Role, RoutingDocument, effective_high

from hybridstream_operator.logic import steps
from hybridstream_operator.logic.builders import stable_status_endpoint
from hybridstream_operator.logic.coverage import assess_coverage, cover_for_legacy
from hybridstream_operator.logic.handover import HandoverView, assess_settled, decide_routing
from hybridstream_operator.logic.revisions import (
    LEGACY_REVISION,
    adopt_revision,
    build_record,
    find_record,
    reference,
    revision_hash,
)
from hybridstream_operator.logic.verdicts import (
    Breach,
    applicable,
    assess_breach,
    assess_gate,
    assess_sample,
    assess_warming,
    build_metric_status,
    describe_not_applicable,
    format_value,
    worst,
)
from hybridstream_operator.models.actions import Action, EmitEvent, EventType, PublishRouting
from hybridstream_operator.models.base import parse_duration
from hybridstream_operator.models.observations import IntentKind, Observations
from hybridstream_operator.models.phases import ABORTABLE, PROGRESSING, Phase
from hybridstream_operator.models.spec import BreachAction, RolloutSpec
from hybridstream_operator.models.status import (
    HANDLED_ALERTS_LIMIT,
    HISTORY_LIMIT,
    FailureRecord,
    HistoryEntry,
    MetricStatus,
    RevisionOutcome,
    RevisionRef,
    RolloutStatus,
    RoutingStatus,
    Verdict,
)


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: tuple[Action, ...]
    verdicts: tuple[tuple[str, Verdict], ...] = ()  # this pass's measurements, for metrics
    #: When a timer of the new status falls due with nothing observed changing (None: no
    #: timer runs; watched changes, intents and alerts wake the rollout anyway).
    next_at: datetime | None = None


def decide(spec: RolloutSpec, status: RolloutStatus, obs: Observations, now: datetime) -> Decision:
    """Compute the next status and the actions that realise it."""
    run = _Pass(spec, status.model_copy(deep=True), obs, now)
    run.run()
    return Decision(run.status, tuple(run.actions), tuple(run.verdicts),
                    next_due(spec, run.status, now))


def next_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> datetime | None:
    """The earliest time one of ``status``'s timers is due: the next analysis, the step's
    end, the progress or coverage deadline, the rolled-back scale-down. Everything else a
    pass waits for (acks, Ready pods, the routing, intents, alerts, a new spec) is watched,
    so it needs no timer. Never before ``now``.

    A deadline already past at ``now`` is not due again: the pass that computed this at
    ``now`` saw it and did what it calls for, or could not (a side still down after the
    coverage deadline waits for its pods, which are watched). Counting it would make every
    later pass due at once: a rollout whose pods stayed down re-read itself as fast as the
    API server answered (seen as 40 rollout reads per rollout adopting a thousand)."""
    deadlines: list[datetime] = []
    walking = status.candidate_revision is not None
    if walking and status.phase in PROGRESSING:
        if status.step_started_at is None:  # the handover of the step is in flight
            deadlines.append((status.phase_started_at or now)
                             + parse_duration(spec.steps.progress_deadline))
        elif not status.promote_requested:
            duration = steps.step_duration(spec, status.phase, status.step_index)
            if duration is not None:
                deadlines.append(status.step_started_at + duration)
    if status.coverage.uncovered_since is not None:
        deadlines.append(status.coverage.uncovered_since
                         + parse_duration(spec.steps.coverage_deadline))
    if (walking and status.phase is Phase.ROLLED_BACK and status.rolled_back_at is not None
            and status.hybrid_retired_at is None):
        deadlines.append(status.rolled_back_at + parse_duration(spec.rollback.scale_down_delay))
    due = [at for at in deadlines if at > now]
    if steps.measured_metrics(spec, status):  # an overdue analysis is measured next pass
        last = status.analysis.last_run_at
        due.append(now if last is None else last + parse_duration(spec.analysis.interval))
    return max(min(due), now) if due else None


@dataclass
class _Pass:
    spec: RolloutSpec
    status: RolloutStatus
    obs: Observations
    now: datetime
    actions: list[Action] = field(default_factory=list)
    verdicts: list[tuple[str, Verdict]] = field(default_factory=list)

    # -- the pass ----------------------------------------------------------------------
    def run(self) -> None:
        """One pass, in the order the module docstring gives."""
        if self.status.stable_revision is None:
            self._record_first_walk()
        if self.status.phase is Phase.PENDING:
            self._walk_candidate("rollout started")
        elif self._track_revisions():
            # a new candidate: its pods are observed from the next pass on
            self._bookkeep()
            return
        self._handle_intent()
        self._handle_alerts()
        self._handle_samples()
        self._watch_coverage()
        self._progress()
        self._bookkeep()

    # -- revisions ---------------------------------------------------------------------
    @property
    def _candidate(self) -> RevisionRef | None:
        return self.status.candidate_revision

    def _record_first_walk(self) -> None:
        """Revision 0 (the legacy poller, stable) and 1 (hybrid, the candidate), both of
        the first spec seen: the poller keeps that spec's image for its whole life."""
        legacy = build_record(LEGACY_REVISION, self.spec.workload, self.now)
        legacy.outcome, legacy.stable_since = RevisionOutcome.STABLE, self.now
        first = build_record(LEGACY_REVISION + 1, self.spec.workload, self.now)
        self.status.revisions = [legacy, first]
        self.status.stable_revision, self.status.candidate_revision = (reference(legacy),
                                                                       reference(first))

    def _track_revisions(self) -> bool:
        """Follow ``spec.workload``: a change during a walk hands the candidate's buckets back
        to stable first; with no walk in flight (complete, or rolled back) a spec that is not
        the stable revision starts a new walk. True when a new candidate was adopted."""
        status, candidate = self.status, self._candidate
        wanted = revision_hash(self.spec.workload)
        stable = status.stable_revision
        assert stable is not None
        if (candidate or stable).hash == wanted:
            return False
        if candidate is not None and status.phase in ABORTABLE:
            self._start_rollback(f"revision {candidate.label} superseded by a spec change; "
                                 f"revision {stable.label} takes its buckets back first",
                                 RevisionOutcome.SUPERSEDED)
            return False
        if status.phase is Phase.ROLLING_BACK:
            return False  # the newest spec walks once stable holds every bucket again
        if stable.hash == wanted:
            status.candidate_revision = None  # rolled back, and the spec is stable's again
            return False
        record = adopt_revision(status, self.spec.workload, self.now)
        status.candidate_revision = reference(record)
        self._event(EventType.NORMAL, "RevisionStarted",
                    f"revision {record.label} walks beside stable revision {stable.label}")
        self._walk_candidate(f"new revision {record.label}")
        return True

    def _walk_candidate(self, reason: str) -> None:
        """The candidate walks from Canary (again, for a retry): in flight, no failure, no
        rollback timers."""
        assert self._candidate is not None
        self._set_outcome(self._candidate, None)
        self.status.last_failure = None
        self.status.rolled_back_at = self.status.hybrid_retired_at = None
        self.status.walk_started_at = self.now
        self._transition(Phase.CANARY, None, reason)

    def _set_outcome(self, ref: RevisionRef, outcome: RevisionOutcome | None) -> None:
        record = find_record(self.status, ref.number)
        if record is None:
            return
        record.outcome = outcome
        if outcome is RevisionOutcome.ROLLED_BACK:
            record.failure = self.status.last_failure
        if outcome is RevisionOutcome.STABLE:
            record.stable_since = self.now

    # -- inputs ------------------------------------------------------------------------
    def _handle_intent(self) -> None:
        intent = self.obs.intent
        if intent is None or intent.id == self.status.last_intent_id:
            return
        self.status.last_intent_id = intent.id
        phase = self.status.phase
        kind = intent.kind
        reason = f"manual {kind.value}" + (f": {intent.reason}" if intent.reason else "")
        if self._candidate is None:  # complete: stable serves, nothing walks
            self._event(EventType.WARNING, "IntentIgnored",
                        f"{kind.value}: no revision is walking (the stable one serves)")
        elif kind is IntentKind.ABORT and phase in ABORTABLE:
            self._record_failure("manual", kind.value, None, "rollback", reason)
            self._start_rollback(reason)
        elif kind is IntentKind.PAUSE and phase in PROGRESSING:
            self._pause(reason)
        elif kind is IntentKind.RESUME and phase is Phase.PAUSED:
            self._transition(
                self.status.paused_from or Phase.CANARY, self.status.step_index, reason
            )
        elif kind is IntentKind.PROMOTE and phase in PROGRESSING:
            self.status.promote_requested = True
            self._event(EventType.NORMAL, "PromoteRequested", reason)
        elif kind is IntentKind.PROMOTE_FULL and phase in (*PROGRESSING, Phase.PAUSED):
            self._transition(Phase.PRODUCTION, None, reason)
            self.status.promote_requested = True
        elif kind is IntentKind.RETRY and phase is Phase.ROLLED_BACK:
            self._walk_candidate(reason)
        else:
            self._event(
                EventType.WARNING,
                "IntentIgnored",
                f"{kind.value} has no meaning in phase {phase.value}",
            )

    def _handle_alerts(self) -> None:
        """Each recorded alert once: a named one acts (the first to roll back wins; later
        ones find the rollout rolling back already and are only marked handled)."""
        for alert in self.obs.alerts:
            if alert.id in self.status.handled_alerts:
                continue
            self.status.handled_alerts = [*self.status.handled_alerts,
                                          alert.id][-HANDLED_ALERTS_LIMIT:]
            if (alert.name not in self.spec.analysis.alert_names
                    or self.status.phase not in ABORTABLE or self._candidate is None):
                continue
            walk_start = self.status.walk_started_at
            if alert.started_at and walk_start and alert.started_at < walk_start:
                # Alertmanager delivers a group late (group_wait/interval): the fault of
                # the walk already rolled back must not roll its retry back too
                self._event(EventType.NORMAL, "AlertIgnored",
                            f"alert {alert.name} started firing at "
                            f"{alert.started_at.isoformat()}, before this walk began at "
                            f"{walk_start.isoformat()}")
                continue
            action = self.spec.analysis.alert_action
            message = f"alert {alert.name} firing" + (
                f": {alert.message}" if alert.message else "")
            self._apply_breach(Breach(alert.name, action, None, message), source="alert")

    def _handle_samples(self) -> None:
        metrics = steps.measured_metrics(self.spec, self.status)
        if self.obs.samples is None or not metrics:
            return
        self.status.analysis.last_run_at = self.now
        by_name = {s.metric: s for s in self.obs.samples}
        counts = {m.name: m for m in self.status.analysis.metrics}
        breaches = []
        for metric in metrics:
            sample = by_name.get(metric.name)
            if sample is None:
                continue
            verdict = assess_sample(metric, sample)
            self.verdicts.append((metric.name, verdict))
            previous = counts.get(metric.name, MetricStatus(name=metric.name))
            # paused: the step's data is old enough; a critical guard must act
            warming = self.status.phase is not Phase.PAUSED and assess_warming(
                metric, self.status.step_started_at, self.now)
            counts[metric.name] = build_metric_status(
                previous, verdict, format_value(sample), self.now, warming=warming
            )
            breach = assess_breach(metric, counts[metric.name])
            if breach is not None:
                breaches.append(breach)
        self.status.analysis.metrics = list(counts.values())
        found = worst(breaches)
        if found is None:
            return
        rolls_back = found.action is BreachAction.ROLLBACK and self.spec.rollback.auto
        if self.status.phase is Phase.PAUSED and not rolls_back:
            return  # held already, a human is deciding; only a rollback still acts
        self._apply_breach(found, source="metric")

    def _apply_breach(self, breach: Breach, *, source: str) -> None:
        action = breach.action
        if action is BreachAction.ROLLBACK and not self.spec.rollback.auto:
            action = BreachAction.HOLD  # auto rollback disabled: a human decides
        self._record_failure(source, breach.metric, breach.value, action.value, breach.message)
        if action is BreachAction.ROLLBACK:
            self._start_rollback(breach.message)
            return
        if action is BreachAction.STEP_BACK:
            back = steps.previous_step(self.spec, self.status.phase, self.status.step_index)
            if back is not None:
                self._transition(back[0], back[1], f"step back: {breach.message}")
        if self.status.phase in PROGRESSING:
            self._pause(breach.message)

    def _watch_coverage(self) -> None:
        """Buckets one side forwards alone while it has no Ready, acked pod, for longer than
        the coverage deadline: a dead hybrid (the candidate) rolls back; a dead legacy's
        buckets go to hybrid until legacy serves again. Acts once per outage."""
        found = assess_coverage(self._in_force(), self.obs.legacy_acks, self.obs.hybrid_acks)
        state = self.status.coverage
        state.legacy_served = state.legacy_served or found.legacy_serving
        if state.hybrid_covers_legacy and found.legacy_serving:
            state.hybrid_covers_legacy = False
            self._event(EventType.NORMAL, "CoverageRestored",
                        "legacy pods serve again: they take their buckets back")
        state.uncovered_buckets = found.uncovered
        if not found.uncovered:
            state.uncovered_since = None
            return
        state.uncovered_since = state.uncovered_since or self.now
        deadline = self.spec.steps.coverage_deadline
        if self.now - state.uncovered_since < parse_duration(deadline):
            return
        side = found.down
        message = (f"{found.uncovered} buckets had no forwarder for {deadline}: no Ready "
                   f"{side} pod applied the routing")
        if side is Role.HYBRID and self.status.phase in ABORTABLE and self._candidate:
            self._apply_breach(Breach("uncovered-buckets", BreachAction.ROLLBACK,
                                      str(found.uncovered), message), source="coverage")
        elif (side is Role.LEGACY and state.legacy_served and found.hybrid_serving
              and not state.hybrid_covers_legacy):
            # Never served: a new rollout whose legacy pods start slower than hybrid's is
            # not an outage (pausing it would stop a healthy walk in its first minute).
            state.hybrid_covers_legacy = True
            self._record_failure("coverage", "uncovered-buckets", str(found.uncovered),
                                 "handover", f"{message}; hybrid forwards them until legacy "
                                 "serves again")
            if self.status.phase in PROGRESSING:
                self._pause(message)

    # -- progression -------------------------------------------------------------------
    def _progress(self) -> None:
        phase = self.status.phase
        walking = self._candidate is not None
        rolling_back = phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK) or not walking
        target_phase = steps.effective_phase(self.status)
        target = (steps.build_target(self.spec, target_phase, self.status.step_index)
                  if walking else steps.ROLLBACK_TARGET)
        if self.status.coverage.hybrid_covers_legacy:
            target = cover_for_legacy(target)
        current = self._current_routing()
        view = HandoverView(
            self.obs.legacy_acks,
            self.obs.hybrid_acks,
            self.obs.legacy.healthy,
            self.obs.hybrid.healthy,
        )
        move = decide_routing(current, target, view)
        if move.publish is not None:
            self._publish(move.publish)
            return
        waiting = move.waiting_for or assess_settled(current, view, hybrid_running=not rolling_back)
        if waiting is not None:
            self.status.message = f"waiting for {waiting}"
            self._check_progress_deadline(waiting)
            return
        if not walking:
            self._describe_complete()
        elif phase is Phase.ROLLING_BACK:
            self.status.rolled_back_at = self.now
            self.status.rollbacks += 1
            self._transition(Phase.ROLLED_BACK, None, "legacy forwards every symbol again")
        elif phase is Phase.ROLLED_BACK:
            self._retire_hybrid_after_delay()
        elif phase in PROGRESSING:
            self._progress_step()

    def _progress_step(self) -> None:
        status = self.status
        if status.step_started_at is None:
            status.step_started_at = self.now
            status.analysis.metrics = []
            self._event(
                EventType.NORMAL,
                "StepStarted",
                f"{steps.build_step_label(self.spec, status)} started",
            )
        duration = steps.step_duration(self.spec, status.phase, status.step_index)
        elapsed = self.now - status.step_started_at
        label = steps.build_step_label(self.spec, status)
        if not status.promote_requested:
            if duration is None:
                status.message = f"{label}: waiting for promote (kubectl hsr promote)"
                return
            not_applicable = describe_not_applicable(status.analysis.metrics)
            note = f" ({not_applicable})" if not_applicable else ""
            if elapsed < duration:
                # The end, not a countdown: a message that changed every pass would be a
                # status write every pass.
                end = status.step_started_at + duration
                status.message = f"{label}: ends at {end.isoformat(timespec='seconds')}{note}"
                return
            metrics = applicable(self.spec.analysis.metrics, status.phase)
            gate = assess_gate(metrics, {m.name: m for m in status.analysis.metrics})
            if gate is not None:
                status.message = f"{label}: {gate}{note}"
                return
        if status.phase is Phase.PRODUCTION:
            self._complete_walk()
            return
        phase, index = steps.next_step(self.spec, status.phase, status.step_index)
        self._transition(phase, index, f"{label} passed")

    def _check_progress_deadline(self, waiting: str) -> None:
        """A step that cannot take effect (hybrid pods crash-looping, never acking) must
        not wait forever with a half-done handover: roll back (argo's progressDeadline)."""
        status = self.status
        if status.phase not in PROGRESSING or status.step_started_at is not None:
            return
        started = status.phase_started_at or self.now
        if self.now - started < parse_duration(self.spec.steps.progress_deadline):
            return
        message = (
            f"progress deadline {self.spec.steps.progress_deadline} exceeded waiting for {waiting}"
        )
        self._apply_breach(
            Breach("progress-deadline", BreachAction.ROLLBACK, None, message), source="deadline"
        )

    def _complete_walk(self) -> None:
        """The candidate becomes stable and the old stable's pods go. One document moves
        the candidate's pods from the hybrid side ``[0, 100)`` to the stable side
        ``[0, 100)``: each pod's range is the same before and after, so no bucket is ever
        without them; the old stable forwarded nothing already (``l = 100``)."""
        # Never scale the only healthy copy to zero (Flagger #1931): hybrid must be healthy.
        status = self.status
        old, new = status.stable_revision, self._candidate
        assert old is not None and new is not None
        if not self.obs.hybrid.healthy:
            status.message = (f"production: waiting for revision {new.label} to be healthy "
                              f"before retiring revision {old.label}")
            return
        self._set_outcome(old, RevisionOutcome.REPLACED)
        self._set_outcome(new, RevisionOutcome.STABLE)
        status.stable_revision, status.candidate_revision = new, None
        status.promote_requested = False
        if old.number == LEGACY_REVISION:
            status.legacy_retired_at = self.now
            self._event(EventType.NORMAL, "LegacyRetired",
                        "legacy scaled to zero; rollout complete")
        else:
            self._event(EventType.NORMAL, "RevisionReplaced",
                        f"revision {new.label} is stable; revision {old.label} scaled to zero")
        # After the document in force, not the status mirror: an operator killed between
        # publishing Production and writing status has a mirror one generation behind, and
        # reusing that number would give the pods two documents under one generation.
        generation = self._in_force().generation
        self._publish(RoutingDocument(generation=generation + 1, hybridMode=Mode.CANARY,
                                      hybridHigh=0, legacyLow=0))
        self._describe_complete()

    def _describe_complete(self) -> None:
        stable = self.status.stable_revision
        assert stable is not None
        if self.status.phase is Phase.ROLLED_BACK:
            self.status.message = (f"rolled back; the spec is stable revision {stable.label}: "
                                   "nothing to roll out")
            return
        self.status.message = (f"rollout complete: revision {stable.label} is stable and "
                               "forwards every symbol")

    def _retire_hybrid_after_delay(self) -> None:
        status = self.status
        if status.hybrid_retired_at is not None or status.rolled_back_at is None:
            return
        due = status.rolled_back_at + parse_duration(self.spec.rollback.scale_down_delay)
        if self.now < due:
            # Future tense: the scale-down is still pending (kubectl hsr get shows this line).
            status.message = f"rolled back; hybrid scales down at {due.isoformat()}"
        elif self.obs.legacy.healthy:
            status.hybrid_retired_at = self.now
            status.message = "rolled back; hybrid scaled down (kubectl hsr retry to start again)"
            self._event(
                EventType.NORMAL, "HybridScaledDown", "hybrid scaled to zero after rollback"
            )
        else:
            status.message = "rolled back; keeping hybrid until legacy is healthy"

    # -- routing -----------------------------------------------------------------------
    def _in_force(self) -> RoutingDocument:
        """The published document, or the status mirror when the ConfigMap is missing or
        older than what we know we published."""
        published = self.obs.published
        if published is not None and published.generation >= self.status.routing.generation:
            return published
        return self.status.routing.document()

    def _current_routing(self) -> RoutingDocument:
        """The document in force; the mirror is republished first when the ConfigMap lags,
        and the document is republished when it names other revisions than status (a new
        candidate: the retired one's pods then forward nothing) or not where stable's
        status is (a document an earlier operator published)."""
        current = self._in_force()
        named = self._named()
        if current is self.obs.published and all(
                getattr(current, key) == value for key, value in named.items()):
            return current
        republish = current.model_copy(update={"generation": current.generation + 1})
        self._publish(republish)
        return republish

    def _named(self) -> dict[str, int | str | None]:
        """What the routing must name: the stable and candidate revision numbers, and where
        stable's status API is (its Service, at its own revision's port)."""
        stable, candidate = self.status.stable_revision, self._candidate
        record = find_record(self.status, stable.number) if stable else None
        return {"stable_revision": stable.number if stable else None,
                "candidate_revision": candidate.number if candidate else None,
                "stable_status": stable_status_endpoint(self.obs.rollout,
                                                        record.workload.metrics_port)
                if record else None}

    def _publish(self, document: RoutingDocument) -> None:
        document = document.model_copy(update=self._named())
        self.actions.append(PublishRouting(document))
        self.status.routing = RoutingStatus.mirror(document, self.now)
        self.status.message = (
            f"published routing generation {document.generation}: hybrid "
            f"{document.hybrid_mode.value} [0,{document.effective_hybrid_high}), legacy "
            f"[{document.legacy_low},100)"
        )

    # -- transitions -------------------------------------------------------------------
    def _transition(self, phase: Phase, step_index: int | None, reason: str) -> None:
        status = self.status
        status.phase = phase
        status.step_index = step_index
        status.phase_started_at = self.now
        status.step_started_at = None
        status.promote_requested = False
        status.paused_from = None
        status.analysis.metrics = []
        status.transitions += 1
        status.message = reason
        status.history = [
            *status.history,
            HistoryEntry(phase=phase, step_index=step_index, at=self.now, reason=reason),
        ][-HISTORY_LIMIT:]
        self._event(EventType.NORMAL, f"Phase{phase.value}", reason)

    def _pause(self, reason: str) -> None:
        paused_from, index = self.status.phase, self.status.step_index
        self._transition(Phase.PAUSED, index, f"paused: {reason}")
        self.status.paused_from = paused_from

    def _start_rollback(self, reason: str,
                        outcome: RevisionOutcome = RevisionOutcome.ROLLED_BACK) -> None:
        """Every bucket back to stable (the candidate keeps forwarding until stable acks);
        the candidate's record keeps why."""
        if self._candidate is not None:
            self._set_outcome(self._candidate, outcome)
        self._transition(Phase.ROLLING_BACK, None, f"rolling back: {reason}")

    def _record_failure(
        self, source: str, name: str, value: str | None, action: str, message: str
    ) -> None:
        self.status.last_failure = FailureRecord(
            source=source, name=name, value=value, action=action, message=message, at=self.now
        )
        self._event(
            EventType.WARNING, "AnalysisFailed" if source == "metric" else "RolloutAborted", message
        )

    def _event(self, type_: EventType, reason: str, message: str) -> None:
        self.actions.append(EmitEvent(type_, reason, message))

    def _bookkeep(self) -> None:
        status = self.status
        status.step_label = steps.build_step_label(self.spec, status)
        r, stable, replicas = status.routing, status.stable_revision, self.spec.workload.replicas
        assert stable is not None
        if self._candidate is not None:
            status.hybrid_percent = effective_high(r.hybrid_mode, r.hybrid_high)
        else:  # complete: the stable revision forwards everything
            status.hybrid_percent = 0 if stable.number == LEGACY_REVISION else 100
        status.replicas.stable = (replicas.legacy if stable.number == LEGACY_REVISION
                                  else replicas.hybrid)
        status.replicas.candidate = (0 if self._candidate is None or status.hybrid_retired_at
                                     else replicas.hybrid)

