"""The stack's manifests as data (hack/manifests.py): every placeholder of the examples is
set, and only where it belongs."""

from __future__ import annotations

import pytest
import yaml

from hack import manifests

IMAGES = {"hybridstream/stream:local": "hybridstream/stream:1-abc",
          "hybridstream/prometheus:local": "hybridstream/prometheus:2-def",
          "hybridstream/alertmanager:local": "hybridstream/alertmanager:3-ghi"}


def containers(objects: list[manifests.Obj]) -> list[dict]:
    return [c for o in objects if o["kind"] == "Deployment"
            for c in o["spec"]["template"]["spec"]["containers"]]


def test_prometheus_scrapes_the_namespace_pods_by_absolute_dns_names() -> None:
    objects = manifests.prometheus("team-a", IMAGES)
    text = yaml.safe_dump_all(objects)
    assert "NAMESPACE" not in text
    config = yaml.safe_load(manifests.find(objects, "ConfigMap", "prometheus")["data"][
        "prometheus.yml"])
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["hybridstream-legacy"]["dns_sd_configs"][0]["names"] == [
        "positions-legacy-pods.team-a.svc.cluster.local."]
    assert jobs["hybridstream-hybrid"]["dns_sd_configs"][0]["names"] == [
        "positions-hybrid-pods.team-a.svc.cluster.local."]
    for job in jobs.values():
        labels = {r.get("target_label"): r.get("replacement") for r in job["relabel_configs"]}
        assert labels["namespace"] == "team-a"
        assert labels["rollout"] == "positions"  # untouched
    assert [c["image"] for c in containers(objects)] == ["hybridstream/prometheus:2-def"]


def test_alertmanager_posts_to_the_release_operator_with_its_token() -> None:
    objects = manifests.alertmanager("team-a", "hs-team-a", IMAGES)
    assert "NAMESPACE" not in yaml.safe_dump_all(objects)
    config = yaml.safe_load(manifests.find(objects, "ConfigMap", "alertmanager")["data"][
        "alertmanager.yml"])
    receiver = next(r for r in config["receivers"] if r["name"] == "hybridstream-operator")
    assert receiver["webhook_configs"][0]["url"] == (
        "http://hs-team-a-hybridstream-operator.team-a.svc.cluster.local:8080"
        "/api/v1/alertmanager")
    volumes = manifests.find(objects, "Deployment", "alertmanager")["spec"]["template"][
        "spec"]["volumes"]
    webhook = next(v for v in volumes if v["name"] == "webhook")
    assert webhook["secret"]["secretName"] == "hs-team-a-hybridstream-operator-webhook"
    assert [c["image"] for c in containers(objects)] == ["hybridstream/alertmanager:3-ghi"]


def test_simulator_and_agent_images_are_replaced() -> None:
    sim = manifests.with_images(manifests.load("simulator.yaml"), IMAGES)
    assert [c["image"] for c in containers(sim)] == ["hybridstream/stream:1-abc"]
    agent = manifests.network_policy_agent("hybridstream/kube-network-policies:v1")
    images = [c["image"] for o in agent if o["kind"] == "DaemonSet"
              for c in o["spec"]["template"]["spec"]["containers"]]
    assert images == ["hybridstream/kube-network-policies:v1"]


def test_rollout_takes_the_image_name_and_step_overrides() -> None:
    cutover = [{"percent": 50, "pause": {"duration": "5m"}}]
    obj = manifests.rollout("img:v2", name="other", cutover=cutover)
    assert obj["metadata"]["name"] == "other"
    assert obj["spec"]["workload"]["image"] == "img:v2"
    assert obj["spec"]["steps"]["cutover"] == cutover
    assert obj["spec"]["steps"]["canary"] == manifests.rollout("x")["spec"]["steps"]["canary"]


def test_alert_rules_become_a_rules_file() -> None:
    rule = {"spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0"}]}]}}
    cm = manifests.alert_rules(rule)
    assert cm["metadata"]["name"] == "prometheus-rules"
    assert yaml.safe_load(cm["data"]["hybridstream.yml"]) == {"groups": rule["spec"]["groups"]}
    with pytest.raises(ValueError, match="without groups"):
        manifests.alert_rules({"spec": {"groups": []}})
