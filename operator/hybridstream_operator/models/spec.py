"""The ``spec`` of a HybridStreamRollout: what to run, how to step, what to measure.

Defaults come from the seed rollout plan (canary 2 days, parallel 1 day, cutover 50 % then
100 % each watched for 4 hours); the default analysis lives in :mod:`.defaults`. CEL rules
in ``json_schema_extra`` are copied verbatim into the CRD by :mod:`..crdgen`, so the API
server rejects bad objects before the operator ever sees them.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator

from hybridstream_operator.models.base import CamelModel, Duration, parse_duration
from hybridstream_operator.models.defaults import DEFAULT_ALERT_NAMES, DEFAULT_METRICS
from hybridstream_operator.models.phases import Phase

API_GROUP = "hybridstream.io"
API_VERSION = "v1alpha1"
KIND = "HybridStreamRollout"
PLURAL = "hybridstreamrollouts"
SINGULAR = "hybridstreamrollout"
SHORT_NAMES = ["hsr"]

#: How long a gate may stay unmet at the start of a step before it counts as failing.
GATE_WARMUP = "5m"
#: The shortest ``$window``: Prometheus needs two scrapes in a range (usually 15 s apart);
#: a windowed metric is not measured in a step younger than this.
MIN_WINDOW = "30s"

#: A PromQL condition on the query's single value, e.g. ``result < 30``.
CONDITION_PATTERN = r"^\s*result\s*(<=|>=|==|!=|<|>)\s*-?[0-9]+(\.[0-9]+)?([eE]-?[0-9]+)?\s*$"
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class Network(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    DEMO = "demo"


class SinkType(StrEnum):
    JSONL = "jsonl"
    WEBHOOK = "webhook"
    REDIS = "redis"


class NoDataPolicy(StrEnum):
    """What an empty or NaN query result counts as. ``notApplicable``: the query is
    written to return nothing when its question does not apply (an idle account has no
    events to count); it neither passes nor blocks, and ``kubectl hsr get`` says so."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "notApplicable"


class MetricKind(StrEnum):
    """A *gate* is a success criterion: unmet, it holds the step's end, and it only counts
    as a failure after its warm-up. A *guard* is a threshold: breached, it acts at once
    with its action."""

    GATE = "gate"
    GUARD = "guard"


class BreachAction(StrEnum):
    """Graded reaction to a breached metric, mildest first (seed 003: reduce traffic /
    investigate / rollback)."""

    HOLD = "hold"
    STEP_BACK = "step-back"
    ROLLBACK = "rollback"


class SecretRef(CamelModel):
    """The Secret holding the exchange credentials (never copied anywhere else)."""

    name: Annotated[str, Field(pattern=K8S_NAME_PATTERN, max_length=253)]
    api_key_key: str = "api-key"
    api_secret_key: str = "api-secret"


class Sink(CamelModel):
    type: SinkType = SinkType.JSONL
    url: str | None = Field(default=None, description="webhook or redis URL")


class Replicas(CamelModel):
    legacy: Annotated[int, Field(ge=1, le=50)] = 1
    hybrid: Annotated[int, Field(ge=1, le=50)] = 1


class EnvVar(CamelModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    value: str


class Resources(CamelModel):
    requests: dict[str, str] = Field(default_factory=lambda: {"cpu": "50m", "memory": "64Mi"})
    limits: dict[str, str] = Field(default_factory=lambda: {"memory": "256Mi"})


class Workload(CamelModel):
    """The stream pods: one image, run as ``rest`` (legacy) and as the hybrid stream."""

    image: Annotated[str, Field(min_length=1)]
    image_pull_policy: str = "IfNotPresent"
    network: Network = Network.MAINNET
    credentials_secret: SecretRef
    sink: Sink = Field(default_factory=Sink)
    replicas: Replicas = Field(default_factory=Replicas)
    resources: Resources = Field(default_factory=Resources)
    env: list[EnvVar] = Field(default_factory=list, description="extra environment")
    metrics_port: Annotated[int, Field(ge=1, le=65535)] = 8080


class Pause(CamelModel):
    """How long a cutover step is watched; no duration means: wait for ``promote``."""

    duration: Duration | None = None


class CutoverStep(CamelModel):
    percent: Annotated[int, Field(ge=1, le=100)]
    pause: Pause | None = Field(
        default=None, description="absent: promote as soon as analysis passes"
    )


class Timed(CamelModel):
    duration: Duration


def _default_cutover() -> list[CutoverStep]:
    return [
        CutoverStep(percent=50, pause=Pause(duration="4h")),
        CutoverStep(percent=100, pause=Pause(duration="4h")),
    ]


class Steps(CamelModel):
    progress_deadline: Duration = Field(
        default="10m",
        description="a step whose routing is not in force (pods not ready or not acking) "
        "this long after it began rolls back",
    )
    canary: Timed = Field(default_factory=lambda: Timed(duration="48h"))
    parallel: Timed = Field(default_factory=lambda: Timed(duration="24h"))
    cutover: Annotated[
        list[CutoverStep],
        Field(
            min_length=1,
            max_length=20,
            json_schema_extra={
                "x-kubernetes-validations": [
                    {
                        "rule": "self.map(s, s.percent).isSorted() && "
                        "self.all(s, size(self.filter(o, o.percent == s.percent)) == 1)",
                        "message": "cutover percentages must be strictly increasing",
                    },
                    {
                        "rule": "self[size(self) - 1].percent == 100",
                        "message": "the last cutover step must be 100 percent",
                    },
                ]
            },
        ),
    ] = Field(default_factory=_default_cutover)
    production: Timed = Field(
        default_factory=lambda: Timed(duration="1h"),
        description="bake time in production before legacy is scaled to zero",
    )

    @field_validator("cutover")
    @classmethod
    def _increasing_to_100(cls, steps: list[CutoverStep]) -> list[CutoverStep]:
        # Same rules as the CEL above, for objects validated outside the API server.
        percents = [s.percent for s in steps]
        if any(b <= a for a, b in itertools.pairwise(percents)):
            raise ValueError("cutover percentages must be strictly increasing")
        if percents[-1] != 100:
            raise ValueError("the last cutover step must be 100 percent")
        return steps


class Prometheus(CamelModel):
    address: Annotated[str, Field(pattern=r"^https?://")] = "http://prometheus:9090"
    timeout: Duration = "5s"


class Metric(CamelModel):
    """One PromQL measurement with its pass condition, limits and reaction."""

    name: Annotated[str, Field(pattern=K8S_NAME_PATTERN, max_length=63)]
    query: Annotated[str, Field(min_length=1)]
    condition: Annotated[str, Field(pattern=CONDITION_PATTERN)]
    failure_limit: Annotated[int, Field(ge=0)] = Field(
        default=0, description="cumulative failures tolerated in a step"
    )
    consecutive_failure_limit: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="consecutive failures tolerated (unset: only the cumulative limit)",
    )
    inconclusive_limit: Annotated[int, Field(ge=0)] = Field(
        default=10, description="cumulative inconclusive results tolerated before holding"
    )
    no_data: NoDataPolicy = NoDataPolicy.INCONCLUSIVE
    action: BreachAction = BreachAction.HOLD
    kind: MetricKind = MetricKind.GUARD
    warmup: Duration | None = Field(
        default=None,
        description="failures in a step's first <warmup> only hold the step (default: "
        f"{GATE_WARMUP} for gates, 0s for guards)",
    )
    window: Duration = Field(
        default="5m",
        description="longest range substituted for $window; $window is the age of the step "
        f"(a metric using it is measured once the step is {MIN_WINDOW} old), so a step is "
        "judged on its own data",
    )
    phases: list[Phase] = Field(
        default_factory=lambda: [Phase.CANARY, Phase.PARALLEL, Phase.CUTOVER, Phase.PRODUCTION],
        description="phases in which this metric is measured and gates promotion",
    )

    @property
    def warmup_period(self) -> timedelta:
        """The warm-up in force (the kind's default when unset)."""
        default = GATE_WARMUP if self.kind is MetricKind.GATE else "0s"
        return parse_duration(self.warmup or default)


class Analysis(CamelModel):
    prometheus: Prometheus = Field(default_factory=Prometheus)
    interval: Duration = "30s"
    selector: str = Field(
        default="", description="label matchers substituted for $selector in queries"
    )
    metrics: list[Metric] = Field(
        default_factory=lambda: [Metric.model_validate(m) for m in DEFAULT_METRICS]
    )
    alert_names: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALERT_NAMES),
        description="Alertmanager alerts that act at once when they fire for this rollout",
    )
    alert_action: BreachAction = BreachAction.ROLLBACK


class RollbackPolicy(CamelModel):
    auto: bool = Field(default=True, description="false: a rollback verdict only pauses")
    scale_down_delay: Duration = Field(
        default="30s", description="keep hybrid pods this long after a rollback"
    )


class RolloutSpec(CamelModel):
    """``spec`` of a HybridStreamRollout."""

    workload: Workload
    steps: Steps = Field(default_factory=Steps)
    analysis: Analysis = Field(default_factory=Analysis)
    rollback: RollbackPolicy = Field(default_factory=RollbackPolicy)
