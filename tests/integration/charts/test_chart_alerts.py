"""The PrometheusRule carries the seed plan's thresholds and the real Prometheus agrees:
``promtool check rules`` validates every expression and template, and ``promtool test rules``
evaluates the alerts over synthetic series just below and just above each threshold, so a
wrong operator, a missing join or a swapped number fails here, not in production."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hybridstream_operator.logic.queries import render_query
from hybridstream_operator.models.defaults import DEFAULT_ALERT_NAMES, HYBRID_POD, WITH_POSITIONS
from hybridstream_operator.models.spec import Analysis

from tests.integration.charts.helm import Helm, one
from tests.integration.charts.metric_names import METRIC_NAME, operator_series, stream_series
from tests.integration.charts.promtool_cases import ALERT_TESTS

#: alert -> (severity, number that must appear in its expression as "> N"), from seed 000
#: "Monitoring & Observability" and "Rollback Plan".
SEED_THRESHOLDS = {
    "HybridStreamDisconnectedWarning": ("warning", "30"),
    "HybridStreamDisconnectedCritical": ("critical", "120"),
    "HybridStreamNoEventsWarning": ("warning", "60"),
    "HybridStreamNoEventsCritical": ("critical", "300"),
    "HybridStreamReconnectsCritical": ("critical", "5"),
    "HybridStreamSubscriptionFailuresWarning": ("warning", "5"),
    "HybridStreamSubscriptionFailuresCritical": ("critical", "10"),
    "HybridStreamLatencyWarning": ("warning", "0.5"),
    "HybridStreamLatencyCritical": ("critical", "1"),
    "HybridStreamPriceDivergenceWarning": ("warning", "0.001"),
    "HybridStreamPriceDivergenceCritical": ("critical", "0.01"),
    "HybridStreamMemoryGrowthWarning": ("warning", "0.2"),
    "HybridStreamProcessingErrors": ("critical", "0"),  # "critical error in event processing"
}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: hack/install-debian.sh installs Debian's prometheus"
    return path


def rule_groups(helm: Helm, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    merged = {"monitoring": {"prometheusRule": {"enabled": True, **(values or {})}}}
    return one(helm.render(merged), "PrometheusRule")["spec"]["groups"]


def alerts_by_name(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_every_seed_threshold_is_an_alert(helm: Helm) -> None:
    alerts = alerts_by_name(rule_groups(helm))
    assert set(SEED_THRESHOLDS) | {"HybridStreamSubscriptionsMissing",
                                   "HybridStreamUncoveredBuckets"} == set(alerts)
    for name, (severity, number) in SEED_THRESHOLDS.items():
        rule = alerts[name]
        assert rule["labels"]["severity"] == severity, name
        assert re.search(rf"> {re.escape(number)}(?![0-9.])", rule["expr"]), (name, rule["expr"])
    missing = alerts["HybridStreamSubscriptionsMissing"]
    assert missing["labels"]["severity"] == "critical"
    assert "hybridstream_subscriptions_active{} == 0" in missing["expr"]
    assert "hybridstream_positions_open{} > 0" in missing["expr"]
    # The seed's manual-rollback rule: latency above 1000 ms *for more than 5 minutes*.
    assert alerts["HybridStreamLatencyCritical"]["for"] == "5m"


def test_alerts_use_only_series_the_stream_exports(helm: Helm) -> None:
    """Stream alerts on the stream's series; the coverage alert on the operator's."""
    alerts = alerts_by_name(rule_groups(helm))
    coverage = alerts.pop("HybridStreamUncoveredBuckets")
    assert set(METRIC_NAME.findall(coverage["expr"])) == {
        "hybridstream_operator_uncovered_buckets"} <= operator_series()
    known = stream_series()
    for name, rule in alerts.items():
        used = set(METRIC_NAME.findall(rule["expr"]))
        assert used and used <= known, (name, used - known)


def test_operator_default_alert_names_exist_as_critical_alerts(helm: Helm) -> None:
    """spec.analysis.alertNames defaults name alerts of this rule; a renamed alert would
    silently stop webhook-driven rollbacks."""
    alerts = alerts_by_name(rule_groups(helm))
    for name in DEFAULT_ALERT_NAMES:
        assert alerts[name]["labels"]["severity"] == "critical", name


@pytest.mark.parametrize("selector", ["", 'namespace="trading"'])
def test_operator_default_analysis_filters_pods_as_the_alerts_do(helm: Helm,
                                                                 selector: str) -> None:
    """Alerts and the operator's default analysis agree on which pods count: socket checks
    only hybrid-role pods (legacy pods' sockets never connect), "no events" only pods with
    open positions (an idle account is silent)."""
    alerts = alerts_by_name(rule_groups(helm, {"selector": selector}))
    metrics = {m.name: render_query(m, selector, "5m").replace(",}", "}")
               for m in Analysis().metrics}
    hybrid_pod = HYBRID_POD.replace("$selector", selector).replace(",}", "}")
    with_positions = WITH_POSITIONS.replace("$selector", selector)
    for severity in ("Warning", "Critical"):
        assert hybrid_pod in alerts[f"HybridStreamDisconnected{severity}"]["expr"]
        assert hybrid_pod in metrics[f"disconnected-{severity.lower()}"]
        assert with_positions in alerts[f"HybridStreamNoEvents{severity}"]["expr"]
        assert with_positions in metrics[f"no-events-{severity.lower()}"]
    for both in (hybrid_pod, with_positions):
        assert both in alerts["HybridStreamSubscriptionsMissing"]["expr"]
    # the analysis asks for 30 s of it, as the alert's ``for`` does
    assert hybrid_pod in metrics["positions-without-subscriptions"]
    assert "min_over_time(hybridstream_positions_open" in metrics["positions-without-subscriptions"]


def test_thresholds_and_selector_are_configurable(helm: Helm) -> None:
    groups = rule_groups(helm, {
        "selector": 'namespace="trading"', "alertLabels": {"team": "bots"},
        "thresholds": {"disconnectedWarningSeconds": 45, "divergenceCriticalRatio": 0.02},
    })
    alerts = alerts_by_name(groups)
    assert "> 45)" in alerts["HybridStreamDisconnectedWarning"]["expr"]
    assert alerts["HybridStreamPriceDivergenceCritical"]["expr"].endswith("> 0.02")
    for name, rule in alerts.items():
        assert rule["labels"]["team"] == "bots"
        if name == "HybridStreamUncoveredBuckets":
            continue  # the operator's series: the stream selector does not apply
        selectors = re.findall(r"(?:hybridstream_\w+|process_resident_memory_bytes)(\{[^}]*\})",
                               rule["expr"])
        assert selectors, rule["expr"]
        assert all('namespace="trading"' in s for s in selectors), rule["expr"]


def test_promtool_check_rules_accepts_the_rendered_rules(helm: Helm, tmp_path: Path) -> None:
    for label, values in (("default", None), ("selector", {"selector": 'namespace=~"t.*"'})):
        rules = tmp_path / f"{label}.rules.yml"
        rules.write_text(yaml.safe_dump({"groups": rule_groups(helm, values)}))
        result = run_promtool("check", "rules", str(rules))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS: 15 rules found" in result.stdout + result.stderr


def test_promtool_check_rules_rejects_a_broken_expression(tmp_path: Path) -> None:
    """The check above can fail: a broken PromQL expression is refused."""
    rules = tmp_path / "broken.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "Broken", "expr": "hybridstream_ws_connected{ > 1"}]}]}))
    assert run_promtool("check", "rules", str(rules)).returncode != 0


@pytest.mark.parametrize("case", ALERT_TESTS, ids=[c["name"] for c in ALERT_TESTS])
def test_alerts_fire_only_above_their_thresholds(helm: Helm, tmp_path: Path,
                                                 case: dict[str, Any]) -> None:
    """Real rule evaluation (promtool test rules) just below and above each threshold."""
    groups = rule_groups(helm)
    for group in groups:  # annotations are templates checked above, not what is tested here
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    test = {k: v for k, v in case.items() if k != "name"}
    (tmp_path / "test.yml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yml"], "evaluation_interval": test["interval"], "tests": [test],
    }))
    result = run_promtool("test", "rules", str(tmp_path / "test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    assert case["alert_rule_test"], "a case must check alerts"
    assert any(t["exp_alerts"] for t in case["alert_rule_test"]), "a case must see one fire"
