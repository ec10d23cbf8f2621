"""Modes against the simulator: the legacy REST poller (rate limits included), canary
(metrics, no forwarding), parallel (price comparison and divergence), live mode switches
from a routing file, and the HTTP surface with the exact metric names of CONTRACTS.md."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import aiohttp
from hybridstream.routing import RoutingDocument
from hybridstream.service.app import StreamService
from hybridstream.simulator.app import running_simulator

from tests.plugins.waiting import eventually

from .harness import KEY, assert_book_matches_truth, build_settings, running_stream

CONTRACT_METRICS = (
    "hybridstream_ws_connected", "hybridstream_ws_disconnected_seconds",
    "hybridstream_ws_reconnects_total", "hybridstream_events_total",
    "hybridstream_events_forwarded_total", "hybridstream_last_event_timestamp_seconds",
    "hybridstream_positions_open", "hybridstream_subscriptions_active",
    "hybridstream_subscription_failures_total", "hybridstream_tick_to_emit_seconds",
    "hybridstream_price_divergence_ratio", "hybridstream_price_comparisons_total",
    "hybridstream_routing_generation", "hybridstream_routing_range",
    "hybridstream_errors_total", "hybridstream_mode", "process_resident_memory_bytes",
    "hybridstream_tick_to_event_seconds",
)


def sample(service: StreamService, name: str, **labels: str) -> float:
    return service.metrics.registry.get_sample_value(name, labels) or 0.0


async def http_get(service: StreamService, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{service.http_port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


async def test_legacy_poller_follows_positions_through_rate_limits() -> None:
    async with running_simulator(symbols=4) as sim, \
            running_stream(build_settings(sim, HYBRID_MODE="rest")) as (service, buffer):
        await eventually(service.is_ready, "first poll")
        sim.control.open_position(KEY, "BTCUSDT", "Buy", "0.01")
        sim.control.rate_limit(count=4)
        await eventually(lambda: assert_book_matches_truth(service, sim), "book == truth")
        await eventually(lambda: sample(service, "hybridstream_errors_total",
                                        category="rate_limit") >= 4, "10006 counted")
        sim.control.close_position(KEY, "BTCUSDT")
        await eventually(lambda: any(e["type"] == "position.closed" for e in buffer.events()),
                         "close detected")
        events = buffer.events()
        assert {e["source"] for e in events} == {"rest"}
        closed = next(e for e in events if e["type"] == "position.closed")
        last_seq = max(e["seq"] for e in sim.control.journal_entries(KEY, "BTCUSDT"))
        assert closed["seq"] == last_seq  # the exchange's own seq of the close
        assert any(e["data"].get("markPrice") for e in events
                   if e["type"] == "position.update")


async def test_legacy_poller_honours_limit_headers_and_ip_403() -> None:
    # Per-UID limit of 3 position/list calls per second while we try 20 polls per second:
    # waiting for X-Bapi-Limit-Reset-Timestamp means Bybit never has to answer 10006.
    async with running_simulator(symbols=3, rest_limits={"/v5/position/list": 3}) as sim, \
            running_stream(build_settings(sim, HYBRID_MODE="rest",
                                          HYBRID_POLL_INTERVAL=0.05)) as (service, _):
        sim.control.open_position(KEY, "BTCUSDT", "Buy", "0.01")
        assert service.poller is not None
        await eventually(lambda: service.poller.stats["polls"] >= 12, "a dozen polls")
        assert sample(service, "hybridstream_errors_total", category="rate_limit") == 0
        await eventually(lambda: assert_book_matches_truth(service, sim), "book == truth")
    # The per-IP limit answers HTTP 403 (no envelope, no headers): back off and carry on.
    async with running_simulator(symbols=3, rest_ip_limit_per_5s=8) as sim, \
            running_stream(build_settings(sim, HYBRID_MODE="rest",
                                          HYBRID_POLL_INTERVAL=0.05)) as (service, _):
        sim.control.open_position(KEY, "ETHUSDT", "Buy", "0.1")
        await eventually(lambda: sample(service, "hybridstream_errors_total",
                                        category="rate_limit") >= 1, "403 seen")
        await eventually(lambda: assert_book_matches_truth(service, sim), "book == truth")
        polls = service.poller.stats["polls"]
        await eventually(lambda: service.poller.stats["polls"] > polls, "still polling")


async def test_canary_monitors_without_forwarding_and_serves_its_surface() -> None:
    async with running_simulator(symbols=4) as sim, \
            running_stream(build_settings(sim, HYBRID_MODE="canary")) as (service, buffer):
        await eventually(service.is_ready, "ready")
        sim.control.open_position(KEY, "ETHUSDT", "Buy", "0.1")
        await eventually(lambda: sample(service, "hybridstream_events_total", type="ticker",
                                        source="hybrid") > 5, "tickers counted")
        # latency is known before hybrid forwards anything (it gates Canary and Parallel)
        await eventually(lambda: sample(service, "hybridstream_tick_to_event_seconds_count",
                                        source="hybrid") > 0, "tick-to-event observed")
        assert buffer.events() == []  # monitor only
        assert sample(service, "hybridstream_tick_to_emit_seconds_count", source="hybrid") == 0
        assert sample(service, "hybridstream_mode", mode="canary", role="hybrid") == 1
        assert sample(service, "hybridstream_subscriptions_active") == 1
        assert sample(service, "hybridstream_positions_open") == 1
        code, text = await http_get(service, "/metrics")
        assert code == 200
        for name in CONTRACT_METRICS:
            assert f"# TYPE {name} " in text, name
        for path in ("/healthz", "/readyz", "/api/hybrid/status", "/api/hybrid/subscriptions",
                     "/api/hybrid/metrics"):
            code, body = await http_get(service, path)
            assert code == 200, (path, body)
        subs = json.loads((await http_get(service, "/api/hybrid/subscriptions"))[1])
        assert subs == {"count": 1, "topics": ["tickers.ETHUSDT"]}


async def test_readyz_is_503_until_authenticated_and_seeded() -> None:
    """Kubernetes must not count a pod that cannot authenticate as available: /readyz
    answers 503 (while /healthz stays 200, so it is not restarted in a loop) until the
    private socket is authenticated and positions are seeded."""
    async with running_simulator(symbols=3) as sim:
        sim.control.reject_auth(100_000)
        async with running_stream(build_settings(sim)) as (service, _):
            await eventually(lambda: sample(service, "hybridstream_errors_total",
                                            category="auth") >= 1, "an auth rejection")
            code, body = await http_get(service, "/readyz")
            assert (code, json.loads(body)) == (503, {"ready": False})
            assert (await http_get(service, "/healthz"))[0] == 200
            sim.control.clear_faults()
            await eventually(service.is_ready, "ready once auth is accepted")
            code, body = await http_get(service, "/readyz")
            assert (code, json.loads(body)) == (200, {"ready": True})


async def test_parallel_compares_prices_and_flags_divergence() -> None:
    """Stand-alone (no routing document names a stable revision): REST's prices are the
    reference, and each comparison says so (test_parallel_against_stable.py: stable's)."""
    async with running_simulator(symbols=4) as sim, \
            running_stream(build_settings(sim, HYBRID_MODE="parallel")) as (service, buffer):
        await eventually(service.is_ready, "ready")
        sim.control.open_position(KEY, "SOLUSDT", "Buy", "1")
        sim.control.set_price("SOLUSDT", str(sim.market.mark_price("SOLUSDT")))  # frozen
        await eventually(lambda: sample(service, "hybridstream_price_comparisons_total",
                                        result="agree", against="rest") >= 2,
                         "agreeing comparisons")
        assert sample(service, "hybridstream_price_reference_fallbacks_total",
                      reason="unrouted") >= 2
        # Stall SOL's ticker pushes, then move the market 5 %: REST sees it, WS cannot.
        sim.control.stall(["SOLUSDT"])
        sim.control.set_price("SOLUSDT", str(sim.market.mark_price("SOLUSDT")
                                             * Decimal("1.05")))
        await eventually(lambda: sample(service, "hybridstream_price_comparisons_total",
                                        result="critical", against="rest") >= 1,
                         "critical divergence")
        assert sample(service, "hybridstream_price_divergence_ratio", symbol="SOLUSDT") > 0.01
        assert buffer.events() == []  # parallel never forwards
        # a closed position's last ratio is not exported for ever (it would hold the rollout)
        sim.control.close_position(KEY, "SOLUSDT")
        await eventually(lambda: "hybridstream_price_divergence_ratio{" not in
                         service.metrics.exposition().decode(), "divergence series removed")


async def test_every_series_carries_the_pods_scope() -> None:
    """The operator scopes its default analysis by labels the pod exports itself, so it
    works whatever the scrape configuration."""
    async with running_simulator(symbols=2) as sim, running_stream(build_settings(
            sim, HYBRID_ROLLOUT="pos", POD_NAMESPACE="trading")) as (service, _):
        code, text = await http_get(service, "/metrics")
    assert code == 200
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    scope = 'hybridstream_namespace="trading",hybridstream_rollout="pos"'
    assert series and all(scope in line for line in series), \
        [line for line in series if scope not in line][:3]


async def test_mode_switches_live_from_the_routing_file(tmp_path: Path) -> None:
    routing = tmp_path / "routing.json"
    routing.write_text(RoutingDocument(generation=3, hybridMode="canary").to_json())
    async with running_simulator(symbols=4) as sim, running_stream(build_settings(
            sim, HYBRID_MODE="canary", HYBRID_ROUTING_FILE=str(routing))) as (service, buffer):
        await eventually(lambda: service.pipeline.doc.generation == 3, "generation 3")
        sim.control.open_position(KEY, "BTCUSDT", "Buy", "0.01")
        await eventually(service.is_ready, "ready")
        routing.write_text(RoutingDocument(generation=4, hybridMode="production",
                                           hybridHigh=100).to_json())
        await eventually(lambda: service.hybrid.mode.value == "production", "production")
        await eventually(lambda: any(e["type"] == "position.update" for e in buffer.events()),
                         "forwarding after the switch")
        assert sample(service, "hybridstream_routing_generation") == 4
        assert sample(service, "hybridstream_routing_range", bound="high") == 100
        status = json.loads((await http_get(service, "/api/hybrid/status"))[1])
        assert status["routing"]["generation"] == 4 and status["mode"] == "production"
        assert 0 <= status["lastEventAgeSeconds"]["hybrid"] < 30, status["lastEventAgeSeconds"]


async def test_status_api_can_require_a_token() -> None:
    """Positions, sizes and PnL are not for anyone on the network: with HYBRID_STATUS_TOKEN
    the /api/hybrid/* endpoints need it; Prometheus and the kubelet's probes need none."""
    async with running_simulator(symbols=2) as sim, running_stream(build_settings(
            sim, HYBRID_STATUS_TOKEN="s3cret\n")) as (service, _):
        url = f"http://127.0.0.1:{service.http_port}"
        async with aiohttp.ClientSession() as session:
            for path in ("/api/hybrid/status", "/api/hybrid/subscriptions", "/api/hybrid/metrics"):
                async with session.get(url + path) as resp:
                    assert resp.status == 401, path
                async with session.get(url + path,
                                       headers={"Authorization": "Bearer wrong"}) as resp:
                    assert resp.status == 401, path
                async with session.get(url + path,
                                       headers={"Authorization": "Bearer s3cret"}) as resp:
                    assert resp.status == 200, path
            for path in ("/metrics", "/healthz"):
                async with session.get(url + path) as resp:
                    assert resp.status == 200, path


async def test_a_process_takes_the_side_its_revision_is_given(tmp_path: Path) -> None:
    """Revisions (docs/CONTRACTS.md): a hybrid process of revision 2 forwards as the
    candidate (only what the document routes to it, named symbols included), as the stable
    revision (its range, in production mode), or nothing when the document names neither."""
    routing = tmp_path / "routing.json"

    def route(generation: int, **fields: object) -> None:
        routing.write_text(RoutingDocument(generation=generation, **fields).to_json())

    def forwarded(symbol: str) -> int:
        return sum(1 for e in buffer.events() if e.get("symbol") == symbol
                   and e["type"].startswith("position."))

    route(1, hybridMode="canary", stableRevision=0, candidateRevision=2)
    async with running_simulator(symbols=4) as sim, running_stream(build_settings(
            sim, HYBRID_MODE="canary", HYBRID_REVISION="2",
            HYBRID_ROUTING_FILE=str(routing))) as (service, buffer):
        for symbol in ("BTCUSDT", "ETHUSDT"):
            sim.control.open_position(KEY, symbol, "Buy", "0.01")
        await eventually(service.is_ready, "ready")
        await eventually(lambda: service.open_symbols()["open"] == 2, "two open symbols")
        # the candidate in a pilot: BTCUSDT by name, no bucket
        route(2, hybridMode="cutover", stableRevision=0, candidateRevision=2,
              hybridSymbols=["BTCUSDT"])
        await eventually(lambda: forwarded("BTCUSDT") > 0, "the named symbol forwarded")
        status = json.loads((await http_get(service, "/api/hybrid/status"))[1])
        assert status["openSymbols"] == {"open": 2, "forwarded": 1}, status["openSymbols"]
        assert (status["side"], status["revision"]) == ("hybrid", 2)
        assert forwarded("ETHUSDT") == 0
        # stable now (a later walk): every bucket from legacyLow, in production mode
        route(3, hybridMode="canary", legacyLow=0, stableRevision=2)
        await eventually(lambda: service.hybrid.mode.value == "production", "production")
        await eventually(lambda: service.open_symbols()["forwarded"] == 2, "both forwarded")
        await eventually(lambda: forwarded("ETHUSDT") > 0, "ETHUSDT forwarded as stable")
        # a document naming other revisions: this one forwards nothing and only monitors
        route(4, hybridMode="cutover", hybridHigh=100, legacyLow=100, stableRevision=1,
              candidateRevision=3)
        await eventually(lambda: service.pipeline.doc.generation == 4, "generation 4")
        assert service.pipeline.side is None and service.hybrid.mode.value == "canary"
        assert service.open_symbols() == {"open": 2, "forwarded": 0}
