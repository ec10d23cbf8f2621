"""Operator process settings from the environment (the webhook token comes from a Secret
mounted as an env var and is never logged)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HYBRIDSTREAM_OPERATOR_")

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    webhook_token: SecretStr | None = Field(
        default=None, description="bearer token for the Alertmanager and emergency endpoints")
    peering_lifetime: int = Field(
        default=60, ge=5,
        description="seconds a replica's peering record lives without keep-alive: how long a "
        "crashed replica keeps lower-priority replicas paused")
    stream_ack_role: str = Field(
        default="hybridstream-stream-ack",
        description="the chart's ClusterRole letting a stream pod write its own routing ack "
        "(bound per rollout; its ValidatingAdmissionPolicy allows nothing else)")
    reconcile_interval: float = Field(
        default=30.0, gt=0,
        description="the longest wait between two passes of one rollout (a safety resync): "
        "its timers, watched changes, intents and alerts run a pass sooner")
    prometheus_concurrency: int = Field(
        default=16, ge=1,
        description="analysis passes querying Prometheus at once, across all rollouts")
