"""Small helpers shared by the test fixtures: free loopback ports, waiting for a condition,
starting/stopping a background process whose output goes to a log file, and starting a
Prometheus-family server that reports ``/-/ready``."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml

from hack.kube import wait_for


class Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=Stoppable)


#: Ports test servers listen on: below the kernel's ephemeral range (32768-60999 by
#: default), so an outgoing connection is never handed a port between our pick and the
#: server's bind (a kopf liveness endpoint lost its port that way), one slice per xdist
#: worker so two workers never pick the same one.
PORT_BASE, PORT_SLICE = 20000, 3000
_picks = itertools.count()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, not picked before by this
    process in its last ``PORT_SLICE`` picks."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    start = PORT_BASE + (worker % 4) * PORT_SLICE
    for _ in range(PORT_SLICE):
        port = start + next(_picks) % PORT_SLICE
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORT_SLICE - 1}")


class LoggedProcess:
    """The one way tests run a child process: in its own process group (a signal reaches
    its children too), output appended to ``log``, optionally as another ``user``."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None, *,
                 user: str | None = None):
        self.args = args
        self.log = log
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            args, stdout=self._log_file, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, start_new_session=True, user=user,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
        """``sig`` (a graceful stop), SIGKILL after ``timeout`` s."""
        if self.alive():
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log_file.close()

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers, no graceful anything."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log_file.close()


def http_ok(url: str, timeout: float = 2.0, headers: dict[str, str] | None = None) -> bool:
    """``GET url`` answers 200 (connection errors and other statuses: False)."""
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def start_ready_server(binary_name: str, workdir: Path, config: dict[str, Any],
                       build_args: Callable[[Path, int], list[str]],
                       ready_headers: dict[str, str] | None = None,
                       ) -> tuple[LoggedProcess, int, Path]:
    """A Prometheus-family server (``/-/ready``) on a free loopback port: writes ``config``
    as ``workdir/<binary_name>.yml``, starts the binary with ``build_args(config_path,
    port)`` and waits until it is ready; returns (process, port, config path). Fails
    loudly if the binary is missing or never gets ready."""
    binary = shutil.which(binary_name)
    if binary is None:
        raise RuntimeError(f"{binary_name} is not installed: hack/install-debian.sh installs it")
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / f"{binary_name}.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    process = LoggedProcess([binary, *build_args(config_path, port)],
                            workdir / f"{binary_name}.log")
    try:
        wait_for(lambda: process.alive() and http_ok(f"http://127.0.0.1:{port}/-/ready",
                                                 headers=ready_headers),
                 timeout=60, what=f"{binary_name} ready on 127.0.0.1:{port}")
    except TimeoutError:
        process.stop()
        raise RuntimeError(f"{binary_name} did not start:\n{process.tail()}") from None
    return process, port, config_path


def started_servers(tmp_path: Path, name: str, start: Callable[[Path, dict[str, Any]], S],
                    ) -> Iterator[Callable[[dict[str, Any]], S]]:
    """A server fixture's body: yields a factory that starts one server per call, each in
    its own ``tmp_path/<name>-N``, and stops every one of them at teardown."""
    servers: list[S] = []

    def factory(config: dict[str, Any]) -> S:
        server = start(tmp_path / f"{name}-{len(servers)}", config)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()
