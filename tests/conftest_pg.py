"""PostgreSQL fixtures (a pytest plugin): enable with ``pytest_plugins = ["tests.conftest_pg"]``.

- ``pg_server`` (session): one private server per test process (per xdist worker), started on
  first use and stopped by its PID at the end of the session.
- ``pg_url`` (function): a fresh, empty database for the test, as a ``postgresql+psycopg://`` URL;
  dropped afterwards.
- ``pg_module_url`` (module): the same, shared by the tests of one module.
- ``pg_migrated_url`` (function): a fresh database already at the newest migration, cloned from a
  template migrated once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgserver import PgServer

MIGRATED_TEMPLATE = "faxout_migrated"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer.start()
    try:
        yield server
    finally:
        server.stop()


def _fresh(server: PgServer, template: str = "template1") -> Iterator[str]:
    name = server.create_database(template=template)
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    yield from _fresh(pg_server)


@pytest.fixture(scope="module")
def pg_module_url(pg_server: PgServer) -> Iterator[str]:
    yield from _fresh(pg_server)


@pytest.fixture(scope="session")
def pg_migrated_template(pg_server: PgServer) -> str:
    """A database at the head migration, to clone from (never connect to it in a test)."""
    from faxout.db.engine import make_engine
    from faxout.db.migrate import upgrade

    name = pg_server.create_database(MIGRATED_TEMPLATE)
    engine = make_engine(pg_server.url(name))
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return name


@pytest.fixture
def pg_migrated_url(pg_server: PgServer, pg_migrated_template: str) -> Iterator[str]:
    yield from _fresh(pg_server, pg_migrated_template)
