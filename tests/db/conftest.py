"""Engines for the database tests: every fixture here runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from faxout.db.engine import make_engine
from faxout.db.migrate import upgrade

ENGINES = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    # The PostgreSQL fixtures; a no-op when tests/conftest.py already lists the plugin.
    config.pluginmanager.import_plugin("tests.conftest_pg")


@pytest.fixture(params=ENGINES)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL naming an empty database on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'faxout.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def empty_engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database at the newest migration, on each engine."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'faxout.db'}")
        upgrade(engine)
    else:
        engine = make_engine(str(request.getfixturevalue("pg_migrated_url")))
    try:
        yield engine
    finally:
        engine.dispose()
