"""The ``spec`` of a HybridStreamRollout: what to run, how to step, what to measure.

Defaults come from the seed rollout plan (canary 2 days, parallel 1 day, cutover 50 % then
100 % each watched for 4 hours); the default analysis lives in :mod:`.defaults`. CEL rules
in ``json_schema_extra`` are copied verbatim into the CRD by :mod:`..crdgen`, so the API
server rejects bad objects before the operator ever sees them.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from hybridstream_operator.models.base import (
    CamelModel,
    bounded_duration,
    parse_duration,
)
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
#: A rollout's name: a DNS-1035 label short enough for every child's name
#: (``<name>-routing``, ``<name>-hybrid-pods``...) and label value to stay within 63.
ROLLOUT_NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
ROLLOUT_NAME_MAX = 50
#: Environment the operator sets on every stream pod: a user's ``workload.env`` may not
#: override it (logic/builders.py sets exactly these; a unit test keeps them in step).
RESERVED_ENV = ("HYBRID_MODE", "BYBIT_API_KEY", "BYBIT_API_SECRET", "BYBIT_NETWORK",
                "HYBRID_SINK", "HYBRID_SINK_URL", "HYBRID_ROUTING_CONFIGMAP", "HYBRID_ROLLOUT",
                "HYBRID_REVISION",
                "POD_NAME", "POD_NAMESPACE", "HYBRID_HTTP_PORT", "HYBRID_STATUS_TOKEN",
                "HYBRID_SPILL_DIR", "HYBRID_SPILL_MAX_BYTES", "HYBRID_DRAIN_TIMEOUT")
#: A Kubernetes resource quantity (``50m``, ``64Mi``, ``1.5``).
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
MAX_METRICS, MAX_ENV, MAX_ALERT_NAMES = 40, 50, 20

StepDuration = bounded_duration("0s")
DeadlineDuration = bounded_duration("30s", "24h")
IntervalDuration = bounded_duration("1s", "1h")
TimeoutDuration = bounded_duration("100ms", "60s")
WindowDuration = bounded_duration("30s", "24h")
DelayDuration = bounded_duration("0s", "24h")
CoverageDuration = bounded_duration("1s", "10m")


def _map_list(key: str) -> dict[str, object]:
    """A list whose items are unique by ``key``: the API server rejects duplicates (and
    server-side apply merges by it)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key]}


class Network(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    DEMO = "demo"


class SinkType(StrEnum):
    JSONL = "jsonl"
    WEBHOOK = "webhook"
    REDIS = "redis"
    POSTGRES = "postgres"


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


class SecretKeyRef(CamelModel):
    """One key of a Secret in the rollout's namespace."""

    name: Annotated[str, Field(pattern=K8S_NAME_PATTERN, max_length=253)]
    key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)]


class Sink(CamelModel):
    model_config = CamelModel.model_config | {"json_schema_extra": {
        "x-kubernetes-validations": [
            {"rule": "!has(self.type) || self.type == 'jsonl' || has(self.urlSecret) || "
                     "(has(self.url) && size(self.url) > 0)",
             "message": "sink.url or sink.urlSecret is required for webhook and redis sinks"},
            {"rule": "!(has(self.url) && has(self.urlSecret))",
             "message": "sink.url and sink.urlSecret are exclusive"},
            {"rule": "!has(self.type) || self.type != 'postgres' || has(self.urlSecret)",
             "message": "the postgres sink takes its URL from sink.urlSecret only"}]}}

    type: SinkType = SinkType.JSONL
    url: Annotated[str, Field(max_length=2048)] | None = Field(
        default=None, description="webhook or redis URL (visible in the spec: use urlSecret "
        "when it carries a password; postgres takes urlSecret only)")
    url_secret: SecretKeyRef | None = Field(
        default=None, description="the URL from a Secret key, passed to the pods by reference")

    @model_validator(mode="after")
    def _url_when_needed(self) -> Sink:
        # Same rules as the CEL above, for objects validated outside the API server.
        if self.type is not SinkType.JSONL and not (self.url or self.url_secret):
            raise ValueError("sink.url or sink.urlSecret is required for webhook and redis "
                             "sinks")
        if self.url and self.url_secret:
            raise ValueError("sink.url and sink.urlSecret are exclusive")
        if self.type is SinkType.POSTGRES and not self.url_secret:
            # a database URL carries a password: never in the CR, only by reference
            raise ValueError("the postgres sink takes its URL from sink.urlSecret only")
        return self


class Replicas(CamelModel):
    """Two per side by default: one pod lost (a node drain, a crash) never leaves a side's
    buckets without a forwarder (each side also gets a PodDisruptionBudget)."""

    legacy: Annotated[int, Field(ge=1, le=50)] = 2
    hybrid: Annotated[int, Field(ge=1, le=50)] = 2


class EnvVar(CamelModel):
    model_config = CamelModel.model_config | {"json_schema_extra": {
        "x-kubernetes-validations": [{
            "rule": f"!(self.name in {list(RESERVED_ENV)})",
            "messageExpression": "'env ' + self.name + ' is set by the operator'"}]}}

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]
    value: Annotated[str, Field(max_length=4096)]

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_ENV:
            raise ValueError(f"env {name} is set by the operator")
        return name


Quantities = Annotated[
    dict[str, Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=32)]],
    Field(max_length=4, json_schema_extra={"maxProperties": 4}),
]


class Resources(CamelModel):
    requests: Quantities = Field(default_factory=lambda: {"cpu": "50m", "memory": "64Mi"})
    limits: Quantities = Field(default_factory=lambda: {"memory": "256Mi"})


class NetworkPolicy(CamelModel):
    """Who may reach the stream pods (they only dial out: the exchange, the API server)."""

    enabled: bool = Field(default=True, description="a NetworkPolicy per rollout")
    from_namespaces: Annotated[
        list[Annotated[str, Field(pattern=K8S_NAME_PATTERN, max_length=63)]],
        Field(max_length=20)] = Field(
        default_factory=list,
        description="namespaces (besides the rollout's own) allowed to reach the metrics/status "
        "port, e.g. where Prometheus runs")


class Workload(CamelModel):
    """The stream pods: one image, run as ``rest`` (legacy) and as the hybrid stream."""

    image: Annotated[str, Field(min_length=1, max_length=512)]
    image_pull_policy: str = "IfNotPresent"
    network: Network = Network.MAINNET
    credentials_secret: SecretRef
    sink: Sink = Field(default_factory=Sink)
    replicas: Replicas = Field(default_factory=Replicas)
    resources: Resources = Field(default_factory=Resources)
    env: Annotated[list[EnvVar], Field(max_length=MAX_ENV, json_schema_extra=_map_list("name"))] \
        = Field(default_factory=list, description="extra environment (names unique, not "
                "one the operator sets)")
    metrics_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    status_token_secret: SecretKeyRef | None = Field(
        default=None, description="a bearer token the pods' /api/hybrid/* status endpoints "
        "require (they show positions and PnL); metrics and probes stay open")
    network_policy: NetworkPolicy = Field(default_factory=NetworkPolicy)

    @field_validator("env")
    @classmethod
    def _unique_env(cls, env: list[EnvVar]) -> list[EnvVar]:
        # The list-map key above, for objects validated outside the API server.
        if len({e.name for e in env}) != len(env):
            raise ValueError("env names must be unique")
        return env


class Pause(CamelModel):
    """How long a cutover step is watched; no duration means: wait for ``promote``."""

    duration: StepDuration | None = None


class CutoverStep(CamelModel):
    percent: Annotated[int, Field(ge=1, le=100)]
    pause: Pause | None = Field(
        default=None, description="absent: promote as soon as analysis passes"
    )


class Timed(CamelModel):
    duration: StepDuration


def _default_cutover() -> list[CutoverStep]:
    return [
        CutoverStep(percent=50, pause=Pause(duration="4h")),
        CutoverStep(percent=100, pause=Pause(duration="4h")),
    ]


class Steps(CamelModel):
    progress_deadline: DeadlineDuration = Field(
        default="10m",
        description="a step whose routing is not in force (pods not ready or not acking) "
        "this long after it began rolls back",
    )
    coverage_deadline: CoverageDuration = Field(
        default="20s",
        description="buckets that only one side forwards and that side has no Ready, acked "
        "pod this long: a dead hybrid rolls back, a dead legacy's buckets go to hybrid until "
        "it recovers (well under the 60 s no-events warning)",
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


class BasicAuth(CamelModel):
    username: SecretKeyRef
    password: SecretKeyRef


# The authority part of a URL holding "user:pass@": credentials belong in a Secret.
_USERINFO = r"^https?://[^/?#]*@"


class Prometheus(CamelModel):
    model_config = CamelModel.model_config | {"json_schema_extra": {
        "x-kubernetes-validations": [
            {"rule": f"!has(self.address) || !self.address.matches('{_USERINFO}')",
             "message": "prometheus.address must not carry credentials: use "
                        "prometheus.basicAuth or prometheus.bearerTokenSecret"},
            {"rule": "!(has(self.basicAuth) && has(self.bearerTokenSecret))",
             "message": "prometheus.basicAuth and prometheus.bearerTokenSecret are exclusive"}]}}

    address: Annotated[str, Field(pattern=r"^https?://", max_length=2048)] = \
        "http://prometheus:9090"
    timeout: TimeoutDuration = Field(default="5s", description="per query; below the interval")
    basic_auth: BasicAuth | None = Field(
        default=None, description="username and password from Secret keys in the rollout's "
        "namespace (the operator reads them: list the Secret in the chart's "
        "rbac.prometheusSecretNames)")
    bearer_token_secret: SecretKeyRef | None = Field(
        default=None, description="an Authorization: Bearer token from a Secret key (same "
        "rules as basicAuth)")

    @model_validator(mode="after")
    def _credentials_by_reference(self) -> Prometheus:
        # Same rules as the CEL above, for objects validated outside the API server.
        if re.match(_USERINFO, self.address):
            raise ValueError("prometheus.address must not carry credentials: use "
                             "prometheus.basicAuth or prometheus.bearerTokenSecret")
        if self.basic_auth and self.bearer_token_secret:
            raise ValueError("prometheus.basicAuth and prometheus.bearerTokenSecret are "
                             "exclusive")
        return self


class Metric(CamelModel):
    """One PromQL measurement with its pass condition, limits and reaction."""

    name: Annotated[str, Field(pattern=K8S_NAME_PATTERN, max_length=63)]
    query: Annotated[str, Field(min_length=1, max_length=4096)]
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
    warmup: DelayDuration | None = Field(
        default=None,
        description="failures in a step's first <warmup> only hold the step (default: "
        f"{GATE_WARMUP} for gates, 0s for guards)",
    )
    window: WindowDuration = Field(
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
    model_config = CamelModel.model_config | {"json_schema_extra": {
        "x-kubernetes-validations": [{
            "rule": "duration(has(self.prometheus) && has(self.prometheus.timeout) ? "
                    "self.prometheus.timeout : '5s') < "
                    "duration(has(self.interval) ? self.interval : '30s')",
            "message": "prometheus.timeout must be shorter than the analysis interval"}]}}

    prometheus: Prometheus = Field(default_factory=Prometheus)
    interval: IntervalDuration = "30s"
    selector: str = Field(
        default="", max_length=1024,
        description="label matchers added to this rollout's scope in $selector",
    )
    metrics: Annotated[list[Metric], Field(max_length=MAX_METRICS,
                                           json_schema_extra=_map_list("name"))] = Field(
        default_factory=lambda: [Metric.model_validate(m) for m in DEFAULT_METRICS],
        description="metric names are unique",
    )
    alert_names: Annotated[list[Annotated[str, Field(max_length=253)]],
                           Field(max_length=MAX_ALERT_NAMES)] = Field(
        default_factory=lambda: list(DEFAULT_ALERT_NAMES),
        description="Alertmanager alerts that act at once when they fire for this rollout",
    )
    alert_action: BreachAction = BreachAction.ROLLBACK

    @model_validator(mode="after")
    def _consistent(self) -> Analysis:
        # Same rules as the CEL and list-map keys above, outside the API server.
        if parse_duration(self.prometheus.timeout) >= parse_duration(self.interval):
            raise ValueError("prometheus.timeout must be shorter than the analysis interval")
        names = [m.name for m in self.metrics]
        if len(names) != len(set(names)):
            raise ValueError("metric names must be unique")
        return self


class RollbackPolicy(CamelModel):
    auto: bool = Field(default=True, description="false: a rollback verdict only pauses")
    scale_down_delay: DelayDuration = Field(
        default="30s", description="keep hybrid pods this long after a rollback"
    )


class RolloutSpec(CamelModel):
    """``spec`` of a HybridStreamRollout."""

    workload: Workload
    steps: Steps = Field(default_factory=Steps)
    analysis: Analysis = Field(default_factory=Analysis)
    rollback: RollbackPolicy = Field(default_factory=RollbackPolicy)
