"""A pure, in-memory stand-in for the cluster *state* (not for Kubernetes' API): which
routing document each side's pods applied and whether the Deployments are healthy. Unit
tests drive ``decide`` through it; the integration tests do the same against a real
control plane."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hybridstream.routing import RoutingDocument
from hybridstream_operator.logic.phase_machine import Decision, decide
from hybridstream_operator.logic.revisions import observed_sides
from hybridstream_operator.models.actions import EmitEvent, PublishRouting
from hybridstream_operator.models.observations import (
    Acks,
    AlertSignal,
    DeploymentState,
    Intent,
    Observations,
    Sample,
)
from hybridstream_operator.models.spec import RolloutSpec
from hybridstream_operator.models.status import RolloutStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_spec(**overrides: Any) -> RolloutSpec:
    """A spec with second-scale steps and one simple metric."""
    body: dict[str, Any] = {
        "workload": {"image": "hybridstream:test", "credentialsSecret": {"name": "creds"},
                     "replicas": {"legacy": 1, "hybrid": 1}},
        "steps": {
            "canary": {"duration": "10s"},
            "parallel": {"duration": "10s"},
            "cutover": [
                {"percent": 50, "pause": {"duration": "10s"}},
                {"percent": 100, "pause": {"duration": "10s"}},
            ],
            "production": {"duration": "10s"},
        },
        "analysis": {
            "interval": "1s",
            "prometheus": {"timeout": "500ms"},
            "metrics": [
                {
                    "name": "lag",
                    "query": "max(lag)",
                    "condition": "result < 5",
                    "action": "rollback",
                }
            ],
        },
    }
    for key, value in overrides.items():
        body[key] = {**body.get(key, {}), **value}
    return RolloutSpec.model_validate(body)


ROLLOUT = "pos"  # the rollout's name


def healthy(n: int = 1) -> DeploymentState:
    return DeploymentState(exists=True, desired=n, ready=n, available=n)


@dataclass
class World:
    """Pods that apply every published document at once, per revision (``frozen`` stops a
    side's pods from applying; ``down`` takes every pod of a side away: none Ready, nothing
    acked). Sides are ``legacy`` (the stable revision's pods) and ``hybrid`` (the
    candidate's); assign ``spec`` to change the rollout's spec between passes."""

    spec: RolloutSpec
    status: RolloutStatus = field(default_factory=RolloutStatus)
    now: datetime = T0
    published: RoutingDocument | None = None
    applied: dict[int, int] = field(default_factory=dict)  # revision -> generation
    frozen: set[str] = field(default_factory=set)
    down: set[str] = field(default_factory=set)
    events: list[EmitEvent] = field(default_factory=list)
    published_docs: list[RoutingDocument] = field(default_factory=list)

    @property
    def legacy_applied(self) -> int:
        return self.applied.get(observed_sides(self.status)[0], 0)

    @property
    def hybrid_applied(self) -> int:
        candidate = observed_sides(self.status)[1]
        return 0 if candidate is None else self.applied.get(candidate, 0)

    def side_state(self, side: str, replicas: int) -> DeploymentState:
        if self.status.phase.value == "Pending":  # no replica counts in status yet
            return DeploymentState(exists=True) if side in self.down else healthy()
        state = healthy(replicas) if replicas else DeploymentState(exists=True)
        if side in self.down:
            state = DeploymentState(exists=True, desired=state.desired)
        return state

    def observations(self, **extra: Any) -> Observations:
        stable, candidate = observed_sides(self.status)
        legacy = self.side_state("legacy", self.status.replicas.stable)
        hybrid = (self.side_state("hybrid", self.status.replicas.candidate)
                  if candidate is not None else DeploymentState())
        obs = Observations(
            rollout=ROLLOUT,
            legacy=legacy,
            hybrid=hybrid,
            legacy_acks=Acks((self.applied.get(stable, 0),) * legacy.ready),
            hybrid_acks=Acks((self.applied.get(candidate, 0),) * hybrid.ready
                             if candidate is not None else ()),
            published=self.published,
        )
        return replace(obs, **extra)

    def step(
        self,
        seconds: float = 1.0,
        *,
        samples: tuple[Sample, ...] | None = None,
        intent: Intent | None = None,
        alerts: tuple[AlertSignal, ...] = (),
    ) -> Decision:
        decision = decide(
            self.spec,
            self.status,
            self.observations(samples=samples, intent=intent, alerts=alerts),
            self.now,
        )
        for action in decision.actions:
            if isinstance(action, PublishRouting):
                self.published = action.document
                self.published_docs.append(action.document)
            else:
                self.events.append(action)
        self.status = decision.status
        if self.published is not None:
            stable, candidate = observed_sides(self.status)
            for record in self.status.revisions:
                side = ("legacy" if record.number == stable
                        else "hybrid" if record.number == candidate else None)
                if side not in self.frozen:
                    self.applied[record.number] = self.published.generation
        self.now += timedelta(seconds=seconds)
        return decision

    def run_until(self, predicate: Any, *, limit: int = 500, value: float = 1.0,
                  metric: str = "lag") -> None:
        for _ in range(limit):
            if predicate(self.status):
                return
            self.step(samples=(Sample(metric, value),))
        raise AssertionError(
            f"not reached in {limit} passes: {self.status.phase} {self.status.message}"
        )
