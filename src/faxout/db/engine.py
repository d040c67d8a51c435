"""Engine set-up for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when ``COMMIT`` returns,
which is what lets the FaxOut endpoint answer ``0`` right after it (WAL with ``NORMAL`` may lose
the last commits on power loss). Every write transaction (``transaction()``) starts with
``BEGIN IMMEDIATE`` so a read-then-write transaction waits for the writer lock (``busy_timeout``)
instead of failing with ``SQLITE_BUSY`` at its first write; read-only connections begin deferred
and, in WAL mode, never wait for a writer.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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

    if parsed.database and parsed.database != ":memory:":
        _GATES[engine] = _WriteGate(Path(parsed.database + ".writelock"))

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


class _WriteGate:
    """One SQLite writer at a time across threads and processes, queued rather than polling.

    SQLite's own busy handler sleeps in growing steps (up to 100 ms) while another connection
    writes; waiting on a thread lock and an ``flock`` instead wakes the next writer the moment
    the previous one commits.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


_GATES: weakref.WeakKeyDictionary[Engine, _WriteGate] = weakref.WeakKeyDictionary()


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One committed write transaction; database failures surface as ``DatabaseError``."""
    gate = _GATES.get(engine)
    try:
        with (
            gate.held() if gate else nullcontext(),
            engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
            conn.begin(),
        ):
            yield conn
    except exc.SQLAlchemyError as err:
        raise DatabaseError(f"database error: {err.__class__.__name__}: {err}") from err
