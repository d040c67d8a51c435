"""The assembled services one process runs on: settings, database, document store, auth, clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from faxout.accounts.passwords import Passwords
from faxout.accounts.repo import AccountRepo
from faxout.blobs.factory import open_store
from faxout.blobs.store import BlobStore
from faxout.clock import Clock, SystemClock
from faxout.db.engine import make_engine
from faxout.files import private_dir
from faxout.intake.auth import Authenticator
from faxout.jobs.repo import JobRepo
from faxout.ops.settings import Settings


@dataclass
class Gateway:
    """What the HTTP app and the CLI commands work with."""

    settings: Settings
    engine: Engine
    store: BlobStore
    clock: Clock
    accounts: AccountRepo
    jobs: JobRepo
    passwords: Passwords
    authenticator: Authenticator

    def installed_covers(self) -> list[str]:
        """Names of the cover pages: those shipped and those in the cover-page directory."""
        from faxout.render.cover import cover_names

        return cover_names(self.settings.coverpages_path)


def build_gateway(
    settings: Settings, *, clock: Clock | None = None, store: BlobStore | None = None
) -> Gateway:
    """Wire the real services for ``settings`` (a test may hand in its own clock or store)."""
    clock = clock or SystemClock()
    private_dir(settings.data_dir)
    engine = make_engine(settings.db_url)
    store = store or open_store(settings.store_url, settings.data_dir)
    accounts = AccountRepo(engine)
    passwords = Passwords(settings.auth)
    return Gateway(
        settings=settings,
        engine=engine,
        store=store,
        clock=clock,
        accounts=accounts,
        jobs=JobRepo(engine),
        passwords=passwords,
        authenticator=Authenticator(accounts, passwords, settings.auth, clock),
    )
