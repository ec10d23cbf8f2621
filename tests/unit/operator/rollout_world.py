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


def healthy(n: int = 1) -> DeploymentState:
    return DeploymentState(exists=True, desired=n, ready=n, available=n)


@dataclass
class World:
    """Pods that apply every published document at once (``frozen`` stops a side from
    applying; ``down`` takes every pod of a side away: none Ready, nothing acked)."""

    spec: RolloutSpec
    status: RolloutStatus = field(default_factory=RolloutStatus)
    now: datetime = T0
    published: RoutingDocument | None = None
    legacy_applied: int = 0
    hybrid_applied: int = 0
    frozen: set[str] = field(default_factory=set)
    down: set[str] = field(default_factory=set)
    events: list[EmitEvent] = field(default_factory=list)
    published_docs: list[RoutingDocument] = field(default_factory=list)

    def observations(self, **extra: Any) -> Observations:
        legacy = (
            healthy(self.status.replicas.legacy)
            if self.status.replicas.legacy
            else DeploymentState(exists=True)
        )
        hybrid = (
            healthy(self.status.replicas.hybrid)
            if self.status.replicas.hybrid
            else DeploymentState(exists=True)
        )
        if "legacy" in self.frozen and self.status.replicas.legacy == 0:
            legacy = DeploymentState(exists=True)
        if "legacy" in self.down:
            legacy = DeploymentState(exists=True, desired=legacy.desired)
        if "hybrid" in self.down:
            hybrid = DeploymentState(exists=True, desired=hybrid.desired)
        obs = Observations(
            legacy=legacy if self.status.phase.value != "Pending" else healthy(),
            hybrid=hybrid if self.status.phase.value != "Pending" else healthy(),
            legacy_acks=Acks((self.legacy_applied,) * legacy.ready),
            hybrid_acks=Acks((self.hybrid_applied,) * hybrid.ready),
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
            if "legacy" not in self.frozen:
                self.legacy_applied = self.published.generation
            if "hybrid" not in self.frozen:
                self.hybrid_applied = self.published.generation
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
