"""Opening the history database: the URL comes from a Secret (``HYBRID_SINK_URL``) and may
carry a password, so no message built here contains it, and :func:`redact_url` is what
any caller shows instead."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from hybridstream.history.schema import migrate

#: seconds to open a connection and to run one statement: a database that hangs fails the
#: attempt (retried by the pipeline) rather than stalling the drain for ever
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 10.0


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (host, port and database kept)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def describe(exc: BaseException) -> str:
    """An error without anything from the URL: the class, and PostgreSQL's SQLSTATE if any
    (a server message may quote a role or database name, never needed to act on it)."""
    code = getattr(exc, "sqlstate", None)
    return f"{exc.__class__.__name__}" + (f" (SQLSTATE {code})" if code else "")


async def connect(url: str, *, migrate_schema: bool = True) -> asyncpg.Connection:
    """A connection with the schema brought to this build's version."""
    conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT)
    if migrate_schema:
        try:
            await migrate(conn)
        except BaseException:
            conn.terminate()
            raise
    return conn
