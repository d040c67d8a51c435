"""Inboxes, routing rules and block lists in SQL (``inboxes``, ``inbound_routes``,
``inbound_blocks``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Row, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from faxout.clock import Clock
from faxout.db.engine import reading, transaction
from faxout.db.insertnew import insert_new
from faxout.db.tables import accounts, inbound_blocks, inbound_faxes, inbound_routes, inboxes
from faxout.inbound.routing import (
    BadPatternError,
    Block,
    Rule,
    csid_text,
    digits,
    number_pattern,
)


class Attach(enum.StrEnum):
    """What the fax-to-email mail of an inbox carries."""

    PDF = "pdf"
    TIFF = "tiff"
    LINK = "link"  # privacy mode: no attachment, a link to the console


class InboxError(ValueError):
    """An inbox, rule or block that cannot be made as asked (the message says why)."""


@dataclass(frozen=True)
class Inbox:
    """One inbox: an account's (``account_id``) or a shared one (None)."""

    id: int
    name: str
    account_id: int | None
    email: tuple[str, ...]
    attach: Attach


@dataclass(frozen=True)
class InUse:
    """Why an inbox was not removed: the rules that route calls to it, the faxes it holds."""

    rules: tuple[int, ...]
    faxes: int


def _inbox(row: Row[tuple[object, ...]]) -> Inbox:
    m = row._mapping
    email = tuple(a for a in str(m["email"]).split("\n") if a)
    return Inbox(int(m["id"]), str(m["name"]), m["account_id"], email, Attach(m["attach"]))


def checked_addresses(value: str | tuple[str, ...]) -> str:
    """``value`` (comma- or newline-separated) as stored: one address per line, each checked,
    duplicates dropped; raises ``InboxError`` naming a bad one."""
    items = value.replace(",", "\n").split("\n") if isinstance(value, str) else value
    cleaned = [a.strip() for a in items if a.strip()]
    for address in cleaned:
        local, at, domain = address.rpartition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in address):
            raise InboxError(f"{address!r} is not an email address (name@example.com)")
    return "\n".join(dict.fromkeys(cleaned))


class InboxRepo:
    """Reads and writes inboxes, their routing rules and the block lists."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    # -- inboxes ----------------------------------------------------------------------------

    def get(self, inbox_id: int) -> Inbox | None:
        """The inbox with this id, or None."""
        with reading(self.engine) as conn:
            row = conn.execute(select(inboxes).where(inboxes.c.id == inbox_id)).first()
        return None if row is None else _inbox(row)

    def by_name(self, name: str) -> Inbox | None:
        """The inbox with this name, or None."""
        with reading(self.engine) as conn:
            row = conn.execute(select(inboxes).where(inboxes.c.name == name)).first()
        return None if row is None else _inbox(row)

    def all(self) -> list[Inbox]:
        """Every inbox, by name."""
        with reading(self.engine) as conn:
            return [_inbox(r) for r in conn.execute(select(inboxes).order_by(inboxes.c.name))]

    def of_account(self, account_id: int) -> list[Inbox]:
        """The inboxes an account owns, by name."""
        with reading(self.engine) as conn:
            rows = conn.execute(
                select(inboxes).where(inboxes.c.account_id == account_id).order_by(inboxes.c.name)
            )
            return [_inbox(r) for r in rows]

    def ensure(
        self, name: str, account_id: int | None = None, email: str | tuple[str, ...] = ""
    ) -> Inbox:
        """The inbox named ``name``, made (owned by ``account_id``) when there is none yet.
        Safe when two processes make the same one at once."""
        name = name.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise InboxError(f"{name!r}: an inbox name is 1 to 100 printable characters")
        found = self.by_name(name)
        if found is not None:
            return found
        now = self.clock.now()
        with transaction(self.engine) as conn:  # someone else may make it meanwhile: fine
            insert_new(
                conn,
                inboxes,
                {
                    "name": name,
                    "account_id": account_id,
                    "email": checked_addresses(email),
                    "attach": Attach.PDF.value,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        made = self.by_name(name)
        if made is None:  # pragma: no cover - the insert failed for another reason
            raise InboxError(f"could not make the inbox {name!r}")
        return made

    def for_account(self, account_id: int) -> Inbox:
        """The account's own inbox (named after its user name), made on first use."""
        owned = self.of_account(account_id)
        if owned:
            return owned[0]
        with reading(self.engine) as conn:
            username = conn.execute(
                select(accounts.c.username).where(accounts.c.id == account_id)
            ).scalar_one_or_none()
        if username is None:
            raise InboxError(f"there is no account {account_id}")
        return self.ensure(str(username), account_id)

    def for_number(self, number: str) -> Inbox | None:
        """The inbox of the account whose user name is ``number`` (digits compared: a fax to
        an account's own fax number reaches it with no rule), or None."""
        wanted = digits(number)
        if not wanted:
            return None
        with reading(self.engine) as conn:
            account_id = conn.execute(
                select(accounts.c.id).where(accounts.c.username == wanted)
            ).scalar_one_or_none()
        return None if account_id is None else self.for_account(int(account_id))

    def configure(
        self,
        inbox_id: int,
        *,
        email: str | tuple[str, ...] | None = None,
        attach: Attach | str | None = None,
    ) -> Inbox:
        """Change where an inbox mails its faxes and what the mail carries."""
        values: dict[str, object] = {"updated_at": self.clock.now()}
        if email is not None:
            values["email"] = checked_addresses(email)
        if attach is not None:
            try:
                values["attach"] = Attach(attach).value
            except ValueError as exc:
                choices = ", ".join(a.value for a in Attach)
                raise InboxError(f"attach must be one of {choices}, not {attach!r}") from exc
        with transaction(self.engine) as conn:
            done = conn.execute(update(inboxes).where(inboxes.c.id == inbox_id).values(**values))
        if done.rowcount != 1:
            raise InboxError(f"there is no inbox {inbox_id}")
        found = self.get(inbox_id)
        assert found is not None
        return found

    def assign(self, inbox_id: int, account_id: int | None) -> Inbox:
        """Give the inbox to ``account_id`` (None: make it shared, seen by operators)."""
        with transaction(self.engine) as conn:
            done = conn.execute(
                update(inboxes)
                .where(inboxes.c.id == inbox_id)
                .values(account_id=account_id, updated_at=self.clock.now())
            )
        if done.rowcount != 1:
            raise InboxError(f"there is no inbox {inbox_id}")
        found = self.get(inbox_id)
        assert found is not None
        return found

    def counts(self) -> dict[int, tuple[int, int]]:
        """Per inbox id that holds any: its unread faxes (never marked read, archived or
        not) and all its faxes."""
        unread = func.count().filter(inbound_faxes.c.read_at.is_(None))
        query = select(inbound_faxes.c.inbox_id, unread, func.count()).group_by(
            inbound_faxes.c.inbox_id
        )
        with reading(self.engine) as conn:
            return {int(i): (int(u), int(t)) for i, u, t in conn.execute(query)}

    def remove(self, inbox_id: int, *, move_faxes_to: int | None = None) -> InUse | None:
        """Delete the inbox, unless rules still route calls to it or it holds faxes (and
        ``move_faxes_to`` names no inbox to move them to first): then nothing changes and
        the answer says what holds it. One transaction: a fax arriving meanwhile is either
        moved, or keeps the inbox (the foreign key refuses the delete)."""
        if move_faxes_to == inbox_id:
            raise InboxError("move the faxes to another inbox than the one removed")
        if move_faxes_to is not None and self.get(move_faxes_to) is None:
            raise InboxError(f"there is no inbox {move_faxes_to}")
        if self.get(inbox_id) is None:
            raise InboxError(f"there is no inbox {inbox_id}")
        routes = select(inbound_routes.c.id).where(inbound_routes.c.inbox_id == inbox_id)
        held = inbound_faxes.c.inbox_id == inbox_id
        try:
            with transaction(self.engine) as conn:
                if move_faxes_to is not None and not conn.execute(routes.limit(1)).first():
                    conn.execute(update(inbound_faxes).where(held).values(inbox_id=move_faxes_to))
                gone = conn.execute(
                    delete(inboxes).where(
                        inboxes.c.id == inbox_id,
                        ~exists(routes),
                        ~exists(select(inbound_faxes.c.id).where(held)),
                    )
                ).rowcount
        except IntegrityError:
            gone = 0  # a fax was committed to it between our check and the delete
        with reading(self.engine) as conn:
            rules = tuple(
                int(r) for r in conn.execute(routes.order_by(inbound_routes.c.id)).scalars()
            )
            faxes = conn.execute(select(func.count()).where(held)).scalar_one()
        # Nothing holds it: it was removed (or vanished meanwhile, which is as good).
        return InUse(rules, int(faxes)) if gone != 1 and (rules or faxes) else None

    # -- routing rules ----------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        """Every routing rule, in the order they are tried."""
        with reading(self.engine) as conn:
            rows = conn.execute(
                select(inbound_routes).order_by(inbound_routes.c.position, inbound_routes.c.id)
            )
            return [Rule(r.id, r.inbox_id, r.position, r.called, r.caller, r.csid) for r in rows]

    def add_rule(
        self,
        inbox_id: int,
        *,
        called: str = "",
        caller: str = "",
        csid: str = "",
        position: int | None = None,
    ) -> Rule:
        """Add a rule sending matching calls to ``inbox_id`` (last, unless ``position``)."""
        try:
            called_p, caller_p = number_pattern(called), number_pattern(caller)
        except BadPatternError as exc:
            raise InboxError(str(exc)) from exc
        csid_p = csid_text(csid)
        if len(csid_p) > 64:
            raise InboxError("a CSID pattern is at most 64 characters")
        if self.get(inbox_id) is None:
            raise InboxError(f"there is no inbox {inbox_id}")
        now = self.clock.now()
        with transaction(self.engine) as conn:
            if position is None:
                last = conn.execute(select(func.max(inbound_routes.c.position))).scalar()
                position = int(last or 0) + 10
            new_id = conn.execute(
                insert(inbound_routes)
                .values(
                    inbox_id=inbox_id,
                    position=position,
                    called=called_p,
                    caller=caller_p,
                    csid=csid_p,
                    created_at=now,
                )
                .returning(inbound_routes.c.id)
            ).scalar_one()
        return Rule(int(new_id), inbox_id, position, called_p, caller_p, csid_p)

    def remove_rule(self, rule_id: int) -> bool:
        """Delete a rule; False if there was none."""
        with transaction(self.engine) as conn:
            done = conn.execute(delete(inbound_routes).where(inbound_routes.c.id == rule_id))
        return done.rowcount == 1

    # -- block lists ------------------------------------------------------------------------

    def blocks(self) -> list[Block]:
        """Every block, of every account and the global ones."""
        with reading(self.engine) as conn:
            rows = conn.execute(select(inbound_blocks).order_by(inbound_blocks.c.id))
            return [Block(r.id, r.account_id, r.caller, r.note) for r in rows]

    def add_block(self, account_id: int | None, caller: str, note: str = "") -> Block:
        """Refuse calls from ``caller`` (a number pattern) to the inboxes of ``account_id``
        (None: to every inbox)."""
        try:
            pattern = number_pattern(caller)
        except BadPatternError as exc:
            raise InboxError(str(exc)) from exc
        if not pattern:
            raise InboxError("say which caller to block (a number, or * for withheld numbers)")
        now: datetime = self.clock.now()
        with transaction(self.engine) as conn:
            new_id = conn.execute(
                insert(inbound_blocks)
                .values(account_id=account_id, caller=pattern, note=note[:200], created_at=now)
                .returning(inbound_blocks.c.id)
            ).scalar_one()
        return Block(int(new_id), account_id, pattern, note[:200])

    def remove_block(self, block_id: int, account_id: int | None = None) -> bool:
        """Delete a block (only ``account_id``'s when given); False if there was none."""
        cond = inbound_blocks.c.id == block_id
        if account_id is not None:
            cond = cond & (inbound_blocks.c.account_id == account_id)
        with transaction(self.engine) as conn:
            done = conn.execute(delete(inbound_blocks).where(cond))
        return done.rowcount == 1
