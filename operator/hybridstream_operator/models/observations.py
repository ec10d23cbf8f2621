"""What one reconcile pass saw, gathered into one typed object before deciding
(argo-rollouts' ``rolloutContext``): Deployments, routing acks, the published routing
document, Prometheus samples, a pending manual intent and the firing alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from hybridstream.routing import RoutingDocument


@dataclass(frozen=True)
class DeploymentState:
    """A Deployment's replica counts (all zero when it does not exist yet)."""

    exists: bool = False
    desired: int = 0
    ready: int = 0
    available: int = 0

    @property
    def healthy(self) -> bool:
        """At least one pod available and every desired pod ready."""
        return self.available >= 1 and self.ready >= self.desired


@dataclass(frozen=True)
class Acks:
    """Routing generations acknowledged by the Ready, non-terminating pods of one role
    (``-1`` for a pod that has not acknowledged anything)."""

    generations: tuple[int, ...] = ()

    def all_at_least(self, generation: int) -> bool:
        """Whether there is at least one pod and every pod applied ``generation``."""
        return bool(self.generations) and min(self.generations) >= generation


@dataclass(frozen=True)
class Sample:
    """Result of one instant query: a value, no data (``value is None``) or an error."""

    metric: str
    value: float | None = None
    error: str | None = None


class IntentKind(StrEnum):
    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"
    RETRY = "retry"


@dataclass(frozen=True)
class Intent:
    """A manual request from the ``hybridstream.io/intent`` annotation; ``id`` makes it
    apply exactly once."""

    kind: IntentKind
    id: str
    reason: str = ""


@dataclass(frozen=True)
class AlertSignal:
    """A firing Alertmanager alert (or the emergency endpoint) recorded on the object."""

    name: str
    id: str
    message: str = ""
    #: when it started firing (Alertmanager's ``startsAt``); None when not given
    started_at: datetime | None = None


@dataclass(frozen=True)
class Observations:
    """``legacy``/``hybrid`` are the routing's two sides: the stable revision's Deployment
    and acks, and the candidate's (empty when none walks)."""

    #: the rollout's name: the routing document names its stable Service
    rollout: str
    legacy: DeploymentState = field(default_factory=DeploymentState)
    hybrid: DeploymentState = field(default_factory=DeploymentState)
    legacy_acks: Acks = field(default_factory=Acks)
    hybrid_acks: Acks = field(default_factory=Acks)
    published: RoutingDocument | None = None
    samples: tuple[Sample, ...] | None = None  # None: analysis not due in this pass
    intent: Intent | None = None
    alerts: tuple[AlertSignal, ...] = ()  # recorded firing alerts, handled or not
    #: every Deployment of the rollout: name -> (revision label, desired replicas)
    deployments: Mapping[str, tuple[int | None, int]] = field(default_factory=dict)
