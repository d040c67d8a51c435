"""Attempts: every transition of a job from ``queued`` to its outcome, and of its attempt rows.

**At most one dial per attempt** (docs/guarantees.md) is enforced here, in two phases:

1. ``claim``: ``queued → claimed``, with a new attempt row (phase ``claimed``), in the same
   transaction as the caller's line lease. Nothing has been dialled.
2. ``dialing``: ``claimed → dialing``, committed *before* the transport is touched. A worker
   that cannot commit it (lease lost, job canceled, version moved) does not dial.
3. ``finish``: ``dialing → done | ready | failed`` with the call's result.

A worker that dies in phase 1 leaves a job ``reclaim_lost`` puts back to ``ready`` (it never
dialled). One that dies in phase 2 leaves a job whose outcome is unknown: it becomes
``interrupted`` and is reported, never redialled automatically unless the operator set
``redial_on_unknown``.

Every function takes the caller's ``Connection``, so a line lease commits or rolls back with
the transition. Every write to a job row is a compare-and-set on its state and raises
``jobs.version``; a holder's transition (``dialing``, ``abandon``, ``finish``) also compares the
version it holds, so a late worker can never move a job that has moved on since (canceled,
reclaimed and claimed by another worker). A lease renewal moves no state and keeps the version.

``progress`` records a call as it goes (pages confirmed, the page on the line) on the attempt
row, for the holder only. Like a renewal it is no transition: it keeps the version (so it can
never break a ``finish`` or ``renew`` compare-and-set) and only touches ``jobs.updated_at``, so
the status API's changes-since sees it. The job's own ``pages_confirmed`` stays ``finish``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from faxout.db.leases import JOB
from faxout.db.tables import attempts, jobs
from faxout.jobs.events import Event, emit_for_recipients
from faxout.jobs.model import AttemptPhase, JobState, Unfinished
from faxout.jobs.retry import Decision, Final

UNKNOWN_OUTCOME = "the worker stopped during the call: the fax may or may not have been delivered"
STOPPED_BEFORE_DIALLING = "the worker stopped before dialling"


@dataclass(frozen=True)
class Held:
    """A job this worker holds in an attempt, at the version its last transition left."""

    job_id: int
    attempt_id: int
    attempt_no: int
    worker: str
    version: int


def moved(now: datetime) -> dict[str, Any]:
    """The columns every job transition sets besides its own."""
    return {"updated_at": now, "version": jobs.c.version + 1}


def back_to_ready(
    conn: Connection,
    *where: ColumnElement[bool],
    now: datetime,
    reason: str,
    at: datetime | None = None,
) -> int:
    """The one "back to ready, lease cleared" write: the matching jobs wait for their next
    attempt (at ``at``; None keeps the time they had). How many moved."""
    values: dict[str, Any] = {
        "state": JobState.READY.value,
        "reason": reason,
        **JOB.released(),
        **moved(now),
    }
    if at is not None:
        values["next_attempt_at"] = at
    return int(conn.execute(update(jobs).where(*where).values(**values)).rowcount)


def wait_for_line(
    conn: Connection, job_id: int, version: int, now: datetime, reason: str, at: datetime
) -> bool:
    """``queued → ready``: no line could be leased; looked at again at ``at``."""
    return (
        back_to_ready(
            conn,
            jobs.c.id == job_id,
            jobs.c.state == JobState.QUEUED,
            jobs.c.version == version,
            now=now,
            reason=f"waiting: {reason}",
            at=at,
        )
        == 1
    )


def claim(
    conn: Connection,
    job_id: int,
    version: int,
    *,
    worker: str,
    transport: str,
    line_no: int,
    first_page: int,
    lease_until: datetime,
    now: datetime,
) -> Held | None:
    """``queued → claimed`` with a new attempt row; None when the job moved on meanwhile."""
    res = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == JobState.QUEUED, jobs.c.version == version)
        .values(
            state=JobState.CLAIMED.value,
            **JOB.take(worker, lease_until),
            reason="",
            **moved(now),
        )
    )
    if res.rowcount != 1:
        return None
    last = conn.execute(
        select(func.max(attempts.c.attempt_no)).where(attempts.c.job_id == job_id)
    ).scalar_one()
    attempt_no = int(last or 0) + 1
    attempt_id = conn.execute(
        insert(attempts)
        .values(
            job_id=job_id,
            attempt_no=attempt_no,
            phase=AttemptPhase.CLAIMED.value,
            worker=worker,
            transport=transport,
            line_no=line_no,
            first_page=first_page,
            claimed_at=now,
        )
        .returning(attempts.c.id)
    ).scalar_one()
    return Held(job_id, int(attempt_id), attempt_no, worker, version + 1)


def _holding(held: Held, state: JobState) -> tuple[ColumnElement[bool], ...]:
    return (
        jobs.c.id == held.job_id,
        jobs.c.state == state,
        JOB.held_by(held.worker),
        jobs.c.version == held.version,
    )


def dialing(conn: Connection, held: Held, now: datetime, lease_until: datetime) -> Held | None:
    """``claimed → dialing`` (phase 2): commit this before touching the transport; None when
    the claim was lost, and then nothing may be dialled."""
    res = conn.execute(
        update(jobs)
        .where(*_holding(held, JobState.CLAIMED))
        .values(state=JobState.DIALING.value, **JOB.renew(lease_until), **moved(now))
    )
    if res.rowcount != 1:
        return None
    conn.execute(
        update(attempts)
        .where(attempts.c.id == held.attempt_id, attempts.c.phase == AttemptPhase.CLAIMED)
        .values(phase=AttemptPhase.DIALING.value, dialing_at=now)
    )
    emit_for_recipients(conn, now, Event.DIALING, [held.job_id], attempt=held.attempt_no)
    return replace(held, version=held.version + 1)


def renew(conn: Connection, held: Held, lease_until: datetime) -> bool:
    """Extend the holder's lease on the job (not a transition: state and version stay)."""
    res = conn.execute(
        update(jobs)
        .where(
            jobs.c.id == held.job_id,
            JOB.held_by(held.worker),
            jobs.c.state.in_([JobState.CLAIMED, JobState.DIALING]),
        )
        .values(**JOB.renew(lease_until))
    )
    return bool(res.rowcount == 1)


@dataclass(frozen=True)
class Progressed:
    """What one ``progress`` write recorded: the pages it newly confirmed and the page on the
    line, both numbered over the whole fax (cover page included) from 1."""

    confirmed: tuple[int, ...]
    page_now: int | None


def progress(
    conn: Connection,
    held: Held,
    now: datetime,
    *,
    pages_confirmed: int,
    page_now: int,
    pages_total: int,
) -> Progressed | None:
    """Record a call in progress: ``pages_confirmed`` of this call's ``pages_total`` pages,
    page ``page_now`` on the line (0: none yet), all counted in this call's document. None when
    the job is no longer this holder's call (it finished, was reclaimed or moved on).

    During the call ``attempts.pages_sent`` counts the pages started (the one on the line
    included); ``finish`` overwrites it with what the fax engine counted. Confirmed pages never
    go back: a late, smaller count keeps the recorded one.
    """
    touched = conn.execute(
        update(jobs).where(*_holding(held, JobState.DIALING)).values(updated_at=now)
    )
    if touched.rowcount != 1:
        return None
    row = conn.execute(
        select(attempts.c.pages_confirmed, attempts.c.first_page).where(
            attempts.c.id == held.attempt_id, attempts.c.phase == AttemptPhase.DIALING
        )
    ).first()
    if row is None:
        return None
    before, first = int(row.pages_confirmed), int(row.first_page)
    after = max(before, pages_confirmed)
    written = conn.execute(
        update(attempts)
        .where(
            attempts.c.id == held.attempt_id,
            attempts.c.phase == AttemptPhase.DIALING,
            attempts.c.pages_confirmed == before,
        )
        .values(pages_confirmed=after, pages_sent=page_now, pages_total=pages_total)
    )
    if written.rowcount != 1:
        return None
    # The one place a page is known confirmed while its call goes on: one fax.page.confirmed
    # per page, in this transaction (pages are confirmed in order, so page p is p confirmed).
    confirmed = tuple(range(first + before, first + after))
    for page in confirmed:
        emit_for_recipients(
            conn,
            now,
            Event.PAGE_CONFIRMED,
            [held.job_id],
            pages_confirmed=page,
            page=page,
            attempt=held.attempt_no,
        )
    return Progressed(confirmed=confirmed, page_now=first - 1 + page_now if page_now else None)


def abandon(conn: Connection, held: Held, now: datetime, why: str, at: datetime) -> bool:
    """``claimed → ready``: the attempt ends before dialling (``abandoned``); tried again at
    ``at``."""
    conn.execute(
        update(attempts)
        .where(attempts.c.id == held.attempt_id, attempts.c.phase == AttemptPhase.CLAIMED)
        .values(
            phase=AttemptPhase.FINISHED.value,
            outcome=Unfinished.ABANDONED.value,
            detail=why,
            finished_at=now,
        )
    )
    moved_back = back_to_ready(
        conn, *_holding(held, JobState.CLAIMED), now=now, reason=f"waiting: {why}", at=at
    )
    return moved_back == 1


def finish(
    conn: Connection,
    held: Held,
    now: datetime,
    decision: Decision,
    *,
    pages_confirmed: int,
    result: dict[str, Any],
) -> bool:
    """``dialing → done | failed`` (a ``Final`` decision) or ``→ ready`` (a ``Retry``), with
    the attempt's ``result`` columns. False when the job had moved on (the attempt is still
    recorded).

    The outcome of a call that really ended beats the ``interrupted`` the reconciler sets
    when this worker stalled past its lease, but only while that interruption is the job's
    last word: once the job was retried (a newer attempt exists), the late result changes
    nothing but its own attempt row.
    """
    conn.execute(
        update(attempts)
        .where(attempts.c.id == held.attempt_id)
        .values(phase=AttemptPhase.FINISHED.value, finished_at=now, **result)
    )
    latest = (
        select(func.max(attempts.c.id)).where(attempts.c.job_id == held.job_id).scalar_subquery()
    )
    values: dict[str, Any] = {
        "dials": decision.dials,
        "tries": decision.tries,
        "pages_confirmed": pages_confirmed,
        **JOB.released(),
        **moved(now),
    }
    if isinstance(decision, Final):
        values |= {"state": decision.state, "reason": decision.reason, "finished_at": now}
    else:
        values |= {
            "state": JobState.READY.value,
            "reason": decision.reason,
            "next_attempt_at": decision.at,
            "resume_page": decision.resume_from_page,
        }
    res = conn.execute(
        update(jobs)
        .where(
            jobs.c.id == held.job_id,
            or_(
                (jobs.c.state == JobState.DIALING) & (jobs.c.version == held.version),
                (jobs.c.state == JobState.INTERRUPTED) & (latest == held.attempt_id),
            ),
        )
        .values(**values)
    )
    if res.rowcount != 1:
        return False
    if isinstance(decision, Final):
        event = Event.DELIVERED if decision.state == "done" else Event.FAILED
        emit_for_recipients(conn, now, event, [held.job_id], attempt=held.attempt_no)
    return True


def _end(
    conn: Connection,
    job_ids: list[int],
    phase: AttemptPhase,
    outcome: Unfinished,
    detail: str,
    now: datetime,
) -> None:
    """The open attempts (in ``phase``) of ``job_ids`` end with no call result."""
    conn.execute(
        update(attempts)
        .where(attempts.c.job_id.in_(job_ids), attempts.c.phase == phase)
        .values(
            phase=AttemptPhase.FINISHED.value, outcome=outcome.value, finished_at=now, detail=detail
        )
    )


@dataclass(frozen=True)
class Reclaimed:
    """What ``reclaim_lost`` did: jobs sent back to ready, jobs whose call was lost."""

    released: list[int]
    unknown: list[int]


def reclaim_lost(
    conn: Connection, now: datetime, dead: list[str], *, redial_on_unknown: bool
) -> Reclaimed:
    """Jobs whose holder's lease expired or whose holder is dead: ``claimed → ready`` (never
    dialled), ``dialing → interrupted`` (or ``→ ready`` with ``redial_on_unknown``)."""
    lost = JOB.lost(now, dead)
    claimed = list(
        conn.execute(select(jobs.c.id).where(jobs.c.state == JobState.CLAIMED, lost)).scalars()
    )
    if claimed:
        _end(
            conn, claimed, AttemptPhase.CLAIMED, Unfinished.ABANDONED, STOPPED_BEFORE_DIALLING, now
        )
        back_to_ready(
            conn,
            jobs.c.id.in_(claimed),
            jobs.c.state == JobState.CLAIMED,
            now=now,
            reason=f"{STOPPED_BEFORE_DIALLING}; sending again",
        )
    dialing_ids = list(
        conn.execute(select(jobs.c.id).where(jobs.c.state == JobState.DIALING, lost)).scalars()
    )
    if dialing_ids:
        _end(conn, dialing_ids, AttemptPhase.DIALING, Unfinished.UNKNOWN, UNKNOWN_OUTCOME, now)
        where = (jobs.c.id.in_(dialing_ids), jobs.c.state == JobState.DIALING)
        # The call counts as a dial whichever way it went.
        conn.execute(update(jobs).where(*where).values(dials=jobs.c.dials + 1))
        if redial_on_unknown:
            reason = UNKNOWN_OUTCOME + "; sending again (redial_on_unknown)"
            back_to_ready(conn, *where, now=now, reason=reason, at=now)
        else:
            stopped = conn.execute(
                update(jobs)
                .where(*where)
                .values(
                    state=JobState.INTERRUPTED.value,
                    reason=UNKNOWN_OUTCOME,
                    finished_at=now,
                    **JOB.released(),
                    **moved(now),
                )
                .returning(jobs.c.id)
            )
            emit_for_recipients(conn, now, Event.INTERRUPTED, list(stopped.scalars()))
    return Reclaimed(claimed, dialing_ids)
