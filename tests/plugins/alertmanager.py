"""A real Alertmanager (Debian's ``prometheus-alertmanager``) for tests, on a free loopback
port, with clustering off (a lone test instance must not gossip).

``alertmanager_factory(config)`` starts one with the given configuration (a dict, dumped as
YAML) and returns a handle with its URL and its ``host:port`` for Prometheus's
``alerting`` section. Every server is stopped at the end of the test.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugins.processes import LoggedProcess, free_port, wait_for


@dataclass
class AlertmanagerServer:
    url: str
    target: str  # host:port, as Prometheus's alerting.alertmanagers wants it
    process: LoggedProcess

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (API v2)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as r:
            return json.load(r)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.process.stop()


def start_alertmanager(workdir: Path, config: dict[str, Any]) -> AlertmanagerServer:
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        raise RuntimeError("prometheus-alertmanager is not installed: "
                           "hack/install-debian.sh installs it")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(config))
    process = LoggedProcess(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=info",
        ],
        workdir / "alertmanager.log",
    )
    server = AlertmanagerServer(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", process)
    try:
        wait_for(lambda: server.process.alive() and server.ready(), timeout=60,
                 what=f"alertmanager ready on {server.url}")
    except TimeoutError:
        server.stop()
        raise RuntimeError(f"alertmanager did not start:\n{process.tail()}") from None
    return server


def webhook_config(url: str, bearer_token: str) -> dict[str, Any]:
    """Route every alert at once (no grouping delay) to one bearer-token webhook."""
    return {
        "route": {"receiver": "operator", "group_by": ["alertname", "namespace", "rollout"],
                  "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "operator", "webhook_configs": [{
            "url": url, "send_resolved": False,
            "http_config": {"authorization": {"type": "Bearer", "credentials": bearer_token}},
        }]}],
    }


@pytest.fixture
def alertmanager_factory(
    tmp_path: Path,
) -> Iterator[Callable[[dict[str, Any]], AlertmanagerServer]]:
    servers: list[AlertmanagerServer] = []

    def factory(config: dict[str, Any]) -> AlertmanagerServer:
        server = start_alertmanager(tmp_path / f"alertmanager-{len(servers)}", config)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()
