"""Subscribe acks on the public socket: duplicates are success, failures are counted and
cooled down, never fatal (pybit dies on them: PR #373)."""

from __future__ import annotations

import io

from hybridstream.hybrid.book import HybridBook
from hybridstream.hybrid.frames import CommandAck
from hybridstream.routing import Role
from hybridstream.service.metrics import StreamMetrics
from hybridstream.service.outbox import Outbox
from hybridstream.service.pipeline import Pipeline
from hybridstream.service.public_client import PublicClient
from hybridstream.service.rest import Credentials
from hybridstream.service.sinks import JsonLinesSink
from hybridstream.service.sockets import ClientConfig, SocketPolicy


def build_client() -> PublicClient:
    pipeline = Pipeline(Role.HYBRID, StreamMetrics(), Outbox(10), JsonLinesSink(io.StringIO()))
    config = ClientConfig("ws://x/private", "ws://x/public", Credentials("k", "s"),
                          SocketPolicy())
    return PublicClient(HybridBook(), pipeline, config)


def test_duplicate_ack_keeps_the_subscription() -> None:
    client = build_client()
    client.active.update({"BTCUSDT"})
    client._pending["public-1"] = ["BTCUSDT"]
    client._on_frame(CommandAck("subscribe", False,
                                "error:already subscribed,topic:tickers.BTCUSDT", "public-1"), 0)
    assert client.active == {"BTCUSDT"} and client.stats["duplicate_acks"] == 1
    assert client.pipeline.metrics.registry.get_sample_value(
        "hybridstream_subscription_failures_total") == 0


def test_rejected_subscription_is_counted_and_cooled_down() -> None:
    client = build_client()
    client.active.update({"BTCUSDT", "NOPEUSDT"})
    client._pending["public-2"] = ["NOPEUSDT"]
    client._on_frame(CommandAck("subscribe", False,
                                "error:handler not found,topic:tickers.NOPEUSDT", "public-2"), 0)
    assert client.active == {"BTCUSDT"} and "NOPEUSDT" in client._cooling
    metrics = client.pipeline.metrics.registry
    assert metrics.get_sample_value("hybridstream_subscription_failures_total") == 1
    assert metrics.get_sample_value("hybridstream_errors_total",
                                    {"category": "subscription"}) == 1
