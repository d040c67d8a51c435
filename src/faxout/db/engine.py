"""Engine set-up for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when ``COMMIT`` returns,
which is what lets the FaxOut endpoint answer ``0`` right after it (WAL with ``NORMAL`` may lose
the last commits on power loss). Every write transaction (``transaction()``) starts with
``BEGIN IMMEDIATE`` so a read-then-write transaction waits for the writer lock (``busy_timeout``)
instead of failing with ``SQLITE_BUSY`` at its first write; read-only connections begin deferred
and, in WAL mode, never wait for a writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from faxout.errors import DatabaseError

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "faxout_write"  # execution option marking a transaction that will write


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``, preparing the SQLite file's directory when needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control away from the driver so we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front; readers stay deferred so (in WAL) they never wait.
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One committed transaction; database failures surface as ``DatabaseError``."""
    try:
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn
    except exc.SQLAlchemyError as err:
        raise DatabaseError(f"database error: {err.__class__.__name__}: {err}") from err
