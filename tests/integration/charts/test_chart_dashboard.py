"""The Grafana dashboard ConfigMap: valid JSON with panels for the seed's five metric
families (connection, event flow, subscriptions, performance, accuracy) plus the operator's
rollout phase, every query naming a metric the stream or the operator really exports and
parsing in the real Prometheus."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.charts.helm import Helm, one
from tests.integration.charts.metric_names import METRIC_NAME, operator_series, stream_series
from tests.plugins.prometheus import scrape_config

#: seed "Monitoring & Observability" family -> metrics its panels must show.
FAMILIES = {
    "Connection health": {"hybridstream_ws_connected", "hybridstream_ws_disconnected_seconds",
                          "hybridstream_ws_reconnects_total"},
    "Event flow": {"hybridstream_events_total", "hybridstream_last_event_timestamp_seconds",
                   "hybridstream_events_forwarded_total"},
    "Subscription health": {"hybridstream_subscriptions_active", "hybridstream_positions_open",
                            "hybridstream_subscription_failures_total"},
    "Performance": {"hybridstream_tick_to_event_seconds_sum",
                    "hybridstream_tick_to_event_seconds_bucket", "process_resident_memory_bytes"},
    "Data accuracy": {"hybridstream_price_divergence_ratio",
                      "hybridstream_price_comparisons_total"},
    "Operator": {"hybridstream_operator_rollout_phase", "hybridstream_routing_generation",
                 "hybridstream_mode"},
}
def dashboard(helm: Helm) -> dict[str, Any]:
    docs = helm.render({"monitoring": {"grafanaDashboard": {"enabled": True}}})
    config_map = one(docs, "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    return json.loads(config_map["data"]["hybridstream.json"])


def sections(board: dict[str, Any]) -> dict[str, list[str]]:
    """Row title -> the query expressions of the panels under it."""
    out: dict[str, list[str]] = {}
    current = None
    for panel in board["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            out[current] = []
        else:
            assert current is not None, "panel before the first row"
            out[current] += [t["expr"] for t in panel["targets"]]
    return out


def test_dashboard_has_a_section_per_metric_family(helm: Helm) -> None:
    board = dashboard(helm)
    assert board["uid"] == "hybridstream"
    found = sections(board)
    assert set(found) == set(FAMILIES)
    for family, metrics in FAMILIES.items():
        named = {m for expr in found[family] for m in METRIC_NAME.findall(expr)}
        assert metrics <= named, (family, metrics - named)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_every_query_names_a_real_metric(helm: Helm) -> None:
    """Names come from the stream's and the operator's own registries."""
    known = stream_series() | operator_series()
    assert "hybridstream_ws_reconnects_total" in known
    exprs = [e for es in sections(dashboard(helm)).values() for e in es]
    assert len(exprs) >= 20
    for expr in exprs:
        names = set(METRIC_NAME.findall(expr))
        assert names and names <= known, (expr, names - known)


def test_every_query_parses_in_prometheus(helm: Helm, prometheus_factory) -> None:
    server = prometheus_factory(scrape_config(["127.0.0.1:1"]))
    exprs = [e for es in sections(dashboard(helm)).values() for e in es]
    for expr in exprs:
        # Grafana substitutes $namespace (multi-value, "All" = .*) before sending.
        server.query(expr.replace("$namespace", ".*"))
