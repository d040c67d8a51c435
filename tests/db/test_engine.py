"""Engine set-up: the PostgreSQL settings, transactions and compare-and-set on both engines."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, insert, make_url, select, text, update
from sqlalchemy.pool import QueuePool

from faxout.accounts.repo import AccountError, AccountRepo
from faxout.blobs.memory import MemoryBlobStore
from faxout.db.engine import make_engine, transaction
from faxout.db.tables import accounts, jobs
from faxout.errors import DatabaseError
from tests.accepting import accept
from tests.db.records import NOW, THREADS, add_account, new_submission
from tests.pgserver import PgServer
from tests.procs import free_port


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@db.example/faxout",
        "postgres://u@db.example/faxout",
        "postgresql+psycopg://u@db.example/faxout",
    ],
)
def test_postgresql_urls_use_psycopg3(url: str) -> None:
    engine = make_engine(url)  # no connection is made
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    assert engine.url.database == "faxout"


def test_postgresql_connection_settings(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.get_isolation_level() == "READ COMMITTED"
            assert conn.execute(text("SHOW application_name")).scalar_one() == "faxout"
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() == 8
    finally:
        engine.dispose()


def test_postgresql_isolation_is_pinned_and_url_parameters_win(pg_url: str) -> None:
    name = make_url(pg_url).database
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        conn.execute(
            text(f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'serializable'")
        )
        conn.commit()
    engine.dispose()
    engine = make_engine(pg_url + "?application_name=dispatcher")
    try:
        with engine.connect() as conn:
            assert conn.get_isolation_level() == "READ COMMITTED"
            assert conn.execute(text("SHOW application_name")).scalar_one() == "dispatcher"
    finally:
        engine.dispose()


def test_unreachable_postgresql_is_a_database_error() -> None:
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    try:
        with pytest.raises(DatabaseError, match="OperationalError"), transaction(engine):
            pass
    finally:
        engine.dispose()


def test_constraint_violation_is_a_database_error(engine: Engine) -> None:
    add_account(engine)
    row = {
        "username": "15551230000",
        "email": "x@example.com",
        "name": "",
        "password_hash": "h",
        "fax_prohibited": False,
        "created_at": NOW,
        "updated_at": NOW,
    }
    with pytest.raises(DatabaseError, match="IntegrityError"), transaction(engine) as conn:
        conn.execute(insert(accounts).values(**row))


def test_compare_and_set_has_one_winner(engine: Engine) -> None:
    """``UPDATE … WHERE version = n`` from 8 threads at once: exactly one row count of 1."""
    account = add_account(engine)
    accept(engine, new_submission(account.id, MemoryBlobStore(), recipients=1))
    with engine.connect() as conn:
        job_id = conn.execute(select(jobs.c.id)).scalar_one()
    barrier = threading.Barrier(THREADS)

    def claim(worker: int) -> int:
        barrier.wait(timeout=30)
        with transaction(engine) as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.version == 0, jobs.c.state == "accepted")
                .values(state="claimed", version=jobs.c.version + 1, name=f"w{worker}")
            )
            return int(result.rowcount)

    with ThreadPoolExecutor(THREADS) as pool:
        counts = list(pool.map(claim, range(THREADS)))
    assert sorted(counts) == [0] * (THREADS - 1) + [1]
    with engine.connect() as conn:
        row = conn.execute(select(jobs.c.state, jobs.c.version, jobs.c.name)).one()
    assert (row.state, row.version) == ("claimed", 1)
    assert row.name == f"w{counts.index(1)}"


def test_more_threads_than_the_pool_all_commit(engine: Engine) -> None:
    """Writers beyond pool_size + max_overflow wait for a connection rather than failing."""
    barrier = threading.Barrier(20)

    def add(i: int) -> None:
        barrier.wait(timeout=30)
        AccountRepo(engine).add(f"1555{i:04d}", email="a@example.com", password_hash="h", now=NOW)

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(add, range(20)))
    assert AccountRepo(engine).count() == 20


def test_concurrent_add_of_one_username(engine: Engine, request: pytest.FixtureRequest) -> None:
    """Losers of the race get ``AccountError`` on both engines."""
    for round_ in range(10):
        barrier = threading.Barrier(THREADS)
        user = f"1555{round_:04d}"

        def add(_: int, user: str = user, barrier: threading.Barrier = barrier) -> str:
            barrier.wait(timeout=30)
            try:
                AccountRepo(engine).add(user, email="a@example.com", password_hash="h", now=NOW)
            except AccountError:
                return "refused"
            return "added"

        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = sorted(pool.map(add, range(THREADS)))
        assert outcomes == ["added"] + ["refused"] * (THREADS - 1)


def test_pg_server_runs_unprivileged_and_stops_by_pid() -> None:
    server = PgServer.start()
    pid = server.process.pid
    try:
        with open(f"/proc/{pid}/status") as fh:
            uids = next(line for line in fh if line.startswith("Uid:")).split()[1:]
        assert "0" not in uids
        engine = make_engine(server.url("postgres"))
        with engine.connect() as conn:
            assert conn.execute(text("SHOW fsync")).scalar_one() == "off"
            assert conn.execute(text("SHOW listen_addresses")).scalar_one() == "127.0.0.1"
        engine.dispose()
    finally:
        server.stop()
    assert server.process.returncode == 0  # fast shutdown completed
    assert not server.base.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_created_databases_are_independent(pg_server: PgServer) -> None:
    first, second = pg_server.create_database(), pg_server.create_database()
    try:
        engines = [make_engine(pg_server.url(name)) for name in (first, second)]
        with transaction(engines[0]) as conn:
            conn.execute(text("CREATE TABLE only_here (x int)"))
        with engines[1].connect() as conn:
            assert conn.execute(text("SELECT to_regclass('only_here')")).scalar() is None
        for e in engines:
            e.dispose()
    finally:
        pg_server.drop_database(first)
        pg_server.drop_database(second)
