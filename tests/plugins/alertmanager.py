"""A real Alertmanager (Debian's ``prometheus-alertmanager``) for tests, on a free loopback
port, with clustering off (a lone test instance must not gossip).

``alertmanager_factory(config)`` starts one with the given configuration (a dict, dumped as
YAML) and returns a handle with its URL and its ``host:port`` for Prometheus's
``alerting`` section. Every server is stopped at the end of the test.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.processes import LoggedProcess, start_ready_server, started_servers


@dataclass
class AlertmanagerServer:
    url: str
    target: str  # host:port, as Prometheus's alerting.alertmanagers wants it
    process: LoggedProcess

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (API v2)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as r:
            return json.load(r)

    def stop(self) -> None:
        self.process.stop()


def start_alertmanager(workdir: Path, config: dict[str, Any]) -> AlertmanagerServer:
    process, port, _ = start_ready_server(
        "prometheus-alertmanager", workdir, config,
        lambda config_path, port: [f"--config.file={config_path}",
                                   f"--storage.path={workdir / 'data'}",
                                   f"--web.listen-address=127.0.0.1:{port}",
                                   "--cluster.listen-address=", "--log.level=info"])
    return AlertmanagerServer(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", process)


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
    yield from started_servers(tmp_path, "alertmanager", start_alertmanager)
