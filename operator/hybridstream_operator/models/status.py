"""The ``status`` of a HybridStreamRollout: everything a restarted operator needs to resume
exactly where the last one stopped. Timers are timestamps (never in-memory countdowns),
counters are per step, and the last intent/alert handled is remembered so neither is
applied twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from hybridstream.routing import Mode, RoutingDocument
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from hybridstream_operator.models.phases import Phase
from hybridstream_operator.models.spec import Workload

HISTORY_LIMIT = 30
#: Revisions remembered (``kubectl hsr history``, ``undo --to-revision``); the stable and
#: the candidate are always kept.
REVISION_HISTORY_LIMIT = 10
#: Alert ids remembered as handled (their annotations are removed once acted on).
HANDLED_ALERTS_LIMIT = 50


class StatusModel(BaseModel):
    """Mutable camelCase model: ``decide`` works on a deep copy and edits it in place."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    NOT_APPLICABLE = "notApplicable"


class MetricStatus(StatusModel):
    """Counters of one metric in the current step."""

    name: str
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    errored: int = 0
    not_applicable: int = 0
    held: int = Field(default=0, description="unmet during the warm-up (not failures)")
    consecutive_failed: int = 0
    consecutive_errored: int = 0
    last_verdict: Verdict | None = None
    last_value: str | None = None
    last_measured_at: datetime | None = None


class AnalysisStatus(StatusModel):
    last_run_at: datetime | None = None
    metrics: list[MetricStatus] = Field(default_factory=list)


class RoutingStatus(StatusModel):
    """Mirror of the last published routing document (the ConfigMap is the truth), every
    field of it: a lost ConfigMap is republished from here."""

    generation: int = 0
    hybrid_mode: Mode = Mode.CANARY
    hybrid_high: int = 0
    legacy_low: int = 0
    stable_revision: int | None = None
    candidate_revision: int | None = None
    stable_status: str | None = None
    hybrid_symbols: list[str] = Field(default_factory=list)
    legacy_except: list[str] = Field(default_factory=list)
    published_at: datetime | None = None

    @classmethod
    def mirror(cls, document: RoutingDocument, at: datetime) -> RoutingStatus:
        """The mirror of ``document``, published ``at``."""
        body = document.model_dump(by_alias=True, mode="json")
        return cls.model_validate({**body, "hybridSymbols": sorted(body["hybridSymbols"]),
                                   "legacyExcept": sorted(body["legacyExcept"]),
                                   "publishedAt": at})

    def document(self) -> RoutingDocument:
        """The document this mirrors."""
        return RoutingDocument.model_validate(
            self.model_dump(by_alias=True, mode="json", exclude={"published_at"}))


class FailureRecord(StatusModel):
    """Why the rollout stopped: the metric or alert and the value that breached."""

    source: str  # "metric", "alert", "manual", "deadline", "coverage"
    name: str
    value: str | None = None
    action: str
    message: str
    at: datetime


class CoverageStatus(StatusModel):
    """What the coverage watchdog sees (logic/coverage.py)."""

    uncovered_buckets: int = Field(default=0, description="buckets no Ready, acked pod "
                                   "forwards")
    uncovered_since: datetime | None = None
    hybrid_covers_legacy: bool = Field(
        default=False, description="legacy lost every pod: hybrid forwards its buckets too "
        "until legacy serves again")
    legacy_served: bool = Field(
        default=False, description="legacy pods served since the rollout began: only then "
        "is a legacy side without pods an outage for hybrid to cover (a new rollout's pods "
        "may still be starting)")


class ReplicaStatus(StatusModel):
    """Replica counts the operator wants per side; the Deployments are patched to match
    (every other revision's Deployment goes to zero)."""

    stable: int = 0
    candidate: int = 0


class RevisionOutcome(StrEnum):
    STABLE = "stable"  # serves every symbol now
    REPLACED = "replaced"  # was stable; a later revision took over and its pods are gone
    ROLLED_BACK = "rolledBack"  # failed as the candidate (``failure`` says why)
    SUPERSEDED = "superseded"  # a newer spec arrived during its walk


class RevisionRef(StatusModel):
    """One revision: ``number`` 0 is the legacy REST poller, 1.. the hybrid revisions."""

    number: int
    hash: str = Field(description="of the pod inputs the user controls (spec.workload, "
                      "replicas excluded)")
    image: str
    label: str = Field(description="number and image tag, e.g. '2 (v1.4.0)'")


class RevisionRecord(RevisionRef):
    """A revision as recorded: what its pods run, and how its walk ended."""

    workload: Workload
    created_at: datetime
    stable_since: datetime | None = None
    outcome: RevisionOutcome | None = None
    failure: FailureRecord | None = None


class Condition(StatusModel):
    """A Kubernetes-style condition (``kubectl wait --for=condition=Reconciled``)."""

    type: str
    status: str  # "True" | "False"
    reason: str
    message: str = ""
    last_transition_time: datetime


class HistoryEntry(StatusModel):
    phase: Phase
    step_index: int | None = None
    at: datetime
    reason: str


class RolloutStatus(StatusModel):
    """``status`` of a HybridStreamRollout."""

    phase: Phase = Phase.PENDING
    step_index: int | None = Field(default=None, description="index into spec.steps.cutover")
    step_label: str | None = Field(default=None, description="STEP printer column")
    hybrid_percent: int = Field(default=0, description="HYBRID% printer column")
    message: str = ""
    phase_started_at: datetime | None = None
    walk_started_at: datetime | None = Field(
        default=None, description="when the candidate's walk (or its retry) began: alerts "
        "that started firing before it belong to an earlier walk and are ignored")
    step_started_at: datetime | None = Field(
        default=None, description="when the step's routing settled; its timer starts here"
    )
    paused_from: Phase | None = None
    promote_requested: bool = False
    routing: RoutingStatus = Field(default_factory=RoutingStatus)
    stable_revision: RevisionRef | None = Field(
        default=None, description="what serves the symbols (revision 0: the legacy poller)")
    candidate_revision: RevisionRef | None = Field(
        default=None, description="the revision walking (or rolled back, until retried or "
        "replaced); none once it became stable")
    revisions: list[RevisionRecord] = Field(default_factory=list,
                                            max_length=REVISION_HISTORY_LIMIT)
    replicas: ReplicaStatus = Field(default_factory=ReplicaStatus)
    analysis: AnalysisStatus = Field(default_factory=AnalysisStatus)
    coverage: CoverageStatus = Field(default_factory=CoverageStatus)
    last_failure: FailureRecord | None = None
    last_intent_id: str | None = None
    handled_alerts: list[str] = Field(default_factory=list, description="alert ids acted on")
    rolled_back_at: datetime | None = None
    legacy_retired_at: datetime | None = None
    hybrid_retired_at: datetime | None = None
    rollbacks: int = 0
    transitions: int = 0
    observed_generation: int | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
