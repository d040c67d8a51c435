"""What the address book is made of: its records, its rules and the statements it shares.

``faxout.accounts.contacts`` (the ``AddressBook``) and ``faxout.accounts.contactcsv`` (import
and export) build on these; callers use those two. Functions taking a ``Connection`` run inside
the caller's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import phonenumbers as pn
from sqlalchemy import ColumnElement, Connection, Table, func, insert, select

from faxout.accounts.repo import Account
from faxout.db.tables import accounts, contact_group_members, contact_groups, contacts
from faxout.jobs.dialplan import DialPolicy
from faxout.jobs.numbers import Number, Refused, read_number
from faxout.text import quoted

MAX_CONTACTS = 10_000  # per account
MAX_GROUPS = 500  # per account
MAX_NAME_CHARS = 200  # the columns' sizes
MAX_COMPANY_CHARS = 200
MAX_GROUP_CHARS = 100
MAX_NUMBER_CHARS = 64
CHUNK = 500  # ids in one IN (...): far below any driver's limit on parameters
_KEY_DIGITS = 6  # trailing digits that make two numbers worth reading to compare
# What a number search ignores, in the query and in the stored numbers alike.
SEARCH_PUNCT = re.compile(r"[\s\-./()+]+")
_NON_DIGIT = re.compile(r"[^0-9]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class ContactError(ValueError):
    """An address-book change that cannot be made; the message says what to do instead, and
    ``field`` which of the values given is wrong ("name", "number", "company", "group"; ""
    when none is)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(ContactError):
    """No such contact or group in this account's book (another account's is not found)."""


@dataclass(frozen=True)
class Contact:
    """One entry of an address book; ``number`` as typed (trimmed)."""

    id: int
    name: str
    number: str
    company: str
    created_at: datetime
    updated_at: datetime
    group_ids: tuple[int, ...] = ()

    @property
    def recipient(self) -> str:
        """The contact as a recipient line (``number|name``) for a submission."""
        return f"{self.number}|{self.name}"


@dataclass(frozen=True)
class Group:
    """A named set of an account's contacts."""

    id: int
    name: str
    created_at: datetime
    member_ids: tuple[int, ...] = ()

    @property
    def members(self) -> int:
        """How many contacts are in the group."""
        return len(self.member_ids)


def dial_policy(account: Account, reachable: tuple[str, ...] = ()) -> DialPolicy:
    """How ``account``'s submissions read and allow numbers (``reachable``: the line's
    fictional prefixes)."""
    return DialPolicy.for_account(
        account.username, account.region, account.dial_allow, account.dial_deny, reachable
    )


def clean_text(value: str, what: str, limit: int, *, required: bool = True, field: str = "") -> str:
    """``value`` on one line with its white space folded, or ``ContactError`` saying why not
    (about ``field``: ``what`` by default)."""
    field = field or what
    text = " ".join(_CONTROL.sub(" ", value).split())
    if required and not text:
        raise ContactError(f"give the {what}", field)
    if len(text) > limit:
        raise ContactError(f"the {what} is longer than {limit} characters: shorten it", field)
    return text


def checked_number(value: str, policy: DialPolicy) -> tuple[str, str]:
    """The number as typed (trimmed) and its E.164 form, or ``ContactError`` with the reason a
    submission would give."""
    typed = " ".join(value.split())
    if len(typed) > MAX_NUMBER_CHARS:
        raise ContactError(f"the fax number is longer than {MAX_NUMBER_CHARS} characters", "number")
    read = policy.read(typed)
    if isinstance(read, Refused):
        if not typed:
            raise ContactError("give the fax number", "number")
        raise ContactError(f"fax number {quoted(typed)}: {read.reason}", "number")
    return typed, read.e164


def _key(number: str) -> str:
    """The trailing digits of a typed number (keypad letters read as digits): two numbers can
    only be the same if one's E.164 digits end with the other's key."""
    digits = _NON_DIGIT.sub("", pn.convert_alpha_characters_in_number(number))
    return digits[-_KEY_DIGITS:]


def reads_as(number: str, policy: DialPolicy) -> str | None:
    """The E.164 form of a stored number, the allow and deny lists aside (a contact saved
    before they changed is still the same number)."""
    read = read_number(number, policy.region, home=policy.home, reachable=policy.reachable)
    return read.e164 if isinstance(read, Number) else None


def escaped(text: str) -> str:
    """``text`` for a LIKE pattern, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def compact(column: ColumnElement[str]) -> ColumnElement[str]:
    """``column`` without the punctuation people write numbers with, in SQL."""
    for char in " -./()+":
        column = func.replace(column, char, "")
    return column


def chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    """``ids`` in slices of at most ``CHUNK``."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def contact_of(row: object, group_ids: tuple[int, ...] = ()) -> Contact:
    """A ``contacts`` row as a ``Contact``."""
    m = row._mapping  # type: ignore[attr-defined]
    return Contact(
        id=m["id"],
        name=m["name"],
        number=m["number"],
        company=m["company"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        group_ids=group_ids,
    )


def lock_account(conn: Connection, account_id: int) -> None:
    """Hold ``account_id``'s row until the transaction ends (PostgreSQL; SQLite writers are
    serialised already), or ``NotFoundError`` when there is no such account."""
    row = conn.execute(
        select(accounts.c.id).where(accounts.c.id == account_id).with_for_update()
    ).first()
    if row is None:
        raise NotFoundError("there is no such account")


class NumberIndex:
    """The numbers of a book, to find a number however it was typed: reading every stored
    number takes a second for a full book, so they are filed by their trailing digits and only
    the few that end like the number sought are read."""

    def __init__(self, policy: DialPolicy) -> None:
        self._policy = policy
        self._by_key: dict[str, list[tuple[int, str, str]]] = {}
        self._read: dict[int, str | None] = {}

    def add(self, contact_id: int, name: str, number: str) -> None:
        """File one stored contact."""
        self._by_key.setdefault(_key(number), []).append((contact_id, name, number))

    def find(self, e164: str, *, other_than: int = 0) -> tuple[int, str] | None:
        """The id and name of a contact whose number is ``e164``, if there is one."""
        digits = e164[1:]
        keys = [digits[-_KEY_DIGITS:]] + [k for k in self._by_key if len(k) < _KEY_DIGITS]
        for key in dict.fromkeys(keys):
            for contact_id, name, number in self._by_key.get(key, ()):
                if contact_id == other_than:
                    continue
                if contact_id not in self._read:
                    self._read[contact_id] = reads_as(number, self._policy)
                if self._read[contact_id] == e164:
                    return contact_id, name
        return None

    @classmethod
    def of_account(cls, conn: Connection, account_id: int, policy: DialPolicy) -> NumberIndex:
        """The index of the account's book as it is now."""
        index = cls(policy)
        rows = conn.execute(
            select(contacts.c.id, contacts.c.name, contacts.c.number).where(
                contacts.c.account_id == account_id
            )
        ).all()
        for row in rows:
            index.add(row.id, row.name, row.number)
        return index


def duplicate_error(typed: str, name: str) -> ContactError:
    """What to say when ``typed`` is the number of the contact ``name`` already."""
    return ContactError(
        f"fax number {quoted(typed)} is already in the address book as {quoted(name)}: "
        "edit that contact instead",
        "number",
    )


def count_contacts(conn: Connection, account_id: int) -> int:
    """How many contacts the account's book holds."""
    return int(
        conn.execute(
            select(func.count()).select_from(contacts).where(contacts.c.account_id == account_id)
        ).scalar_one()
    )


def owned_ids(
    conn: Connection, table: Table, account_id: int, ids: Iterable[int], what: str
) -> list[int]:
    """``ids`` without repeats, or ``NotFoundError`` when one of them is not a row of ``table``
    (``contacts`` or ``contact_groups``) in the account's book."""
    wanted = list(dict.fromkeys(ids))
    found: set[int] = set()
    for chunk in chunks(wanted):
        found.update(
            conn.execute(
                select(table.c.id).where(table.c.account_id == account_id, table.c.id.in_(chunk))
            ).scalars()
        )
    if len(found) != len(wanted):
        raise NotFoundError(f"there is no such {what}: reload the page and pick one of the list")
    return wanted


def join_groups(conn: Connection, contact_id: int, group_ids: Iterable[int]) -> None:
    """Put a contact into groups it is not in yet."""
    have = set(
        conn.execute(
            select(contact_group_members.c.group_id).where(
                contact_group_members.c.contact_id == contact_id
            )
        ).scalars()
    )
    rows = [{"group_id": g, "contact_id": contact_id} for g in group_ids if g not in have]
    if rows:
        conn.execute(insert(contact_group_members), rows)


def group_of(conn: Connection, account_id: int, group_id: int) -> None:
    """``NotFoundError`` unless ``group_id`` is one of the account's groups."""
    found = conn.execute(
        select(contact_groups.c.id).where(
            contact_groups.c.id == group_id, contact_groups.c.account_id == account_id
        )
    ).first()
    if found is None:
        raise NotFoundError("there is no such group: it may have been deleted")


def group_named(conn: Connection, account_id: int, name: str, *, other_than: int = 0) -> int | None:
    """The id of the account's group called ``name``, case aside."""
    rows = conn.execute(
        select(contact_groups.c.id, contact_groups.c.name).where(
            contact_groups.c.account_id == account_id, contact_groups.c.id != other_than
        )
    ).all()
    folded = name.casefold()
    return next((int(r.id) for r in rows if str(r.name).casefold() == folded), None)


def new_group(conn: Connection, account_id: int, name: str, now: datetime) -> int:
    """Create a group in a locked account's book; ``ContactError`` at the limit or when the
    name is taken."""
    if group_named(conn, account_id, name) is not None:
        raise ContactError(
            f"there is a group called {quoted(name)} already: pick another name", "group"
        )
    count = conn.execute(
        select(func.count())
        .select_from(contact_groups)
        .where(contact_groups.c.account_id == account_id)
    ).scalar_one()
    if count >= MAX_GROUPS:
        raise ContactError(f"an address book holds at most {MAX_GROUPS} groups: delete one first")
    inserted = conn.execute(
        insert(contact_groups)
        .values(account_id=account_id, name=name, created_at=now)
        .returning(contact_groups.c.id)
    )
    return int(inserted.scalar_one())
