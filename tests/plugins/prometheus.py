"""A real Prometheus server (Debian's package) for tests, on a free loopback port.

``prometheus_factory(config)`` starts one with the given configuration (a dict, dumped as
YAML) and returns a handle with its URL, an instant-query helper and ``reload``/``stop``.
Every server is stopped at the end of the test. ``secured_prometheus_factory`` starts servers
that require HTTP basic auth (``--web.config.file``) as :data:`BASIC_AUTH`.
"""

from __future__ import annotations

import base64
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

# A test-only user: (name, password, bcrypt hash of the password at cost 4 so that each
# request stays cheap; made with Python's crypt.METHOD_BLOWFISH).
BASIC_AUTH = ("hybridstream", "prom-test-password",
              "$2b$04$8xibRNwF5sNvAkD9PEKTSeXE0ueoasud0TiArI4tBTuTrxFkA87AS")


def basic_auth_header(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class PrometheusServer:
    url: str
    config_path: Path
    process: LoggedProcess
    headers: dict[str, str]

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config))

    def reload(self, config: dict[str, Any]) -> None:
        """Replace the configuration and ask the server to load it (lifecycle API)."""
        self.write_config(config)
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST",
                                     headers=self.headers)
        urllib.request.urlopen(req, timeout=10).read()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; returns the ``result`` vector (raises on a query error)."""
        qs = urllib.parse.urlencode({"query": expr})
        try:
            req = urllib.request.Request(f"{self.url}/api/v1/query?{qs}", headers=self.headers)
            with urllib.request.urlopen(req, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as err:  # 4xx/5xx still carry the JSON error body
            body = json.load(err)
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus query {expr!r} failed: {body}")
        return body["data"]["result"]

    def stop(self) -> None:
        self.process.stop()


def start_prometheus(workdir: Path, config: dict[str, Any], *,
                     secured: bool = False) -> PrometheusServer:
    """``secured``: every endpoint requires :data:`BASIC_AUTH`."""
    web: list[str] = []
    headers: dict[str, str] = {}
    if secured:
        user, password, hashed = BASIC_AUTH
        workdir.mkdir(parents=True, exist_ok=True)
        web_config = workdir / "web.yml"
        web_config.write_text(yaml.safe_dump({"basic_auth_users": {user: hashed}}))
        web, headers = [f"--web.config.file={web_config}"], basic_auth_header(user, password)
    process, port, config_path = start_ready_server(
        "prometheus", workdir, config,
        lambda config_path, port: [f"--config.file={config_path}",
                                   f"--storage.tsdb.path={workdir / 'data'}",
                                   f"--web.listen-address=127.0.0.1:{port}",
                                   "--web.enable-lifecycle", "--log.level=warn", *web],
        ready_headers=headers)
    return PrometheusServer(f"http://127.0.0.1:{port}", config_path, process, headers)


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


@pytest.fixture
def secured_prometheus_factory(
        tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], PrometheusServer]]:
    yield from started_servers(tmp_path, "secured-prometheus",
                               lambda workdir, config: start_prometheus(workdir, config,
                                                                        secured=True))
