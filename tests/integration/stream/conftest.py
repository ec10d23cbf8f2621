"""Fixtures for stream integration tests: real peers on loopback (Redis, HTTP receivers)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.plugins.processes import free_port


class RedisServer:
    """A real redis-server (Debian package, hack/install-debian.sh) on a free loopback port,
    which a test may stop and start again on the same port. With ``durable``, its data
    survives that (append-only file, fsync per write), as a production Redis's would."""

    def __init__(self, workdir: Path, durable: bool = False) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server missing: run hack/install-debian.sh"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if durable else [
            "--appendonly", "no"]
        self._args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                      "--dir", str(workdir), *persistence]
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(self._args, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self._proc.kill()
                    raise
                time.sleep(0.1)
        client.close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()  # a clean shutdown: the append-only file is complete
            self._proc.wait(timeout=10)
            self._proc = None


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), durable=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()
