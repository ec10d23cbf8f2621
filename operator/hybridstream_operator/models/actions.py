"""What a decision asks the I/O layer to do. Replica counts are not actions: they live in
``status.replicas`` and the Deployments are converged to them on every pass."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hybridstream.routing import RoutingDocument


@dataclass(frozen=True)
class PublishRouting:
    """Write the routing ConfigMap (the generation is already incremented)."""

    document: RoutingDocument


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class EmitEvent:
    type: EventType
    reason: str
    message: str


Action = PublishRouting | EmitEvent
