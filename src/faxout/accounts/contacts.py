"""An account's address book: contacts (a name and a fax number) and named groups of them.

- A contact's number is kept as it was typed (trimmed), as people recognise it, and checked
  when it is saved the way a submission reads it for the account (``DialPolicy.read``: its
  region, its own area code, its allow and deny lists), so a number the account may not fax is
  refused with the submission's reason. Its E.164 form (``AddressBook.e164``) is what tells two
  contacts apart: one number is in a book once, however it was written.
- Every method is scoped to one account: another account's contact or group id is not found
  (``NotFoundError``, a ``ContactError``).
- Writes lock the account's row (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a
  time anyway), so two concurrent adds of one number, or past the limits, cannot both pass.
- CSV: ``import_csv`` and ``export_csv``; the format is ``faxout.accounts.contactcsv``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, Select, delete, func, insert, or_, select, update

from faxout.accounts.contactbase import (
    MAX_COMPANY_CHARS,
    MAX_CONTACTS,
    MAX_GROUP_CHARS,
    MAX_GROUPS,
    MAX_NAME_CHARS,
    SEARCH_PUNCT,
    Contact,
    ContactError,
    Group,
    NotFoundError,
    NumberIndex,
    checked_number,
    chunks,
    clean_text,
    compact,
    contact_of,
    count_contacts,
    dial_policy,
    duplicate_error,
    escaped,
    group_named,
    group_of,
    join_groups,
    lock_account,
    new_group,
    owned_ids,
    reads_as,
)
from faxout.accounts.contactcsv import write_csv
from faxout.accounts.contactimport import ImportResult, LineIssue, import_lines
from faxout.accounts.repo import Account
from faxout.db.engine import reading, transaction
from faxout.db.tables import contact_group_members, contact_groups, contacts
from faxout.jobs.dialplan import DialPolicy
from faxout.text import quoted

__all__ = [
    "MAX_CONTACTS",
    "MAX_GROUPS",
    "AddressBook",
    "Contact",
    "ContactError",
    "Group",
    "ImportResult",
    "LineIssue",
    "NotFoundError",
]

MAX_PAGE = 500  # contacts one call lists at the most


class AddressBook:
    """The address books in the database.

    ``reachable``: the E.164 prefixes of fictional numbers the line reaches (as for a
    submission), so the simulated line's numbers can be saved too.
    """

    def __init__(self, engine: Engine, reachable: tuple[str, ...] = ()) -> None:
        self._engine = engine
        self.reachable = reachable

    def policy(self, account: Account) -> DialPolicy:
        """How numbers are read and allowed for ``account``."""
        return dial_policy(account, self.reachable)

    def e164(self, account: Account, number: str) -> str | None:
        """A stored number's E.164 form for ``account`` (None: it no longer reads as one)."""
        return reads_as(number, self.policy(account))

    # Contacts

    def _query(self, account_id: int, search: str, group_id: int | None) -> Select[tuple[int]]:
        query = select(contacts.c.id).where(contacts.c.account_id == account_id)
        words = search.strip()
        if words:
            pattern = f"%{escaped(words)}%"
            matches = [
                contacts.c.name.ilike(pattern, escape="\\"),
                contacts.c.company.ilike(pattern, escape="\\"),
                contacts.c.number.ilike(pattern, escape="\\"),
            ]
            digits = SEARCH_PUNCT.sub("", words)
            if digits:  # "6505551234" finds "(650) 555-1234"
                matches.append(
                    compact(contacts.c.number).ilike(f"%{escaped(digits)}%", escape="\\")
                )
            query = query.where(or_(*matches))
        if group_id is not None:
            query = query.where(
                contacts.c.id.in_(
                    select(contact_group_members.c.contact_id)
                    .join(contact_groups)
                    .where(contact_groups.c.id == group_id)
                    .where(contact_groups.c.account_id == account_id)
                )
            )
        return query

    def contacts(
        self,
        account_id: int,
        search: str = "",
        group_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Contact]:
        """The account's contacts by name, those matching ``search`` (in the name, number or
        company, case aside) and in group ``group_id`` when given."""
        return self._listed(
            self._query(account_id, search, group_id), max(0, min(limit, MAX_PAGE)), offset
        )

    def _listed(
        self, ids: Select[tuple[int]], limit: int | None = None, offset: int = 0
    ) -> list[Contact]:
        """The contacts ``ids`` selects, by name (case aside), with their groups."""
        query = (
            select(contacts)
            .where(contacts.c.id.in_(ids))
            .order_by(func.lower(contacts.c.name), contacts.c.id)
            .limit(limit)
            .offset(max(0, offset))
        )
        with reading(self._engine) as conn:
            return self._with_groups(conn, conn.execute(query).all())

    def count(self, account_id: int, search: str = "", group_id: int | None = None) -> int:
        """How many contacts ``contacts()`` would list without a limit."""
        query = self._query(account_id, search, group_id).subquery()
        with reading(self._engine) as conn:
            return int(conn.execute(select(func.count()).select_from(query)).scalar_one())

    @staticmethod
    def _with_groups(conn: Connection, rows: Sequence[object]) -> list[Contact]:
        ids = [int(r._mapping["id"]) for r in rows]  # type: ignore[attr-defined]
        groups: dict[int, list[int]] = {i: [] for i in ids}
        for chunk in chunks(ids):
            pairs = conn.execute(
                select(contact_group_members.c.contact_id, contact_group_members.c.group_id)
                .where(contact_group_members.c.contact_id.in_(chunk))
                .order_by(contact_group_members.c.group_id)
            ).all()
            for contact_id, group_id in pairs:
                groups[contact_id].append(group_id)
        return [contact_of(r, tuple(groups[i])) for r, i in zip(rows, ids, strict=True)]

    def get(self, account_id: int, contact_id: int) -> Contact | None:
        """The account's contact ``contact_id``, or None."""
        with reading(self._engine) as conn:
            row = conn.execute(
                select(contacts).where(
                    contacts.c.id == contact_id, contacts.c.account_id == account_id
                )
            ).first()
            return self._with_groups(conn, [row])[0] if row else None

    def _fetch(self, account_id: int, contact_id: int) -> Contact:
        found = self.get(account_id, contact_id)
        if found is None:
            raise NotFoundError("there is no such contact: it may have been deleted")
        return found

    def add(
        self,
        account: Account,
        name: str,
        number: str,
        company: str = "",
        *,
        now: datetime,
        groups: Sequence[int] = (),
    ) -> Contact:
        """Add a contact (in the account's groups ``groups``); ``ContactError`` says what is
        wrong with it, or that its number is in the book already."""
        name = clean_text(name, "name", MAX_NAME_CHARS)
        company = clean_text(company, "company", MAX_COMPANY_CHARS, required=False)
        policy = self.policy(account)
        typed, e164 = checked_number(number, policy)
        with transaction(self._engine) as conn:
            lock_account(conn, account.id)
            group_ids = owned_ids(conn, contact_groups, account.id, groups, "group")
            if count_contacts(conn, account.id) >= MAX_CONTACTS:
                raise ContactError(
                    f"an address book holds at most {MAX_CONTACTS} contacts: delete some first"
                )
            same = NumberIndex.of_account(conn, account.id, policy).find(e164)
            if same is not None:
                raise duplicate_error(typed, same[1])
            contact_id = conn.execute(
                insert(contacts)
                .values(
                    account_id=account.id,
                    name=name,
                    number=typed,
                    company=company,
                    created_at=now,
                    updated_at=now,
                )
                .returning(contacts.c.id)
            ).scalar_one()
            join_groups(conn, contact_id, group_ids)
        return self._fetch(account.id, contact_id)

    def update(
        self,
        account: Account,
        contact_id: int,
        *,
        now: datetime,
        name: str | None = None,
        number: str | None = None,
        company: str | None = None,
        groups: Sequence[int] | None = None,
    ) -> Contact:
        """Change the fields given (None: unchanged; ``groups``: the groups it is in, all of
        them); ``NotFoundError`` when the account has no such contact."""
        values: dict[str, object] = {"updated_at": now}
        if name is not None:
            values["name"] = clean_text(name, "name", MAX_NAME_CHARS)
        if company is not None:
            values["company"] = clean_text(company, "company", MAX_COMPANY_CHARS, required=False)
        policy = self.policy(account)
        checked = checked_number(number, policy) if number is not None else None
        with transaction(self._engine) as conn:
            lock_account(conn, account.id)
            owned_ids(conn, contacts, account.id, [contact_id], "contact")
            if checked is not None:
                typed, e164 = checked
                index = NumberIndex.of_account(conn, account.id, policy)
                same = index.find(e164, other_than=contact_id)
                if same is not None:
                    raise duplicate_error(typed, same[1])
                values["number"] = typed
            if groups is not None:
                group_ids = owned_ids(conn, contact_groups, account.id, groups, "group")
                conn.execute(
                    delete(contact_group_members).where(
                        contact_group_members.c.contact_id == contact_id
                    )
                )
                join_groups(conn, contact_id, group_ids)
            conn.execute(update(contacts).where(contacts.c.id == contact_id).values(**values))
        return self._fetch(account.id, contact_id)

    def remove(self, account_id: int, contact_id: int) -> Contact:
        """Delete a contact (and its memberships); the contact as it was, or ``NotFoundError``."""
        gone = self._fetch(account_id, contact_id)
        with transaction(self._engine) as conn:
            result = conn.execute(
                delete(contacts).where(
                    contacts.c.id == contact_id, contacts.c.account_id == account_id
                )
            )
        if result.rowcount == 0:
            raise NotFoundError("there is no such contact: it may have been deleted")
        return gone

    # Groups

    def groups(self, account_id: int) -> list[Group]:
        """The account's groups by name, each with its members' ids."""
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(contact_groups)
                .where(contact_groups.c.account_id == account_id)
                .order_by(func.lower(contact_groups.c.name), contact_groups.c.id)
            ).all()
            pairs = conn.execute(
                select(contact_group_members.c.group_id, contact_group_members.c.contact_id)
                .join(contact_groups)
                .where(contact_groups.c.account_id == account_id)
                .order_by(contact_group_members.c.contact_id)
            ).all()
        members: dict[int, list[int]] = {int(r.id): [] for r in rows}
        for group_id, contact_id in pairs:
            members[group_id].append(contact_id)
        return [
            Group(id=r.id, name=r.name, created_at=r.created_at, member_ids=tuple(members[r.id]))
            for r in rows
        ]

    def group(self, account_id: int, group_id: int) -> Group | None:
        """The account's group ``group_id``, or None."""
        return next((g for g in self.groups(account_id) if g.id == group_id), None)

    def _fetch_group(self, account_id: int, group_id: int) -> Group:
        found = self.group(account_id, group_id)
        if found is None:
            raise NotFoundError("there is no such group: it may have been deleted")
        return found

    def add_group(self, account_id: int, name: str, *, now: datetime) -> Group:
        """Create an empty group; ``ContactError`` when the name is taken (case aside)."""
        name = clean_text(name, "group name", MAX_GROUP_CHARS, field="group")
        with transaction(self._engine) as conn:
            lock_account(conn, account_id)
            group_id = new_group(conn, account_id, name, now)
        return self._fetch_group(account_id, group_id)

    def rename_group(self, account_id: int, group_id: int, name: str) -> Group:
        """Give a group another name."""
        name = clean_text(name, "group name", MAX_GROUP_CHARS, field="group")
        with transaction(self._engine) as conn:
            lock_account(conn, account_id)
            group_of(conn, account_id, group_id)
            if group_named(conn, account_id, name, other_than=group_id) is not None:
                raise ContactError(
                    f"there is a group called {quoted(name)} already: pick another name"
                )
            conn.execute(
                update(contact_groups).where(contact_groups.c.id == group_id).values(name=name)
            )
        return self._fetch_group(account_id, group_id)

    def remove_group(self, account_id: int, group_id: int) -> Group:
        """Delete a group; its contacts stay in the book. The group as it was."""
        gone = self._fetch_group(account_id, group_id)
        with transaction(self._engine) as conn:
            conn.execute(
                delete(contact_groups).where(
                    contact_groups.c.id == group_id, contact_groups.c.account_id == account_id
                )
            )
        return gone

    def set_members(self, account_id: int, group_id: int, contact_ids: Iterable[int]) -> Group:
        """Make ``contact_ids`` (the account's contacts) the group's members, all of them."""
        with transaction(self._engine) as conn:
            group_of(conn, account_id, group_id)
            wanted = owned_ids(conn, contacts, account_id, contact_ids, "contact")
            conn.execute(
                delete(contact_group_members).where(contact_group_members.c.group_id == group_id)
            )
            if wanted:
                conn.execute(
                    insert(contact_group_members),
                    [{"group_id": group_id, "contact_id": c} for c in wanted],
                )
        return self._fetch_group(account_id, group_id)

    def add_to_group(self, account_id: int, group_id: int, contact_ids: Iterable[int]) -> Group:
        """Add contacts to a group (those in it already stay, once)."""
        with transaction(self._engine) as conn:
            group_of(conn, account_id, group_id)
            for contact_id in owned_ids(conn, contacts, account_id, contact_ids, "contact"):
                join_groups(conn, contact_id, [group_id])
        return self._fetch_group(account_id, group_id)

    def remove_from_group(
        self, account_id: int, group_id: int, contact_ids: Iterable[int]
    ) -> Group:
        """Take contacts out of a group; they stay in the book."""
        with transaction(self._engine) as conn:
            group_of(conn, account_id, group_id)
            for chunk in chunks(owned_ids(conn, contacts, account_id, contact_ids, "contact")):
                conn.execute(
                    delete(contact_group_members).where(
                        contact_group_members.c.group_id == group_id,
                        contact_group_members.c.contact_id.in_(chunk),
                    )
                )
        return self._fetch_group(account_id, group_id)

    def members(self, account_id: int, group_id: int) -> list[Contact]:
        """The group's contacts by name; ``NotFoundError`` when the account has no such group."""
        with reading(self._engine) as conn:
            group_of(conn, account_id, group_id)
        return self._listed(self._query(account_id, "", group_id))

    def recipients_of_group(self, account_id: int, group_id: int) -> list[str]:
        """The group's members as recipient lines (``number|name``), as a submission takes
        them: the numbers as typed, read again (with the account's policy then) when sent."""
        return [c.recipient for c in self.members(account_id, group_id)]

    # CSV

    def import_csv(
        self,
        account: Account,
        text: str,
        now: datetime,
        *,
        group: str | None = None,
        update_existing: bool = False,
    ) -> ImportResult:
        """Import the good lines of a CSV file (see ``faxout.accounts.contactcsv``) into the
        account's book, in ``group`` too when given (made if need be), and say what became of
        each other line.

        A number already in the book is left as it is (``skipped``), or with
        ``update_existing`` given the file's name and company (``updated``); either way it
        joins the file's groups. ``ContactError`` when the file cannot be read or would take
        the book past its limits: then nothing is imported.
        """
        return import_lines(
            self._engine,
            account.id,
            self.policy(account),
            text,
            now,
            group=group,
            update_existing=update_existing,
        )

    def export_csv(self, account_id: int) -> str:
        """The account's book as CSV (name, fax, company, groups) that ``import_csv`` reads
        back as it was. Text: the caller encodes it (UTF-8 with a BOM opens right in Excel)."""
        names = {g.id: g.name for g in self.groups(account_id)}
        book = self._listed(self._query(account_id, "", None))
        return write_csv((c, [names[g] for g in c.group_ids]) for c in book)
