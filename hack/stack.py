"""The e2e/demo stack, shared by tests/e2e (fixtures) and ``make demo`` (hack/demo.py):

* ``up()``: the kind cluster (hack/kind.sh), our stream/operator images and the Prometheus
  and Alertmanager images (hack/images/), `kind load`ed; returns a ``Stack``;
* ``deploy(stack, ns)``: in ``ns`` the simulator, Prometheus with the chart's alerting
  rules, the operator chart (release ``hs-<ns>``, watching ``ns`` only, one reconcile a
  second) and Alertmanager posting to the operator's webhook, each waited for;
* ``undeploy(stack, ns)``: the rollouts deleted while the operator runs, the release
  uninstalled.

The bootstrapping scripts (Docker, Kubernetes binaries, images) stay shell; this module
reads the one ``NAME=VALUE`` line each prints. Everything is cached and idempotent: a warm
``up()`` takes seconds.

``python -m hack.stack up`` prints the Stack as JSON; ``env`` prints it as shell exports
(for a terminal: ``eval "$(python -m hack.stack env)"``); ``rollout`` prints the example
rollout with the loaded image; ``deploy NS`` deploys; ``sim NS ACTION [JSON]`` calls the
simulator's admin API; ``down`` deletes the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hybridstream.simulator.admin_client import AdminClient

from hack import manifests
from hack.kube import Kube, port_forward

REPO = Path(__file__).resolve().parents[1]
HACK = REPO / "hack"
# A cold run builds Kubernetes, the node image and the images from scratch: generous.
COLD_BUILD_TIMEOUT = 3600
ROLLOUT_WAIT = 240  # s, per Deployment of the stack
SIM_PORT = 8480
ADMIN_TOKEN = "local-admin-token"  # examples/04-local-simulator/simulator.yaml
ACCOUNT = "local-key"
# Two symbols in the first half of the buckets (hybrid's at 50 %) and two in the second.
SYMBOLS = ("XRPUSDT", "LTCUSDT", "BTCUSDT", "ADAUSDT")


def script(path: str, *args: str) -> dict[str, str]:
    """Run a hack/ bootstrapping script; its ``NAME=VALUE`` stdout lines. Its stderr (the
    progress) passes through."""
    result = subprocess.run(["bash", str(HACK / path), *args], stdout=subprocess.PIPE,
                            text=True, timeout=COLD_BUILD_TIMEOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"hack/{path} {' '.join(args)} failed ({result.returncode}; "
                           f"its log is above):\n{result.stdout[-3000:]}")
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


@dataclass(frozen=True)
class Stack:
    """The kind cluster with our images loaded, and the tools to use it."""

    cluster: Kube
    helm: Path
    stream_image: str
    # the same code with another version label: a second revision to roll out
    stream_image_v2: str
    operator_image: str
    prometheus_image: str
    alertmanager_image: str

    @property
    def placeholders(self) -> dict[str, str]:
        """The examples' placeholder images -> the loaded ones."""
        return {"hybridstream/stream:local": self.stream_image,
                "hybridstream/prometheus:local": self.prometheus_image,
                "hybridstream/alertmanager:local": self.alertmanager_image}

    def release(self, namespace: str) -> str:
        """The chart's release name in ``namespace``."""
        return f"hs-{namespace}"

    def helm_run(self, *args: str, timeout: float = 300) -> str:
        """Run helm against the cluster; its stdout, or raise with its stderr."""
        result = subprocess.run(
            [str(self.helm), "--kubeconfig", str(self.cluster.kubeconfig), *args],
            capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args)} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def as_dict(self) -> dict[str, str]:
        flat = {**dataclasses.asdict(self.cluster), **dataclasses.asdict(self)}
        flat.pop("cluster")
        return {k: str(v) for k, v in flat.items()}


def cluster_running() -> bool:
    return subprocess.run(["bash", str(HACK / "kind.sh"), "status"], capture_output=True,
                          text=True, check=False).stdout.strip() == "running"


def cluster_up() -> Kube:
    """The kind cluster, created or reused (hack/kind.sh up). The offline one's ptp CNI
    enforces no NetworkPolicy: the agent is built, loaded and applied on every call, so a
    cluster created before it existed gets it too."""
    info = script("kind.sh", "up")
    kube = Kube(Path(info["KUBECONFIG"]), Path(info["KUBECTL"]))
    if os.environ.get("HYBRIDSTREAM_STOCK_IMAGES", "0") != "1":
        image = script("netpol.sh")["NETPOL_IMAGE"]
        script("kind.sh", "load", image)  # kind skips an image the node has
        kube.apply(*manifests.network_policy_agent(image))
        kube.kubectl("rollout", "status", "-n", "kube-system", "daemonset/kube-network-policies",
                     f"--timeout={ROLLOUT_WAIT}s", timeout=ROLLOUT_WAIT + 30)
    return kube


def cluster_down() -> None:
    script("kind.sh", "down")


def up() -> Stack:
    """The cluster with every image of the stack built and loaded."""
    kube = cluster_up()
    ours = script("images/build.sh")
    monitoring = script("images/monitoring.sh")
    helm = Path(script("build-kube.sh", "helm")["HELM_BIN"]) / "helm"
    stack = Stack(cluster=kube, helm=helm, stream_image=ours["STREAM_IMAGE"],
                  stream_image_v2=ours["STREAM_IMAGE_V2"],
                  operator_image=ours["OPERATOR_IMAGE"],
                  prometheus_image=monitoring["PROMETHEUS_IMAGE"],
                  alertmanager_image=monitoring["ALERTMANAGER_IMAGE"])
    script("kind.sh", "load", stack.stream_image, stack.stream_image_v2,
           stack.operator_image, stack.prometheus_image, stack.alertmanager_image)
    return stack


def deploy(stack: Stack, ns: str, disconnected_critical_seconds: int = 4) -> None:
    """Simulator, Prometheus (the chart's alerting rules, the critical socket-down
    threshold at ``disconnected_critical_seconds``: 4 s rolls a fault back at once, 120
    is the chart's default), the operator chart and Alertmanager in ``ns``, available."""
    kube, release = stack.cluster, stack.release(ns)
    kube.apply(manifests.namespace(ns))
    rule = yaml.safe_load(stack.helm_run(
        "template", release, str(manifests.CHART), "-n", ns,
        "--show-only", "templates/prometheusrule.yaml",
        "--set", "monitoring.prometheusRule.enabled=true",
        "--set", "monitoring.prometheusRule.thresholds.disconnectedCriticalSeconds="
                 f"{disconnected_critical_seconds}"))
    kube.apply(manifests.alert_rules(rule),
               *manifests.with_images(manifests.load("simulator.yaml"), stack.placeholders),
               *manifests.prometheus(ns, stack.placeholders), namespace=ns)
    repository, tag = stack.operator_image.rsplit(":", 1)
    stack.helm_run("upgrade", "--install", release, str(manifests.CHART), "-n", ns,
                   "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
                   "--set", "image.pullPolicy=IfNotPresent",
                   "--set", "operator.reconcileInterval=1")
    # Alertmanager reads the operator's webhook token from the Secret the chart created.
    kube.apply(*manifests.alertmanager(ns, release, stack.placeholders), namespace=ns)
    for name in ("simulator", "prometheus", manifests.operator_name(release), "alertmanager"):
        kube.kubectl("rollout", "status", "-n", ns, f"deployment/{name}",
                     f"--timeout={ROLLOUT_WAIT}s", timeout=ROLLOUT_WAIT + 30)


def undeploy(stack: Stack, ns: str) -> None:
    """Delete the rollouts while the operator still runs (its finalizer), then uninstall
    the release (its cluster-scoped RBAC outlives the namespace otherwise)."""
    stack.cluster.kubectl("delete", "hsr", "--all", "-n", ns, "--timeout=60s",
                          check=False, timeout=90)
    subprocess.run([str(stack.helm), "--kubeconfig", str(stack.cluster.kubeconfig),
                    "uninstall", stack.release(ns), "-n", ns],
                   capture_output=True, timeout=120, check=False)


def admin(url: str, action: str, **kwargs: Any) -> Any:
    """One call to the simulator's admin API at ``url`` (a port-forward)."""
    async def call() -> Any:
        async with AdminClient(url, ADMIN_TOKEN) as client:
            return await client.call(action, **kwargs)
    return asyncio.run(call())


def open_positions(url: str) -> None:
    """One long position per symbol on the stream's account (10: a multiple of every
    default symbol's qtyStep)."""
    for symbol in SYMBOLS:
        admin(url, "open-position", account=ACCOUNT, symbol=symbol, side="Buy", qty="10")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hack.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="cluster and images; the Stack as JSON")
    sub.add_parser("env", help="cluster and images; the Stack as shell exports")
    sub.add_parser("rollout", help="the example rollout with the loaded stream image (YAML)")
    dep = sub.add_parser("deploy", help="the stack in a namespace")
    dep.add_argument("namespace")
    dep.add_argument("--disconnected-critical-seconds", type=int, default=4)
    sim = sub.add_parser("sim", help="one simulator admin call (through a port-forward)")
    sim.add_argument("namespace")
    sim.add_argument("action", help="e.g. drop, reject-auth, clear-faults, positions")
    sim.add_argument("arguments", nargs="?", default="{}", help="a JSON object")
    sub.add_parser("down", help="delete the kind cluster")
    args = parser.parse_args(argv)
    if args.command == "down":
        cluster_down()
        return
    if args.command == "sim":
        with port_forward(cluster_up(), args.namespace, "svc/simulator", SIM_PORT) as url:
            print(json.dumps(admin(url, args.action, **json.loads(args.arguments))))
        return
    stack = up()
    if args.command == "up":
        print(json.dumps(stack.as_dict(), indent=2))
    elif args.command == "env":
        for name, value in stack.as_dict().items():
            print(f"export {name.upper()}={shlex.quote(value)}")
    elif args.command == "rollout":
        print(yaml.safe_dump(manifests.rollout(stack.stream_image), sort_keys=False))
    else:
        deploy(stack, args.namespace, args.disconnected_critical_seconds)


if __name__ == "__main__":
    sys.exit(main())
