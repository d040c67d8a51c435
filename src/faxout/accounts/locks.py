"""Login locks on record: what the throttle (``faxout.intake.auth``) locked, for every worker.

The throttle itself lives in each process's memory (it is the fast path of every login); a row
here is written only when a lock starts, so an operator sees every worker's locks
(``faxout user locks``, the console's admin page) and can lift them (``unlock``). Lifting one
deletes the account's rows and stamps ``accounts.unlocked_at``: each worker's throttle treats a
lock that started before that stamp as void once it rereads the account row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from faxout.accounts.repo import AccountError
from faxout.db.engine import reading, transaction
from faxout.db.tables import accounts, login_locks
from faxout.jobs.numbers import normalize_username

# The columns' widths (faxout.db.tables): a longer value would fail on PostgreSQL.
_USERNAME_MAX = 40
_ADDR_MAX = 64


@dataclass(frozen=True)
class Lock:
    """One (username, client address) pair the throttle refuses until ``locked_until``."""

    username: str
    client_addr: str
    locked_at: datetime
    locked_until: datetime


def _lock(row: Any) -> Lock:
    return Lock(row.username, row.client_addr, row.locked_at, row.locked_until)


class LoginLocks:
    """The ``login_locks`` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, username: str, client_addr: str, locked_at: datetime, until: datetime) -> None:
        """Note a lock that just started; rows that have run out go on the way (locks are rare,
        so this is where the table is kept small)."""
        with transaction(self._engine) as conn:
            conn.execute(delete(login_locks).where(login_locks.c.locked_until < locked_at))
            conn.execute(
                insert(login_locks).values(
                    username=username[:_USERNAME_MAX],
                    client_addr=client_addr[:_ADDR_MAX],
                    locked_at=locked_at,
                    locked_until=until,
                )
            )

    def active(self, now: datetime) -> list[Lock]:
        """The locks still in force at ``now``, by username then address. A lock lifted by
        ``unlock`` has no row left, so what is listed is what still refuses logins."""
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(login_locks)
                .where(login_locks.c.locked_until >= now)
                .order_by(login_locks.c.username, login_locks.c.client_addr, login_locks.c.id)
            ).all()
        return [_lock(r) for r in rows]

    def unlock(self, username: str, now: datetime) -> list[Lock]:
        """Lift every lock of the account ``username``, in every worker (within
        ``auth.account_cache_seconds``); the locks that were in force. Raises ``AccountError``
        when there is no such account."""
        user = normalize_username(username)
        with transaction(self._engine) as conn:
            rows = conn.execute(
                select(login_locks)
                .where(login_locks.c.username == user, login_locks.c.locked_until >= now)
                .order_by(login_locks.c.client_addr, login_locks.c.id)
            ).all()
            stamped = conn.execute(
                update(accounts)
                .where(accounts.c.username == user)
                .values(unlocked_at=now, updated_at=now)
            )
            if stamped.rowcount == 0:
                raise AccountError(f"there is no account {user}")
            conn.execute(delete(login_locks).where(login_locks.c.username == user))
        return [_lock(r) for r in rows]
