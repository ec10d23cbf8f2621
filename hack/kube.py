"""A handle on a cluster through its kubectl, ``kubectl port-forward`` on loopback, and the
one bounded poll every wait of the stack, the demo and the tests goes through."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.2,
    what: str = "condition", describe: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns a truthy value and return it; after ``timeout``
    s raise TimeoutError naming ``what``, the last error and ``describe()`` (the context
    of the failed wait). A raising condition counts as not yet: a peer that is still
    starting refuses connections."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        time.sleep(interval)
    context = f"\n{describe()}" if describe else ""
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}"
                       f"{f': {last_error!r}' if last_error else ''}{context}")


@dataclass(frozen=True)
class Kube:
    """kubectl against one cluster."""

    kubeconfig: Path
    kubectl_bin: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes that should talk to this cluster."""
        return {"KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> str:
        """Run kubectl; its stdout, or its stderr when it failed and ``check`` is off."""
        result = subprocess.run(
            [str(self.kubectl_bin), "--kubeconfig", str(self.kubeconfig), *args],
            input=input, capture_output=True, text=True, timeout=timeout, check=False,
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, ["kubectl", *args], result.stdout, result.stderr
            )
        return result.stdout if result.returncode == 0 else result.stderr

    def apply(self, *objects: dict[str, Any], namespace: str | None = None) -> str:
        ns = ["-n", namespace] if namespace else []
        return self.kubectl("apply", *ns, "-f", "-", input=yaml.safe_dump_all(objects))

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))


@contextmanager
def port_forward(kube: Kube, namespace: str, target: str, port: int) -> Iterator[str]:
    """``kubectl port-forward`` bound to 127.0.0.1 on a free port; yields ``http://host:port``."""
    proc = subprocess.Popen(
        [str(kube.kubectl_bin), "--kubeconfig", str(kube.kubeconfig), "port-forward",
         "-n", namespace, "--address", "127.0.0.1", target, f":{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:NNNNN -> 8480"
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not match:
            raise RuntimeError(f"kubectl port-forward {target} failed: "
                               f"{line}{proc.stdout.read()[-2000:]}")
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
