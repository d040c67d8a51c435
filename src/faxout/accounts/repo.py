"""Account records: add, change, remove, look up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from faxout.accounts.pagestyle import PageStyle, page_columns
from faxout.db.engine import reading, transaction
from faxout.db.tables import accounts, submissions
from faxout.jobs.dialplan import dialling_columns, patterns_of
from faxout.jobs.numbers import normalize_username

# Deliberately loose: the mail relay is the judge; this only catches typos like a missing '@'.
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$|^[^@\s<>\"',;]+@localhost$")


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Account:
    """A sender."""

    id: int
    username: str
    email: str
    name: str
    password_hash: str
    fax_prohibited: bool
    created_at: datetime
    region: str = ""  # where its national numbers are read; "": the country of its number
    dial_allow: tuple[str, ...] = ()  # number patterns (faxout.jobs.dialplan); empty: any
    dial_deny: tuple[str, ...] = ()
    time_zone: str = ""  # the header's zone; "": the server's
    station: str = ""  # its TSI; "": the server's, else its number
    tagline: str = ""  # its header format; "": the server's
    paper: str = ""  # "": by each recipient's country
    operator: bool = False  # also runs the server from the web console
    unlocked_at: datetime | None = None  # login locks set before this are void
    # days its sent documents and received images are kept once final (0: until deleted);
    # None: the server's inbound.retention_days (faxout.inbound.retention)
    retention_days: int | None = None


MAX_RETENTION_DAYS = 36500  # as inbound.retention_days


@dataclass(frozen=True)
class Retention:
    """What ``AccountRepo.update`` sets an account's retention to: ``days`` (0: kept until
    deleted), or None for the server's ``inbound.retention_days``."""

    days: int | None

    def column(self) -> int | None:
        """The value of ``accounts.retention_days``; ``AccountError`` when out of range."""
        if self.days is not None and not 0 <= self.days <= MAX_RETENTION_DAYS:
            raise AccountError(
                f"retention: {self.days} days is not from 0 (keep until deleted) "
                f"to {MAX_RETENTION_DAYS}"
            )
        return self.days


def validate_email(email: str) -> str:
    """Return the trimmed address or raise ``AccountError``."""
    value = email.strip()
    if not _EMAIL.match(value) or len(value) > 320:
        raise AccountError(f"{email!r} is not an email address")
    return value


def _row_to_account(row: object) -> Account:
    m = row._mapping  # type: ignore[attr-defined]
    return Account(
        id=m["id"],
        username=m["username"],
        email=m["email"],
        name=m["name"],
        password_hash=m["password_hash"],
        fax_prohibited=bool(m["fax_prohibited"]),
        created_at=m["created_at"],
        region=m["region"],
        dial_allow=patterns_of(m["dial_allow"]),
        dial_deny=patterns_of(m["dial_deny"]),
        time_zone=m["time_zone"],
        station=m["station"],
        tagline=m["tagline"],
        paper=m["paper"],
        operator=bool(m["operator"]),
        unlocked_at=m["unlocked_at"],
        retention_days=m["retention_days"],
    )


def _pages(style: PageStyle | None) -> dict[str, str]:
    columns = page_columns(style or PageStyle())
    if isinstance(columns, str):
        raise AccountError(columns)
    return columns


def _dialling(
    region: str | None, allow: tuple[str, ...] | None, deny: tuple[str, ...] | None
) -> dict[str, str]:
    columns = dialling_columns(region, allow, deny)
    if isinstance(columns, str):
        raise AccountError(columns)
    return columns


class AccountRepo:
    """Accounts in the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, username: str) -> Account | None:
        """The account with this (already normalised) username."""
        with reading(self._engine) as conn:
            row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
        return _row_to_account(row) if row else None

    def by_id(self, account_id: int) -> Account | None:
        """The account with this id (a console session keeps the id)."""
        with reading(self._engine) as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        return _row_to_account(row) if row else None

    def list(self) -> list[Account]:
        """Every account, by username."""
        with reading(self._engine) as conn:
            rows = conn.execute(select(accounts).order_by(accounts.c.username)).all()
        return [_row_to_account(r) for r in rows]

    def count(self) -> int:
        """How many accounts exist."""
        with reading(self._engine) as conn:
            return int(conn.execute(select(func.count()).select_from(accounts)).scalar_one())

    def add(
        self,
        username: str,
        *,
        email: str,
        password_hash: str,
        now: datetime,
        name: str = "",
        fax_prohibited: bool = False,
        region: str = "",
        dial_allow: tuple[str, ...] | None = None,
        dial_deny: tuple[str, ...] | None = None,
        pages: PageStyle | None = None,
        operator: bool = False,
    ) -> Account:
        """Create an account; raises ``AccountError`` if the username is taken or invalid."""
        user = normalize_username(username)
        values: dict[str, object] = {
            **_dialling(region, dial_allow, dial_deny),
            **_pages(pages),
            "username": user,
            "email": validate_email(email),
            "name": name.strip(),
            "password_hash": password_hash,
            "fax_prohibited": fax_prohibited,
            "operator": operator,
            "created_at": now,
            "updated_at": now,
        }
        with transaction(self._engine) as conn:
            taken = conn.execute(select(accounts.c.id).where(accounts.c.username == user)).first()
            if taken is not None:
                raise AccountError(f"account {user} already exists")
            try:
                conn.execute(insert(accounts).values(**values))
            except IntegrityError as exc:  # lost a race with a concurrent add (PostgreSQL)
                raise AccountError(f"account {user} already exists") from exc
        account = self.get(user)
        assert account is not None
        return account

    def update(
        self,
        username: str,
        *,
        now: datetime,
        email: str | None = None,
        name: str | None = None,
        password_hash: str | None = None,
        fax_prohibited: bool | None = None,
        region: str | None = None,
        dial_allow: tuple[str, ...] | None = None,
        dial_deny: tuple[str, ...] | None = None,
        pages: PageStyle | None = None,
        operator: bool | None = None,
        unlocked_at: datetime | None = None,
        retention: Retention | None = None,
    ) -> Account:
        """Change the given fields (None: unchanged); raises ``AccountError`` when there is no
        such account."""
        user = normalize_username(username)
        values: dict[str, object] = {
            "updated_at": now,
            **_dialling(region, dial_allow, dial_deny),
            **_pages(pages),
        }
        if email is not None:
            values["email"] = validate_email(email)
        if name is not None:
            values["name"] = name.strip()
        if password_hash is not None:
            values["password_hash"] = password_hash
        if fax_prohibited is not None:
            values["fax_prohibited"] = fax_prohibited
        if operator is not None:
            values["operator"] = operator
        if unlocked_at is not None:
            values["unlocked_at"] = unlocked_at
        if retention is not None:
            values["retention_days"] = retention.column()
        with transaction(self._engine) as conn:
            result = conn.execute(
                update(accounts).where(accounts.c.username == user).values(**values)
            )
        if result.rowcount == 0:
            raise AccountError(f"there is no account {user}")
        account = self.get(user)
        assert account is not None
        return account

    def remove(self, username: str) -> None:
        """Delete an account that has never submitted; otherwise say to prohibit it instead."""
        user = normalize_username(username)
        with transaction(self._engine) as conn:
            row = conn.execute(select(accounts.c.id).where(accounts.c.username == user)).first()
            if row is None:
                raise AccountError(f"there is no account {user}")
            used = conn.execute(
                select(func.count())
                .select_from(submissions)
                .where(submissions.c.account_id == row.id)
            ).scalar_one()
            if used:
                raise AccountError(
                    f"account {user} has {used} submission(s) on record; keep its history and "
                    f"stop it with `faxout user set {user} --fax-prohibited` instead"
                )
            conn.execute(delete(accounts).where(accounts.c.id == row.id))
