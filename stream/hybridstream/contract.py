"""The contract between the operator and the stream pods, typed once and imported by both
(docs/CONTRACTS.md): the enums a spec and a pod's settings share, the environment the
operator sets on every stream pod, the labels, annotations and ConfigMap key they meet on,
and the scope labels every metric series carries. Pure constants: no I/O."""

from __future__ import annotations

from enum import StrEnum

API_GROUP = "hybridstream.io"


class Network(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    DEMO = "demo"


class SinkKind(StrEnum):
    JSONL = "jsonl"
    WEBHOOK = "webhook"
    REDIS = "redis"
    POSTGRES = "postgres"


class Env(StrEnum):
    """Every environment variable the operator sets on a stream pod (the pod reads them
    as settings; a user's ``workload.env`` may not override them)."""

    MODE = "HYBRID_MODE"
    API_KEY = "BYBIT_API_KEY"
    API_SECRET = "BYBIT_API_SECRET"
    NETWORK = "BYBIT_NETWORK"
    SINK = "HYBRID_SINK"
    SINK_URL = "HYBRID_SINK_URL"
    ROUTING_CONFIGMAP = "HYBRID_ROUTING_CONFIGMAP"
    ROLLOUT = "HYBRID_ROLLOUT"
    REVISION = "HYBRID_REVISION"
    POD_NAME = "POD_NAME"
    POD_NAMESPACE = "POD_NAMESPACE"
    HTTP_PORT = "HYBRID_HTTP_PORT"
    STATUS_TOKEN = "HYBRID_STATUS_TOKEN"
    SPILL_DIR = "HYBRID_SPILL_DIR"
    SPILL_MAX_BYTES = "HYBRID_SPILL_MAX_BYTES"
    DRAIN_TIMEOUT = "HYBRID_DRAIN_TIMEOUT"


#: Labels on everything a rollout owns; the stream pods are selected by them.
ROLLOUT_LABEL = f"{API_GROUP}/rollout"
ROLE_LABEL = f"{API_GROUP}/role"
REVISION_LABEL = f"{API_GROUP}/revision"
#: The revision number of the legacy REST poller (hybrid revisions count from 1).
LEGACY_REVISION = 0
#: Pod annotation in which a stream pod acknowledges the routing generation it applied.
ACK_ANNOTATION = f"{API_GROUP}/routing-ack"
#: Key of the routing document inside the routing ConfigMap's ``data``.
CONFIGMAP_KEY = "routing.json"
#: Labels a stream pod adds to every metric series it exports, whatever the scrape
#: configuration: the operator scopes its default analysis to a rollout's pods by them.
SCOPE_ROLLOUT, SCOPE_NAMESPACE, SCOPE_POD, SCOPE_REVISION = (
    "hybridstream_rollout", "hybridstream_namespace", "hybridstream_pod",
    "hybridstream_revision")
