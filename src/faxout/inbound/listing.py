"""Received faxes as an account sees them: which it may see, found by filters a page at a
time, and what it may do to them (mark read, archive, delete). The status API
(``/api/v1/inbound``) and the console's inbox both call these, so they always agree.

**Who sees what.** An account sees the faxes of the inboxes it owns. An operator also sees
the shared inboxes (``inboxes.account_id`` NULL), and no other account's. A fax the viewer may
not see is answered as one that does not exist (None), never as "forbidden".

**Pages.** Newest first by id, as ``GET /api/v1/faxes``: a page is the faxes below the id
``before`` (the last id of the page before), so a cursor stays exact whatever arrives meanwhile
and every filter is applied in SQL.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import ColumnElement, Engine, delete, func, or_, select, true, update

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.blobrefs import unreferenced
from faxout.db.engine import reading, transaction
from faxout.db.tables import inbound_faxes, inbound_mails, inboxes, webhook_deliveries
from faxout.inbound.faxes import fax_of, fax_select
from faxout.inbound.model import InboundFax, InboundState

STATES = tuple(s.value for s in InboundState)
MAX_TEXT = 100
_f = inbound_faxes.c


@dataclass(frozen=True)
class InboundViewer:
    """Who is looking: an account, and whether it is an operator (who sees shared inboxes)."""

    account_id: int
    operator: bool = False

    def sees(self) -> ColumnElement[bool]:
        """The condition on ``inboxes`` of the inboxes this viewer sees."""
        own = inboxes.c.account_id == self.account_id
        return or_(own, inboxes.c.account_id.is_(None)) if self.operator else own


@dataclass(frozen=True)
class EveryInbox(InboundViewer):
    """The server's own command line: whoever runs it holds the database, so it sees every
    inbox, an account's or shared (``faxout inbox faxes``)."""

    account_id: int = 0

    def sees(self) -> ColumnElement[bool]:
        """Every inbox."""
        return true()


def parse_states(values: Iterable[str]) -> tuple[str, ...]:
    """The states asked for, repeated or listed (``received,partial``); ``ValueError``
    naming an unknown one."""
    asked = [s.strip().lower() for value in values for s in value.split(",") if s.strip()]
    unknown = [s for s in asked if s not in STATES]
    if unknown:
        raise ValueError(f"state: {unknown[0][:40]!r} is not one of {', '.join(STATES)}")
    return tuple(dict.fromkeys(asked))


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere (its own wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.casefold()}%"


@dataclass(frozen=True)
class InboundFilter:
    """What a list is narrowed to; every filter given must hold. None: either way."""

    states: tuple[str, ...] = ()
    inbox: str | None = None  # an inbox's name
    unread: bool | None = None
    archived: bool | None = None
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    text: str = ""  # in the caller's number or name, or the CSID

    def clauses(self) -> list[ColumnElement[bool]]:
        """The SQL conditions (on ``fax_select``'s join of faxes and inboxes)."""
        out: list[ColumnElement[bool]] = []
        if self.states:
            out.append(_f.state.in_(self.states))
        if self.inbox is not None:
            out.append(inboxes.c.name == self.inbox)
        if self.unread is not None:
            out.append(_f.read_at.is_(None) if self.unread else _f.read_at.is_not(None))
        if self.archived is not None:
            out.append(_f.archived_at.is_not(None) if self.archived else _f.archived_at.is_(None))
        if self.since is not None:
            out.append(_f.started_at >= self.since)
        if self.until is not None:
            out.append(_f.started_at < self.until)
        text = self.text.strip()[:MAX_TEXT]
        if text:
            pattern = _like(text)
            out.append(
                or_(
                    *(
                        func.lower(column).like(pattern, escape="\\")
                        for column in (_f.caller, _f.caller_name, _f.csid)
                    )
                )
            )
        return out


class NoImage(enum.StrEnum):
    """Why a received fax has no image to show."""

    RECEIVING = "receiving"  # still coming in: the image is stored when the call ends
    PURGED = "purged"  # removed by retention (``purged_at``)
    EMPTY = "empty"  # no page arrived (a failed reception)


def no_image(fax: InboundFax) -> NoImage | None:
    """Why ``fax`` has no image, or None when it has one."""
    if fax.state is InboundState.RECEIVING:
        return NoImage.RECEIVING
    if fax.blob_key is None:
        return NoImage.PURGED if fax.purged_at is not None else NoImage.EMPTY
    return None


class StillReceivingError(Exception):
    """The fax is still being received: it cannot be deleted until its call ends."""


class InboundFaxes:
    """Lists, reads, marks and deletes the received faxes a viewer sees."""

    def __init__(self, engine: Engine, blobs: BlobStore, clock: Clock) -> None:
        self.engine = engine
        self.blobs = blobs
        self.clock = clock

    def page(
        self,
        viewer: InboundViewer,
        only: InboundFilter | None = None,
        *,
        limit: int = 50,
        before: int | None = None,
    ) -> list[InboundFax]:
        """Up to ``limit`` faxes the viewer sees, newest first, below the id ``before``."""
        query = fax_select().where(viewer.sees(), *(only.clauses() if only else ()))
        if before is not None:
            query = query.where(_f.id < before)
        with reading(self.engine) as conn:
            rows = conn.execute(query.order_by(_f.id.desc()).limit(limit)).all()
        return [fax_of(row) for row in rows]

    def get(self, viewer: InboundViewer, inbound_id: int) -> InboundFax | None:
        """The fax, when the viewer sees it; else None."""
        with reading(self.engine) as conn:
            row = conn.execute(fax_select().where(_f.id == inbound_id, viewer.sees())).first()
        return None if row is None else fax_of(row)

    def inbox_names(self, viewer: InboundViewer) -> list[str]:
        """The names of the inboxes the viewer sees, by name (for a filter's choices)."""
        with reading(self.engine) as conn:
            query = select(inboxes.c.name).where(viewer.sees()).order_by(inboxes.c.name)
            return list(conn.execute(query).scalars())

    def _set(self, viewer: InboundViewer, inbound_id: int, **values: object) -> InboundFax | None:
        visible = select(inboxes.c.id).where(viewer.sees())
        with transaction(self.engine) as conn:
            conn.execute(
                update(inbound_faxes)
                .where(_f.id == inbound_id, _f.inbox_id.in_(visible))
                .values(**values)
            )
        return self.get(viewer, inbound_id)

    def mark_read(
        self, viewer: InboundViewer, inbound_id: int, read: bool = True
    ) -> InboundFax | None:
        """Mark the fax read (it keeps the time it was first read) or unread; None when the
        viewer does not see it."""
        if not read:
            return self._set(viewer, inbound_id, read_at=None)
        fax = self.get(viewer, inbound_id)
        if fax is None or fax.read_at is not None:
            return fax
        return self._set(viewer, inbound_id, read_at=self.clock.now())

    def archive(
        self, viewer: InboundViewer, inbound_id: int, archived: bool = True
    ) -> InboundFax | None:
        """Archive the fax (out of the inbox's usual list, kept) or bring it back; None when
        the viewer does not see it."""
        fax = self.get(viewer, inbound_id)
        if fax is None or (fax.archived_at is not None) == archived:
            return fax
        return self._set(viewer, inbound_id, archived_at=self.clock.now() if archived else None)

    def delete(self, viewer: InboundViewer, inbound_id: int) -> bool:
        """Delete the fax, its mail and webhook events, and its image unless something else
        still holds the same bytes; False when the viewer does not see it.
        ``StillReceivingError`` while its call is on (the receiver still writes its row)."""
        fax = self.get(viewer, inbound_id)
        if fax is None:
            return False
        with transaction(self.engine) as conn:
            # The state is checked again in the DELETE itself: a reception that began meanwhile
            # is never cut from under its receiver.
            gone = conn.execute(
                delete(inbound_faxes).where(
                    _f.id == inbound_id, _f.state != InboundState.RECEIVING.value
                )
            ).rowcount
            if gone != 1:
                raise StillReceivingError(f"fax {inbound_id} is still being received")
            # No foreign key on inbound_id (a plain ADD COLUMN): its events go by hand; the
            # mail cascades, and is deleted here too so no engine's settings matter.
            conn.execute(
                delete(webhook_deliveries).where(webhook_deliveries.c.inbound_id == inbound_id)
            )
            conn.execute(delete(inbound_mails).where(inbound_mails.c.inbound_id == inbound_id))
        # After the commit, never before: a rolled-back delete keeps a fax with its image.
        if fax.blob_key is not None:
            with reading(self.engine) as conn:
                free = unreferenced(conn, [fax.blob_key])
            for key in free:
                self.blobs.delete(key)
        return True

    def image(self, fax: InboundFax) -> BinaryIO:
        """The fax's TIFF, to read (``no_image`` None: it has one)."""
        assert fax.blob_key is not None
        return self.blobs.open(fax.blob_key)


Action = Callable[[InboundFaxes, InboundViewer, int], InboundFax | None]
# What the API's and the console's buttons do, by the name in their paths.
ACTIONS: dict[str, Action] = {
    "read": lambda faxes, viewer, inbound_id: faxes.mark_read(viewer, inbound_id, True),
    "unread": lambda faxes, viewer, inbound_id: faxes.mark_read(viewer, inbound_id, False),
    "archive": lambda faxes, viewer, inbound_id: faxes.archive(viewer, inbound_id, True),
    "unarchive": lambda faxes, viewer, inbound_id: faxes.archive(viewer, inbound_id, False),
}
