"""The local stack's manifests as data: examples/04-local-simulator parsed, with our loaded
images and the namespace set field by field (the examples keep readable placeholders:
``hybridstream/<name>:local`` images and ``NAMESPACE``). Pure: no cluster, no files
written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "04-local-simulator"
CHART = REPO / "charts" / "hybridstream-operator"
NETPOL = REPO / "hack" / "images" / "kube-network-policies" / "install.yaml"
ROLLOUT = "positions"

Obj = dict[str, Any]


def load(name: str) -> list[Obj]:
    """The objects of one example file."""
    return [d for d in yaml.safe_load_all((EXAMPLE / name).read_text()) if d]


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def operator_name(release: str) -> str:
    """The chart's full name for ``release``: its Deployment, Service and Secret prefix."""
    return f"{release}-hybridstream-operator"


def with_images(objects: list[Obj], images: Mapping[str, str]) -> list[Obj]:
    """``objects`` with every container image named in ``images`` (placeholder -> loaded)
    replaced."""
    for obj in objects:
        for container in obj.get("spec", {}).get("template", {}).get("spec", {}).get(
                "containers", []):
            container["image"] = images.get(container["image"], container["image"])
    return objects


def network_policy_agent(image: str) -> list[Obj]:
    """kube-network-policies (hack/images/kube-network-policies/install.yaml) running
    ``image``."""
    objects = [d for d in yaml.safe_load_all(NETPOL.read_text()) if d]
    return with_images(objects, {"IMAGE": image})


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def config_map(name: str, data: Mapping[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": dict(data)}


def _edit_config(cm: Obj, key: str, edit: Any) -> None:
    """Parse the config file ``key`` embedded in ConfigMap ``cm``, edit it, put it back."""
    config = yaml.safe_load(cm["data"][key])
    edit(config)
    cm["data"][key] = yaml.safe_dump(config, sort_keys=False)


def prometheus(ns: str, images: Mapping[str, str]) -> list[Obj]:
    """Prometheus scraping the rollout's pods of namespace ``ns`` (DNS names are absolute:
    the per-role headless Services in ``ns``; every series labelled ``namespace=ns``)."""
    objects = load("prometheus.yaml")

    def edit(config: Obj) -> None:
        for job in config["scrape_configs"]:
            for sd in job.get("dns_sd_configs", []):
                sd["names"] = [f"{n.split('.', 1)[0]}.{ns}.svc.cluster.local."
                               for n in sd["names"]]
            for relabel in job.get("relabel_configs", []):
                if relabel.get("target_label") == "namespace":
                    relabel["replacement"] = ns
    _edit_config(find(objects, "ConfigMap", "prometheus"), "prometheus.yml", edit)
    return with_images(objects, images)


def alertmanager(ns: str, release: str, images: Mapping[str, str]) -> list[Obj]:
    """Alertmanager posting critical alerts to the operator of ``release`` in ``ns``, with
    the bearer token from the Secret the chart created."""
    objects = load("alertmanager.yaml")
    operator = operator_name(release)

    def edit(config: Obj) -> None:
        receiver = next(r for r in config["receivers"] if r["name"] == "hybridstream-operator")
        receiver["webhook_configs"][0]["url"] = (
            f"http://{operator}.{ns}.svc.cluster.local:8080/api/v1/alertmanager")
    _edit_config(find(objects, "ConfigMap", "alertmanager"), "alertmanager.yml", edit)
    volumes = find(objects, "Deployment", "alertmanager")["spec"]["template"]["spec"]["volumes"]
    next(v for v in volumes if v["name"] == "webhook")["secret"]["secretName"] = (
        f"{operator}-webhook")
    return with_images(objects, images)


def alert_rules(prometheus_rule: Obj) -> Obj:
    """The chart's PrometheusRule as a plain Prometheus rules file in the ConfigMap
    ``prometheus-rules`` that prometheus.yaml mounts: Debian's Prometheus has no
    prometheus-operator to load the CRD."""
    groups = prometheus_rule["spec"]["groups"]
    if not groups:
        raise ValueError("the chart rendered a PrometheusRule without groups")
    return config_map("prometheus-rules",
                      {"hybridstream.yml": yaml.safe_dump({"groups": groups}, sort_keys=False)})


def rollout(image: str, name: str = ROLLOUT, **steps: Any) -> Obj:
    """The example rollout (default analysis) with ``image``, named ``name``, ``steps``
    overriding spec.steps keys."""
    obj = load("rollout.yaml")[0]
    obj["metadata"]["name"] = name
    obj["spec"]["workload"]["image"] = image
    obj["spec"]["steps"].update(steps)
    return obj
