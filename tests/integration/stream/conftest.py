"""Fixtures for stream integration tests: real peers on loopback (Redis, HTTP receivers)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.plugins.processes import LoggedProcess, free_port
from tests.plugins.waiting import wait_for


class RedisServer:
    """A real redis-server (Debian package, hack/install-debian.sh) on a free loopback port,
    which a test may stop and start again on the same port. With ``durable``, its data
    survives that (append-only file, fsync per write), as a production Redis's would."""

    def __init__(self, workdir: Path, durable: bool = False) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server missing: run hack/install-debian.sh"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if durable else [
            "--appendonly", "no"]
        self._args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                      "--dir", str(workdir), *persistence]
        self._proc: LoggedProcess | None = None

    def start(self) -> None:
        proc = self._proc = LoggedProcess(self._args, self.workdir / "redis.log")
        client = redis.Redis.from_url(self.url)
        try:
            wait_for(lambda: proc.alive() and client.ping(), timeout=20, interval=0.1,
                     what=f"redis-server on port {self.port}", describe=proc.tail)
        except TimeoutError:
            self.stop()
            raise
        finally:
            client.close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()  # SIGTERM, a clean shutdown: the append-only file is complete
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
