"""Importing a CSV file into an address book (``AddressBook.import_csv``).

Every line is checked first (its name, company, groups, and its number as a submission reads
it), outside the write transaction: reading ten thousand numbers takes about a second, which
would hold every other writer back. The good lines are then written in one transaction, so an
import either happens whole (every good line) or not at all; the bad lines are reported, each
with its line number and what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update

from faxout.accounts.contactbase import (
    MAX_COMPANY_CHARS,
    MAX_CONTACTS,
    MAX_GROUP_CHARS,
    MAX_NAME_CHARS,
    ContactError,
    NumberIndex,
    checked_number,
    clean_text,
    count_contacts,
    lock_account,
    new_group,
)
from faxout.accounts.contactcsv import Parsed, Row, parse
from faxout.db.engine import transaction
from faxout.db.tables import contact_group_members, contact_groups, contacts
from faxout.jobs.dialplan import DialPolicy
from faxout.text import quoted


def import_lines(
    engine: Engine,
    account_id: int,
    policy: DialPolicy,
    text: str,
    now: datetime,
    *,
    group: str | None,
    update_existing: bool,
) -> ImportResult:
    """Import ``text`` into the book of ``account_id`` (whose numbers ``policy`` reads); see
    ``AddressBook.import_csv``."""
    parsed = parse(text)
    extra = (
        clean_text(group, "group name", MAX_GROUP_CHARS, field="group")
        if group and group.strip()
        else None
    )
    good, errors, skipped = _checked_rows(parsed, policy)
    with transaction(engine) as conn:
        lock_account(conn, account_id)
        index = NumberIndex.of_account(conn, account_id, policy)
        fresh: list[_Checked] = []
        known: list[tuple[_Checked, int]] = []
        for line in good:
            same = index.find(line.e164)
            if same is None:
                fresh.append(line)
            else:
                known.append((line, same[0]))
        held = count_contacts(conn, account_id)
        if held + len(fresh) > MAX_CONTACTS:
            raise ContactError(
                f"the address book holds {held} contacts and the file {len(fresh)} new ones, "
                f"more than {MAX_CONTACTS} in all: delete some or import fewer"
            )
        groups = _import_groups(conn, account_id, good, extra, now)
        ids = _insert_contacts(conn, account_id, fresh, now) if fresh else []
        updated = 0
        for line, contact_id in known:
            if update_existing and _refreshed(conn, contact_id, line, now):
                updated += 1
            else:
                skipped.append(
                    LineIssue(line.row.line, _kept_reason(conn, contact_id), line.row.text)
                )
        placed = [*zip(fresh, ids, strict=True), *known]
        _join_imported(conn, account_id, placed, groups, extra)
    return ImportResult(
        added=len(fresh),
        updated=updated,
        skipped=tuple(sorted(skipped, key=lambda i: i.line)),
        errors=tuple(errors),
        group=extra,
        ignored_columns=parsed.ignored,
    )


@dataclass(frozen=True)
class LineIssue:
    """A line of an imported file that was left out or left as it was, and why."""

    line: int  # in the file, from 1
    reason: str
    text: str  # the line, cut


@dataclass(frozen=True)
class ImportResult:
    """What an import did: how many contacts it added and updated, and each other line."""

    added: int
    updated: int
    skipped: tuple[LineIssue, ...]  # numbers in the book already, or twice in the file
    errors: tuple[LineIssue, ...]  # lines not imported, with what is wrong with them
    group: str | None = None  # the group every imported contact was put in
    ignored_columns: tuple[str, ...] = ()  # header columns that are not read


@dataclass(frozen=True)
class _Checked:
    """A line that passed the checks."""

    row: Row
    name: str
    number: str
    e164: str
    company: str
    groups: tuple[str, ...]


def _checked(row: Row, policy: DialPolicy) -> _Checked:
    if not (row.name.strip() or row.company.strip()):
        raise ContactError("no name: give a name or a company")
    typed, e164 = checked_number(row.number, policy)
    return _Checked(
        row=row,
        name=clean_text(row.name or row.company, "name", MAX_NAME_CHARS),
        number=typed,
        e164=e164,
        company=clean_text(row.company, "company", MAX_COMPANY_CHARS, required=False),
        groups=tuple(
            clean_text(g, "group name", MAX_GROUP_CHARS, field="group") for g in row.groups
        ),
    )


def _checked_rows(
    parsed: Parsed, policy: DialPolicy
) -> tuple[list[_Checked], list[LineIssue], list[LineIssue]]:
    """The good lines, the bad ones, and those repeating a number of an earlier line; checked
    before the write transaction, which reading ten thousand numbers would hold a second."""
    good: list[_Checked] = []
    errors: list[LineIssue] = []
    repeats: list[LineIssue] = []
    first: dict[str, int] = {}
    for row in parsed.rows:
        try:
            line = _checked(row, policy)
        except ContactError as exc:
            errors.append(LineIssue(row.line, str(exc), row.text))
            continue
        if line.e164 in first:
            reason = f"the same number as line {first[line.e164]}, imported once"
            repeats.append(LineIssue(row.line, reason, row.text))
            continue
        first[line.e164] = row.line
        good.append(line)
    return good, errors, repeats


def _import_groups(
    conn: Connection, account_id: int, lines: Sequence[_Checked], extra: str | None, now: datetime
) -> dict[str, int]:
    """The ids of the groups the lines name, by folded name, made where missing."""
    wanted = [g for line in lines for g in line.groups] + ([extra] if extra else [])
    ids = {
        str(r.name).casefold(): int(r.id)
        for r in conn.execute(
            select(contact_groups.c.id, contact_groups.c.name).where(
                contact_groups.c.account_id == account_id
            )
        )
    }
    for name in wanted:
        if name.casefold() not in ids:
            ids[name.casefold()] = new_group(conn, account_id, name, now)
    return ids


def _insert_contacts(
    conn: Connection, account_id: int, lines: Sequence[_Checked], now: datetime
) -> list[int]:
    rows = [
        {
            "account_id": account_id,
            "name": line.name,
            "number": line.number,
            "company": line.company,
            "created_at": now,
            "updated_at": now,
        }
        for line in lines
    ]
    inserted = conn.execute(
        insert(contacts).returning(contacts.c.id, sort_by_parameter_order=True), rows
    )
    return [int(i) for i in inserted.scalars()]


def _refreshed(conn: Connection, contact_id: int, line: _Checked, now: datetime) -> bool:
    """Give a contact the name (and company, when the line has one) of ``line``; whether
    that changed it."""
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()
    values = {"name": line.name, "company": line.company or row.company}
    if values == {"name": row.name, "company": row.company}:
        return False
    conn.execute(
        update(contacts).where(contacts.c.id == contact_id).values(**values, updated_at=now)
    )
    return True


def _kept_reason(conn: Connection, contact_id: int) -> str:
    name = conn.execute(select(contacts.c.name).where(contacts.c.id == contact_id)).scalar_one()
    return f"already in the address book as {quoted(name)}, left as it is"


def _join_imported(
    conn: Connection,
    account_id: int,
    placed: Iterable[tuple[_Checked, int]],
    groups: dict[str, int],
    extra: str | None,
) -> None:
    """Put each imported contact into its line's groups (and ``extra``), in one statement."""
    have = {
        (int(r.group_id), int(r.contact_id))
        for r in conn.execute(
            select(contact_group_members.c.group_id, contact_group_members.c.contact_id)
            .join(contact_groups)
            .where(contact_groups.c.account_id == account_id)
        )
    }
    pairs: dict[tuple[int, int], None] = {}
    for line, contact_id in placed:
        for name in (*line.groups, *([extra] if extra else [])):
            pair = (groups[name.casefold()], contact_id)
            if pair not in have:
                pairs[pair] = None
    if pairs:
        conn.execute(
            insert(contact_group_members),
            [{"group_id": g, "contact_id": c} for g, c in pairs],
        )
