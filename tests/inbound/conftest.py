"""An inbound store on a fresh database (SQLite, and PostgreSQL where it matters), a document
store in the test's directory, and fax TIFFs to receive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from faxout.accounts.repo import AccountRepo
from faxout.blobs.local import LocalBlobStore
from faxout.clock import FrozenClock
from faxout.db.engine import make_engine
from faxout.db.migrate import upgrade
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.settings import Inbound
from faxout.inbound.store import InboundStore
from tests.inbound.faxfiles import fax_tiff

__all__ = ["fax_tiff"]


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.conftest_pg")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database at the newest migration, on each engine."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'faxout.db'}")
        upgrade(engine)
    else:
        engine = make_engine(str(request.getfixturevalue("pg_migrated_url")))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "documents", tmp_path / "spool-up")


@pytest.fixture
def inboxes(engine: Engine, clock: FrozenClock) -> InboxRepo:
    return InboxRepo(engine, clock)


@pytest.fixture
def store(
    engine: Engine, blobs: LocalBlobStore, inboxes: InboxRepo, clock: FrozenClock, tmp_path: Path
) -> InboundStore:
    return InboundStore(
        engine,
        blobs,
        inboxes,
        Inbound(),
        tmp_path / "inbound",
        clock=clock,
        receiver="test@here",
    )


@pytest.fixture
def accounts(engine: Engine) -> AccountRepo:
    return AccountRepo(engine)
