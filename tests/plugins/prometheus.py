"""A real Prometheus server (Debian's package) for tests, on a free loopback port.

``prometheus_factory(config)`` starts one with the given configuration (a dict, dumped as
YAML) and returns a handle with its URL, an instant-query helper and ``reload``/``stop``.
Every server is stopped at the end of the test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugins.processes import LoggedProcess, start_ready_server, started_servers


@dataclass
class PrometheusServer:
    url: str
    config_path: Path
    process: LoggedProcess

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config))

    def reload(self, config: dict[str, Any]) -> None:
        """Replace the configuration and ask the server to load it (lifecycle API)."""
        self.write_config(config)
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; returns the ``result`` vector (raises on a query error)."""
        qs = urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{qs}", timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as err:  # 4xx/5xx still carry the JSON error body
            body = json.load(err)
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus query {expr!r} failed: {body}")
        return body["data"]["result"]

    def stop(self) -> None:
        self.process.stop()


def start_prometheus(workdir: Path, config: dict[str, Any]) -> PrometheusServer:
    process, port, config_path = start_ready_server(
        "prometheus", workdir, config,
        lambda config_path, port: [f"--config.file={config_path}",
                                   f"--storage.tsdb.path={workdir / 'data'}",
                                   f"--web.listen-address=127.0.0.1:{port}",
                                   "--web.enable-lifecycle", "--log.level=warn"])
    return PrometheusServer(f"http://127.0.0.1:{port}", config_path, process)


def scrape_config(targets: list[str], interval: str = "1s",
                  rule_files: list[str] | None = None) -> dict[str, Any]:
    """A minimal configuration scraping ``targets`` (host:port) every ``interval``."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": "test", "scrape_interval": interval,
             "static_configs": [{"targets": targets}]},
        ],
    }
    if rule_files:
        config["rule_files"] = rule_files
    return config


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], PrometheusServer]]:
    yield from started_servers(tmp_path, "prometheus", start_prometheus)
