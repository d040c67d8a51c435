"""Retention: the images of received faxes and the documents of sent ones are removed a number
of days after they are final; the facts stay (docs/inbound.md, "Retention").

**How long.** An account's ``retention_days``, else the server's ``inbound.retention_days``
(default 30); 0 keeps everything until deleted. A shared inbox (no account) has the server's.

**What goes.** A received fax finished more than that many days ago loses its image:
``blob_key`` is cleared and ``purged_at`` set, so the API answers 410 for its PDF and pages
and still shows the fax. A submission whose every job is final and finished more than that
many days ago loses its documents, its rendered pages and its cover pages:
``submissions.rendered_key``, ``jobs.rendered_key`` and ``jobs.cover_key`` are cleared and
``submissions.purged_at`` set (its ``documents`` rows keep their names, sizes and keys, which
then hold nothing: ``faxout.db.blobrefs``). Rows, attempts, reports and events all stay. A blob
is removed only when no other row names it (the store is content-addressed: the same bytes
sent twice, or received and sent on, are one blob). Each purged item writes one audit line
(``faxout.audit``).

**Guarantees.**

- *Never a blob a live job needs.* A submission is purged only while every one of its jobs is
  final; its row is locked first and the jobs are read after the lock, and a retry
  (``Lifecycle.retry``) takes the same row and refuses a purged submission, so a job cannot
  come back to life between the check and the purge. A blob named by any row not purged (a
  live submission's documents or pages, another received fax) is kept.
- *Idempotent, and safe in several processes.* Every change is a compare-and-set on
  ``purged_at IS NULL``; on PostgreSQL the rows of a batch are locked ``SKIP LOCKED``, so two
  passes share the work instead of waiting, and a blob two passes each saw held by the
  other's row is removed by whichever commits last (each checks its kept keys again after
  its commit).
- *Batched.* At most ``batch`` rows per transaction; a million old faxes are a thousand short
  transactions, never one long one.
- *A crash never keeps an image past its time unseen.* The blobs are removed inside the
  transaction that clears their keys: a crash before the commit leaves rows naming removed
  bytes, which the next pass purges again; the other order would leave bytes no row names,
  which nothing would ever remove.

Not closed: a new row naming the very same bytes (an identical upload or rendering) committed
between this pass's reference check and its removal of the blob finds the blob gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    exists,
    func,
    not_,
    or_,
    select,
    update,
)

from faxout.audit import SERVER, AuditEvent, audit
from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.blobrefs import unreferenced
from faxout.db.engine import reading, transaction
from faxout.db.tables import accounts, documents, inbound_faxes, inboxes, jobs, submissions
from faxout.inbound.model import FINAL_STATES
from faxout.jobs.lifecycle import FINAL_JOB_STATES

log = logging.getLogger("faxout.inbound.retention")
BATCH = 200  # rows per transaction
_f = inbound_faxes.c
_s = submissions.c
_FINAL_RECEIVED = [s.value for s in FINAL_STATES]
_FINAL_SENT = [s.value for s in FINAL_JOB_STATES]


@dataclass(frozen=True)
class Purged:
    """One item whose images went (or, in a dry run, would go)."""

    what: str  # "received" or "sent"
    id: int  # the received fax's id, or the submission's (the API's fax id)
    account: str | None  # the account's user name; None: a shared inbox
    finished_at: datetime
    age_days: float
    keys: tuple[str, ...]  # the blobs it named (some may still be held by other rows)

    def audited(self, removed: Iterable[str]) -> AuditEvent:
        """Its audit line (``removed``: the blobs of ``keys`` actually removed)."""
        gone = set(removed)
        return AuditEvent(
            action="purge",
            subject=self.what,
            subject_id=self.id,
            account=self.account,
            actor=SERVER,
            details={
                "age_days": round(self.age_days, 1),
                "finished_at": self.finished_at.isoformat(),
                "keys": list(self.keys),
                "removed": [k for k in self.keys if k in gone],
            },
        )


@dataclass
class RetentionCounts:
    """What a pass did (or, in a dry run, would do)."""

    received: int = 0  # received faxes whose image went
    sent: int = 0  # submissions whose documents and pages went
    # blobs removed from the store; a dry run: the blobs they name (a pass keeps those that
    # another fax still holds)
    blobs: int = 0


@dataclass(frozen=True)
class _Tier:
    """The accounts (and maybe the shared inboxes) that keep things ``days`` days."""

    days: int
    accounts: Select[Any]  # ids of the accounts
    shared: bool  # the shared inboxes too (their days are the server's)


class Retention:
    """The retention pass over every account and the shared inboxes."""

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        clock: Clock,
        *,
        default_days: int,
        batch: int = BATCH,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.clock = clock
        self.default_days = default_days
        self.batch = batch

    def run(
        self,
        *,
        dry_run: bool = False,
        on_item: Callable[[Purged], None] | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> RetentionCounts:
        """One pass: purge whatever is past its time (``dry_run``: only find it), calling
        ``on_item`` for each item; ``stop`` is asked before each batch (a server shutting
        down ends the pass there, the next one goes on)."""
        counts = RetentionCounts()
        now = self.clock.now()
        for tier in self._tiers():
            cutoff = now - timedelta(days=tier.days)
            for item in self._received(tier, cutoff, now, dry_run, counts, stop):
                counts.received += 1
                if on_item:
                    on_item(item)
            for item in self._sent(tier, cutoff, now, dry_run, counts, stop):
                counts.sent += 1
                if on_item:
                    on_item(item)
        if counts.received or counts.sent:
            log.info(
                "retention %s",
                "found" if dry_run else "purged",
                extra={
                    "fields": {
                        "received": counts.received,
                        "sent": counts.sent,
                        "blobs": counts.blobs,
                        "dry_run": dry_run,
                    }
                },
            )
        return counts

    def _tiers(self) -> list[_Tier]:
        """One tier per number of days some account keeps things (0, keep: none)."""
        with reading(self.engine) as conn:
            own = set(conn.execute(select(accounts.c.retention_days).distinct()).scalars())
        tiers = []
        for days in sorted({self.default_days, *(d for d in own if d is not None)}):
            if days <= 0:
                continue
            effective = func.coalesce(accounts.c.retention_days, self.default_days)
            ids = select(accounts.c.id).where(effective == days)
            tiers.append(_Tier(days, ids, shared=days == self.default_days))
        return tiers

    # -- received faxes ---------------------------------------------------------------------

    def _received_due(self, tier: _Tier, cutoff: datetime) -> ColumnElement[bool]:
        """The received faxes of ``tier`` past their time and not purged yet."""
        boxes = or_(inboxes.c.account_id.in_(tier.accounts), inboxes.c.account_id.is_(None))
        mine = boxes if tier.shared else inboxes.c.account_id.in_(tier.accounts)
        return and_(
            _f.purged_at.is_(None),
            _f.blob_key.is_not(None),  # a failed reception has no image to remove
            _f.state.in_(_FINAL_RECEIVED),
            _f.finished_at < cutoff,
            _f.inbox_id.in_(select(inboxes.c.id).where(mine)),
        )

    def _received(
        self,
        tier: _Tier,
        cutoff: datetime,
        now: datetime,
        dry_run: bool,
        counts: RetentionCounts,
        stop: Callable[[], bool],
    ) -> Iterable[Purged]:
        due = self._received_due(tier, cutoff)
        for ids in self._batches(due, _f.finished_at, _f.id, stop):
            yield from self._purge_received(ids, due, now, dry_run, counts)

    def _purge_received(
        self,
        ids: list[int],
        due: ColumnElement[bool],
        now: datetime,
        dry_run: bool,
        counts: RetentionCounts,
    ) -> list[Purged]:
        query = (
            select(_f.id, _f.blob_key, _f.finished_at, accounts.c.username)
            .join(inboxes, inboxes.c.id == _f.inbox_id)
            .outerjoin(accounts, accounts.c.id == inboxes.c.account_id)
            .where(_f.id.in_(ids), due)
            .order_by(_f.id)
        )
        if dry_run:
            with reading(self.engine) as conn:
                items = _received_items(conn, query, now)
            counts.blobs += len(_keys(items))
            return items
        with transaction(self.engine) as conn:
            items = _received_items(
                conn, query.with_for_update(of=inbound_faxes, skip_locked=True), now
            )
            if items:
                conn.execute(
                    update(inbound_faxes)
                    .where(_f.id.in_([i.id for i in items]), _f.purged_at.is_(None))
                    .values(blob_key=None, purged_at=now, updated_at=now)
                )
            removed = self._remove_free(conn, _keys(items))
        return self._audited(items, removed, counts)

    # -- sent faxes -------------------------------------------------------------------------

    def _sent_due(self, tier: _Tier, cutoff: datetime) -> ColumnElement[bool]:
        """The submissions of ``tier`` past their time, not purged, every job final."""
        of_it = jobs.c.submission_id == _s.id
        unfinished = or_(
            jobs.c.state.not_in(_FINAL_SENT),
            jobs.c.finished_at.is_(None),
            jobs.c.finished_at >= cutoff,
        )
        return and_(
            _s.purged_at.is_(None),
            _s.created_at < cutoff,  # none finished before it was made: the index's bound
            _s.account_id.in_(tier.accounts),
            exists().where(of_it),
            not_(exists().where(of_it, unfinished)),
        )

    def _sent(
        self,
        tier: _Tier,
        cutoff: datetime,
        now: datetime,
        dry_run: bool,
        counts: RetentionCounts,
        stop: Callable[[], bool],
    ) -> Iterable[Purged]:
        due = self._sent_due(tier, cutoff)
        for ids in self._batches(due, _s.created_at, _s.id, stop):
            yield from self._purge_sent(ids, due, now, dry_run, counts)

    def _purge_sent(
        self,
        ids: list[int],
        due: ColumnElement[bool],
        now: datetime,
        dry_run: bool,
        counts: RetentionCounts,
    ) -> list[Purged]:
        if dry_run:
            with reading(self.engine) as conn:
                items = _sent_items(conn, ids, due, now)
            counts.blobs += len(_keys(items))
            return items
        with transaction(self.engine) as conn:
            # Lock the submissions first, then read their jobs in a statement of its own: it
            # sees a retry committed before the lock (a retry takes the same row first).
            locked = list(
                conn.execute(
                    select(_s.id)
                    .where(_s.id.in_(ids), _s.purged_at.is_(None))
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            items = _sent_items(conn, locked, due, now) if locked else []
            purged = [i.id for i in items]
            if purged:
                conn.execute(
                    update(submissions)
                    .where(_s.id.in_(purged), _s.purged_at.is_(None))
                    .values(rendered_key=None, purged_at=now, updated_at=now)
                )
                conn.execute(
                    update(jobs)
                    .where(jobs.c.submission_id.in_(purged))
                    .values(rendered_key=None, cover_key=None)
                )
            removed = self._remove_free(conn, _keys(items))
        return self._audited(items, removed, counts)

    # -- batches and blobs -----------------------------------------------------------------

    def _batches(
        self,
        due: ColumnElement[bool],
        when: Column[Any],
        row_id: Column[Any],
        stop: Callable[[], bool],
    ) -> Iterator[list[int]]:
        """The ids of the rows ``due``, ``batch`` at a time, oldest first: in the order of the
        index on (purged_at, ``when``), from where the last batch ended (a row skipped stays
        behind), so each batch reads only its own rows and a pass reads each row once."""
        last: tuple[datetime, int] | None = None
        while not stop():
            query = select(row_id, when).where(due)
            if last is not None:
                query = query.where(or_(when > last[0], and_(when == last[0], row_id > last[1])))
            with reading(self.engine) as conn:
                rows = conn.execute(query.order_by(when, row_id).limit(self.batch)).all()
            if not rows:
                return
            last = (rows[-1][1], rows[-1][0])
            yield [r[0] for r in rows]

    def _remove_free(self, conn: Connection, keys: set[str]) -> set[str]:
        """Remove the blobs of ``keys`` no row names any more (inside the transaction that
        cleared the purged rows' own references, which this connection sees)."""
        free = unreferenced(conn, keys)
        for key in sorted(free):
            self.blobs.delete(key)
        return free

    def _audited(
        self, items: list[Purged], removed: set[str], counts: RetentionCounts
    ) -> list[Purged]:
        """After the commit: remove what another pass's rows held until it committed, and
        write each item's audit line."""
        kept = _keys(items) - removed
        if kept:
            with reading(self.engine) as conn:
                later = unreferenced(conn, kept)
            for key in sorted(later):
                self.blobs.delete(key)
            removed |= later
        counts.blobs += len(removed)
        for item in items:
            audit(item.audited(removed))
        return items


def _item(
    what: str,
    item_id: int,
    account: str | None,
    finished_at: datetime,
    now: datetime,
    keys: Iterable[str | None],
) -> Purged:
    age = (now - finished_at).total_seconds() / 86400
    named = tuple(dict.fromkeys(k for k in keys if k))
    return Purged(what, item_id, account, finished_at, age, named)


def _received_items(conn: Connection, query: Select[Any], now: datetime) -> list[Purged]:
    return [
        _item("received", r.id, r.username, r.finished_at, now, [r.blob_key])
        for r in conn.execute(query)
    ]


def _keys(items: Iterable[Purged]) -> set[str]:
    return {key for item in items for key in item.keys}


def _sent_items(
    conn: Connection, ids: list[int], due: ColumnElement[bool], now: datetime
) -> list[Purged]:
    """The submissions of ``ids`` still due, with every blob they name."""
    rows = conn.execute(
        select(_s.id, _s.rendered_key, accounts.c.username)
        .join(accounts, accounts.c.id == _s.account_id)
        .where(_s.id.in_(ids), due)
        .order_by(_s.id)
    ).all()
    if not rows:
        return []
    found = [r.id for r in rows]
    keys: dict[int, list[str | None]] = {r.id: [r.rendered_key] for r in rows}
    finished: dict[int, datetime] = {}
    for j in conn.execute(
        select(jobs.c.submission_id, jobs.c.rendered_key, jobs.c.cover_key, jobs.c.finished_at)
        .where(jobs.c.submission_id.in_(found))
        .order_by(jobs.c.id)
    ):
        keys[j.submission_id] += [j.rendered_key, j.cover_key]
        if j.submission_id not in finished or j.finished_at > finished[j.submission_id]:
            finished[j.submission_id] = j.finished_at
    for d in conn.execute(
        select(documents.c.submission_id, documents.c.blob_key)
        .where(documents.c.submission_id.in_(found))
        .order_by(documents.c.submission_id, documents.c.seq)
    ):
        keys[d.submission_id].append(d.blob_key)
    return [_item("sent", r.id, r.username, finished[r.id], now, keys[r.id]) for r in rows]
