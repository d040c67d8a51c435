"""Engine set-up for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when ``COMMIT`` returns,
which is what lets the FaxOut endpoint answer ``0`` right after it (WAL with ``NORMAL`` may lose
the last commits on power loss). Every write transaction (``transaction()``) starts with
``BEGIN IMMEDIATE`` so a read-then-write transaction waits for the writer lock (``busy_timeout``)
instead of failing with ``SQLITE_BUSY`` at its first write; read-only connections begin deferred
and, in WAL mode, never wait for a writer.

PostgreSQL (distributed mode) goes through psycopg 3 (``postgresql+psycopg://``; a bare
``postgresql://`` or ``postgres://`` URL is taken to mean that driver) at READ COMMITTED, where
an ``UPDATE … WHERE state = …`` that waited for another writer re-checks its condition on the
new row version: the compare-and-set transitions need exactly that. The server does its own
locking, so ``transaction()`` is a plain ``BEGIN … COMMIT`` there.
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
from sqlalchemy.engine import URL, make_url

from faxout.errors import DatabaseError
from faxout.files import create_private, private_dir

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "faxout_write"  # execution option marking a transaction that will write

PG_DRIVER = "postgresql+psycopg"
PG_POOL_SIZE = 8  # per process; API and worker processes each hold their own pool
PG_MAX_OVERFLOW = 8
PG_POOL_RECYCLE_S = 1800  # below common idle timeouts of proxies and load balancers
# libpq parameters used unless the URL's query string sets them.
PG_CONNECT_DEFAULTS: dict[str, object] = {"connect_timeout": 10, "application_name": "faxout"}


def shown_url(url: str) -> str:
    """``url`` fit for a terminal or a log: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "(a database URL that cannot be parsed)"


def without_password(message: str, url: str) -> str:
    """``message`` (a driver's error, say) with the password of ``url`` replaced by ``***``."""
    try:
        password = make_url(url).password
    except exc.ArgumentError:
        return message
    return message.replace(str(password), "***") if password else message


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``, preparing the SQLite file's directory when needed."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=PG_DRIVER)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return _postgresql_engine(parsed)
    if backend != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        private_dir(Path(parsed.database).parent)
        # 0600 before SQLite creates it: its -wal and -shm files copy the database's mode.
        create_private(Path(parsed.database))
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


def _postgresql_engine(url: URL) -> Engine:
    connect_args = {k: v for k, v in PG_CONNECT_DEFAULTS.items() if k not in url.query}
    return create_engine(
        url,
        connect_args=connect_args,
        isolation_level="READ COMMITTED",  # pinned: the server default may be stricter
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        pool_pre_ping=True,  # a restarted server or a dropped idle connection is not an error
        pool_recycle=PG_POOL_RECYCLE_S,
    )


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
def database_errors() -> Iterator[None]:
    """The boundary of SQLAlchemy: any of its exceptions inside surfaces as ``DatabaseError``
    (with the driver's words), so no caller ever has to catch a foreign exception."""
    try:
        yield
    except exc.SQLAlchemyError as err:
        raise DatabaseError(f"database error: {err.__class__.__name__}: {err}") from err


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One committed write transaction; database failures surface as ``DatabaseError``.

    On SQLite it begins with ``BEGIN IMMEDIATE`` behind the write gate; on PostgreSQL it is a
    plain transaction (row locks are taken by the statements themselves).
    """
    gate = _GATES.get(engine)
    options = {WRITE_OPTION: True} if engine.dialect.name == "sqlite" else {}
    with (
        database_errors(),
        gate.held() if gate else nullcontext(),
        engine.connect().execution_options(**options) as conn,
        conn.begin(),
    ):
        yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only connection (no write lock); database failures surface as ``DatabaseError``,
    as they do for ``transaction``, so no caller ever sees an SQLAlchemy exception."""
    with database_errors(), engine.connect() as conn:
        yield conn
