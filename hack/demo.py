"""``make demo``: a local kind cluster, the operator chart, and two rollouts of the Bybit
stream against the in-cluster simulator, shown live with ``kubectl hsr get --watch``:

1. positions walks Canary -> Parallel -> Cutover 50 % -> 100 % -> Production, and legacy
   is retired;
2. the rollout again, with a fault injected mid-cutover (the simulator drops the private
   sockets and refuses re-auth): the rollout's Prometheus analysis, or the chart's
   HybridStreamDisconnectedCritical alert posted by Alertmanager to the operator's
   webhook, whichever is first, rolls it back to legacy (the last step says which).

Then, on this machine (no cluster), the trailing-stop consumer follows legacy (1 s and 5 s
polls) and hybrid streams through scripted price crossings and prints the activation
delays it saw (bench/bench_trailing_stop.py --summary, about 1 min).

Builds whatever is missing first (hack.stack, as the e2e tests do; a cold machine takes
20-30 min, a warm one seconds). Bounded: every wait has a deadline; exits 0 when both
rollouts ended as expected. The namespace stays for you to explore (kubectl hsr history
positions); DEMO_NAMESPACE names it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hack import manifests
from hack.kube import Kube, port_forward, wait_for
from hack.stack import REPO, SIM_PORT, SYMBOLS, Stack, admin, deploy, open_positions, undeploy, up

NS = os.environ.get("DEMO_NAMESPACE", "hybridstream-demo")
ROLLOUT = manifests.ROLLOUT
PHASE_TIMEOUT = 300
VENV_BIN = Path(sys.executable).parent
START = time.monotonic()


def step(text: str) -> None:
    print(f"\n\033[1m==> [{time.monotonic() - START:3.0f} s] {text}\033[0m",
          file=sys.stderr, flush=True)


def status(kube: Kube) -> dict[str, Any]:
    return kube.get_json("hsr", ROLLOUT, "-n", NS).get("status") or {}


def wait_phase(kube: Kube, phases: set[str], extra: Callable[[dict[str, Any]], Any] = bool
               ) -> None:
    """Until the rollout is in one of ``phases`` (and ``extra(status)`` holds); a timeout
    shows the rollout and the pods."""
    def reached() -> bool:
        st = status(kube)
        return st.get("phase") in phases and bool(extra(st))

    def describe() -> str:
        return (kube.kubectl("get", "hsr", ROLLOUT, "-n", NS, "-o", "yaml", check=False)
                + kube.kubectl("get", "pods", "-n", NS, check=False))
    wait_for(reached, timeout=PHASE_TIMEOUT, interval=1, what=f"rollout in {sorted(phases)}",
             describe=describe)


@contextmanager
def watching(kube: Kube) -> Iterator[None]:
    """``kubectl hsr get --watch`` in the terminal while the block runs."""
    env = {**os.environ, **kube.env,
           "PATH": f"{kube.kubectl_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([str(VENV_BIN / "kubectl-hsr"), "-n", NS, "get", "--watch"],
                            env=env)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cleanup_previous(stack: Stack) -> None:
    kube = stack.cluster
    if kube.kubectl("get", "namespace", NS, check=False).startswith("NAME"):
        step(f"removing the previous demo namespace {NS}")
        undeploy(stack, NS)
        kube.kubectl("delete", "namespace", NS, "--timeout=180s", timeout=200)


def walk(kube: Kube, image: str) -> None:
    step("rollout 1: Canary -> Parallel -> Cutover 50 % -> 100 % -> Production (about 3 min)")
    kube.apply(manifests.rollout(image), namespace=NS)
    with watching(kube):
        wait_phase(kube, {"Production"}, lambda st: st.get("legacyRetiredAt"))
    replicas = kube.get_json("deploy", f"{ROLLOUT}-legacy", "-n", NS)["spec"]["replicas"]
    step(f"rollout 1 reached Production; legacy retired (replicas: {replicas})")
    for line in kube.kubectl("logs", "-n", NS, f"deploy/{ROLLOUT}-hybrid-1",
                             "--tail=3").splitlines():
        print(line[:160], file=sys.stderr)


def fault(kube: Kube, image: str, sim: str) -> None:
    step("rollout 2: the same rollout again, with a fault injected mid-cutover")
    kube.kubectl("delete", "hsr", ROLLOUT, "-n", NS, "--timeout=90s", timeout=100)
    kube.kubectl("wait", "--for=delete", "-n", NS, f"deployment/{ROLLOUT}-legacy",
                 f"deployment/{ROLLOUT}-hybrid-1", "--timeout=90s", check=False, timeout=100)
    # a long first cutover step, so the fault lands while 50 % is on hybrid
    cutover = [{"percent": 50, "pause": {"duration": "5m"}},
               {"percent": 100, "pause": {"duration": "30s"}}]
    kube.apply(manifests.rollout(image, cutover=cutover), namespace=NS)
    with watching(kube):
        wait_phase(kube, {"Cutover"}, lambda st: st.get("stepStartedAt"))
        step("injecting the fault: simulator drops every private socket and rejects re-auth")
        admin(sim, "reject-auth", count=100000)
        admin(sim, "drop", kind="private", mode="reset")
        wait_phase(kube, {"RolledBack"})
        time.sleep(3)  # one more refresh of the watch
    admin(sim, "clear-faults")
    failure = status(kube).get("lastFailure") or {}
    step(f"rollout 2 rolled back by {failure.get('source')} {failure.get('name')}: "
         f"{failure.get('message')}")
    cm = kube.get_json("configmap", f"{ROLLOUT}-routing", "-n", NS)
    print(cm["data"]["routing.json"], file=sys.stderr)
    subprocess.run([str(VENV_BIN / "kubectl-hsr"), "-n", NS, "history", ROLLOUT],
                   env={**os.environ, **kube.env}, stdout=sys.stderr, check=True)


def main() -> None:
    step("building what is missing and starting the kind cluster (cold: 20-30 min, "
         "warm: seconds)")
    stack = up()
    kube = stack.cluster
    cleanup_previous(stack)
    step(f"deploying the simulator, Prometheus (with the chart's alerting rules), the "
         f"operator chart and Alertmanager into {NS}")
    deploy(stack, NS)
    with port_forward(kube, NS, "svc/simulator", SIM_PORT) as sim:
        step(f"opening positions on the simulator ({', '.join(SYMBOLS)})")
        open_positions(sim)
        walk(kube, stack.stream_image)
        fault(kube, stack.stream_image, sim)
    step("trailing stop: activation delays legacy (1 s, 5 s polls) vs hybrid, simulator and "
         "streams on this machine (about 1 min)")
    subprocess.run([sys.executable, str(REPO / "bench" / "bench_trailing_stop.py"),
                    "--rounds", "3", "--summary"], stdout=sys.stderr, check=True)
    step(f"demo finished in {time.monotonic() - START:.0f} s. Explore: "
         f"KUBECONFIG={kube.kubeconfig} kubectl -n {NS} get hsr,pods")
    print(f"clean up: kubectl -n {NS} delete hsr --all && helm uninstall hs-{NS} -n {NS} "
          f"&& kubectl delete ns {NS}", file=sys.stderr)


if __name__ == "__main__":
    main()
