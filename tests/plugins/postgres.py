"""A real PostgreSQL server (Debian's ``postgresql``, hack/install-debian.sh) for tests: a
throwaway cluster made by ``initdb`` in a temporary directory, listening on a free loopback
port with password authentication (so that the redaction of URLs is tested for real).

``postgres_server`` (session) is shared; ``postgres_url`` is a fresh database on it per
test. ``postgres_factory()`` starts a server of the test's own, which it may stop and start
again on the same port (a database outage).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest

from tests.plugins.processes import LoggedProcess, free_port
from tests.plugins.waiting import wait_for

USER = "hybridstream"
PASSWORD = "pg-test-secret-8d1f"  # a test-only password: tests assert it never leaks
_databases = count(1)


def find_bindir() -> Path:
    """Where ``initdb``/``postgres`` live: on PATH, else Debian's versioned directory."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    assert found, "PostgreSQL missing: run hack/install-debian.sh (Debian package postgresql)"
    return Path(found[-1]).parent


class PostgresServer:
    """One cluster; ``start``/``stop`` keep its data and port."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        # PostgreSQL refuses to run as root: as root, the cluster belongs to the Debian
        # package's "postgres" user (pytest's own temp dirs are private to root)
        self._user = "postgres" if os.geteuid() == 0 else None
        self.workdir = Path(tempfile.mkdtemp(prefix="hs-postgres-"))
        self.data = self.workdir / "data"
        self.port = free_port()
        self._proc: LoggedProcess | None = None
        self._started = False
        (self.workdir / "pw").write_text(PASSWORD + "\n")
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
            os.chown(self.workdir / "pw", entry.pw_uid, entry.pw_gid)
        subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER,
                        "--pwfile", str(self.workdir / "pw"), "--auth", "scram-sha-256",
                        "--encoding", "UTF8", "--no-sync"],
                       check=True, capture_output=True, user=self._user)

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # Two xdist workers may be handed the same free port: the second postmaster cannot
        # bind and exits, while the first one's answers ``SELECT 1`` with the same user and
        # password. Only our own data directory answering counts; a first start that lost
        # the port tries another (a restart keeps its port: callers hold URLs with it).
        for attempt in range(3):
            proc = self._proc = LoggedProcess(
                [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1",
                 "-c", f"unix_socket_directories={self.workdir}", "-c", "max_connections=50"],
                self.workdir / "server.log", user=self._user)
            try:
                wait_for(lambda p=proc: p.alive() and self._serving_our_data(),
                         timeout=30, interval=0.1, what="postgres to accept connections",
                         describe=proc.tail)
            except TimeoutError:
                lost_port = not proc.alive() and not self._started
                self.stop()
                if lost_port and attempt < 2:
                    self.port = free_port()
                    continue
                raise
            self._started = True
            return

    def _serving_our_data(self) -> bool:
        shown = self.psql("SHOW data_directory", check=False)
        return shown.returncode == 0 and shown.stdout.strip() == str(self.data)

    def stop(self) -> None:
        """A fast shutdown (SIGINT): open transactions are rolled back, as in a failover."""
        if self._proc is not None:
            self._proc.stop(timeout=30, sig=signal.SIGINT)
        self._proc = None

    def psql(self, sql: str, database: str = "postgres",
             check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``sql`` with the cluster's ``psql``; tuples only, ``|``-separated."""
        return subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database, "-c", sql],
            check=check, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "2"})

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"hs_test_{os.getpid()}_{next(_databases)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """An empty database of its own on the shared server."""
    return postgres_server.create_database()


@pytest.fixture
def postgres_factory() -> Iterator[Callable[[], PostgresServer]]:
    """Started servers of the test's own (stop/start them at will); removed at the end."""
    servers: list[PostgresServer] = []

    def start() -> PostgresServer:
        server = PostgresServer()
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.remove()
