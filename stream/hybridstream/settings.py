"""Configuration of a stream process, read from the environment (names in CONTRACTS.md).

Credentials are ``SecretStr`` so that printing, logging or serialising the settings never
reveals them; only the signing code calls ``get_secret_value()``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hybridstream.routing import Mode


class Network(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    DEMO = "demo"


class SinkKind(StrEnum):
    JSONL = "jsonl"
    WEBHOOK = "webhook"
    REDIS = "redis"
    POSTGRES = "postgres"


#: (REST, public WS base, private WS) per network. Demo trading has no public stream of its
#: own: Bybit's docs point demo users at the mainnet public stream.
NETWORK_URLS = {
    Network.MAINNET: ("https://api.bybit.com", "wss://stream.bybit.com/v5/public",
                      "wss://stream.bybit.com/v5/private"),
    Network.TESTNET: ("https://api-testnet.bybit.com", "wss://stream-testnet.bybit.com/v5/public",
                      "wss://stream-testnet.bybit.com/v5/private"),
    Network.DEMO: ("https://api-demo.bybit.com", "wss://stream.bybit.com/v5/public",
                   "wss://stream-demo.bybit.com/v5/private"),
}


class StreamSettings(BaseSettings):
    """Every knob of ``hybridstream run``; unknown env vars are ignored."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    mode: Mode = Field(default=Mode.CANARY, validation_alias="HYBRID_MODE")
    api_key: SecretStr = Field(validation_alias="BYBIT_API_KEY")
    api_secret: SecretStr = Field(validation_alias="BYBIT_API_SECRET")
    network: Network = Field(default=Network.MAINNET, validation_alias="BYBIT_NETWORK")
    rest_url_override: str | None = Field(default=None, validation_alias="BYBIT_REST_URL")
    ws_public_url_override: str | None = Field(default=None,
                                               validation_alias="BYBIT_WS_PUBLIC_URL")
    ws_private_url_override: str | None = Field(default=None,
                                                validation_alias="BYBIT_WS_PRIVATE_URL")
    category: str = Field(default="linear", validation_alias="BYBIT_CATEGORY")
    settle_coin: str = Field(default="USDT", validation_alias="BYBIT_SETTLE_COIN")
    poll_interval: float = Field(default=5.0, gt=0, validation_alias="HYBRID_POLL_INTERVAL")
    fallback_after: float = Field(
        default=3.0, gt=0, validation_alias="HYBRID_FALLBACK_AFTER",
        description="seconds a socket may be down before its data is polled over REST")
    routing_configmap: str | None = Field(default=None,
                                          validation_alias="HYBRID_ROUTING_CONFIGMAP")
    routing_file: Path | None = Field(default=None, validation_alias="HYBRID_ROUTING_FILE")
    pod_name: str | None = Field(default=None, validation_alias="POD_NAME")
    pod_namespace: str | None = Field(default=None, validation_alias="POD_NAMESPACE")
    rollout: str | None = Field(default=None, validation_alias="HYBRID_ROLLOUT",
                                description="the HybridStreamRollout of this pod (metric scope)")
    revision: int | None = Field(default=None, ge=0, validation_alias="HYBRID_REVISION",
                                 description="the rollout revision this pod runs (0: the "
                                 "legacy poller); the routing document says its side")
    sink: SinkKind = Field(default=SinkKind.JSONL, validation_alias="HYBRID_SINK")
    sink_url: SecretStr | None = Field(
        default=None, validation_alias="HYBRID_SINK_URL",
        description="webhook, redis or postgres URL: may carry a password (from a Secret)")
    redis_stream: str = Field(default="hybridstream:events",
                              validation_alias="HYBRID_REDIS_STREAM")
    status_token: SecretStr | None = Field(
        default=None, validation_alias="HYBRID_STATUS_TOKEN",
        description="bearer token the /api/hybrid/* status endpoints require (positions, PnL)")
    http_host: str = Field(default="0.0.0.0", validation_alias="HYBRID_HTTP_HOST")
    http_port: int = Field(default=8080, ge=0, le=65535, validation_alias="HYBRID_HTTP_PORT")
    heartbeat_interval: float = Field(default=20.0, gt=0,
                                      validation_alias="HYBRID_HEARTBEAT_INTERVAL")
    pong_timeout: float = Field(default=10.0, gt=0, validation_alias="HYBRID_PONG_TIMEOUT")
    ticker_stale_after: float = Field(default=30.0, gt=0,
                                      validation_alias="HYBRID_TICKER_STALE_AFTER")
    backoff_base: float = Field(default=0.5, gt=0, validation_alias="HYBRID_BACKOFF_BASE")
    backoff_cap: float = Field(default=30.0, gt=0, validation_alias="HYBRID_BACKOFF_CAP")
    queue_size: int = Field(default=10_000, ge=1, validation_alias="HYBRID_QUEUE_SIZE",
                            description="events the outbox holds in memory before spilling")
    spill_dir: Path | None = Field(
        default=None, validation_alias="HYBRID_SPILL_DIR",
        description="where events wait on disk while the sink is down and at shutdown "
                    "(none: memory only, and what is left at shutdown is lost)")
    spill_max_bytes: int = Field(default=128 * 1024 * 1024, ge=4096,
                                 validation_alias="HYBRID_SPILL_MAX_BYTES")
    drain_timeout: float = Field(
        default=10.0, gt=0, validation_alias="HYBRID_DRAIN_TIMEOUT",
        description="seconds a shutdown delivers for before persisting what is left")
    sink_backoff_base: float = Field(default=0.2, gt=0,
                                     validation_alias="HYBRID_SINK_BACKOFF_BASE")
    sink_backoff_cap: float = Field(default=5.0, gt=0, validation_alias="HYBRID_SINK_BACKOFF_CAP")

    @property
    def rest_url(self) -> str:
        return (self.rest_url_override or NETWORK_URLS[self.network][0]).rstrip("/")

    @property
    def ws_public_url(self) -> str:
        return self.ws_public_url_override or f"{NETWORK_URLS[self.network][1]}/{self.category}"

    @property
    def ws_private_url(self) -> str:
        return self.ws_private_url_override or NETWORK_URLS[self.network][2]
