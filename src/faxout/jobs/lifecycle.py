"""State transitions of submissions and jobs outside a call: rendering, dispatch, expiry,
settling, cancel and retry (the call's own are ``faxout.jobs.attempts``).

Every transition is a compare-and-set (``UPDATE … WHERE state = <expected>``) that raises
``jobs.version``, so a duplicate or stale task message finds nothing to do. The ``Lifecycle``
methods each run in their own short transaction; the module functions take the caller's
connection (the dispatcher's queries in ``faxout.schedule.dispatcher`` choose the rows). The
database is the source of truth; task-queue messages carry ids only (docs/guarantees.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from faxout.db.engine import transaction
from faxout.db.leases import RENDER
from faxout.db.tables import jobs, submissions
from faxout.jobs.attempts import moved
from faxout.jobs.events import Event, emit_for_faxes, emit_for_recipients
from faxout.jobs.model import JobState, SubmissionState
from faxout.jobs.retry import later

ACTIVE_JOB_STATES = (
    JobState.ACCEPTED,
    JobState.RENDERING,
    JobState.READY,
    JobState.QUEUED,
    JobState.CLAIMED,
    JobState.DIALING,
)
FINAL_JOB_STATES = (
    JobState.DONE,
    JobState.FAILED,
    JobState.INTERRUPTED,
    JobState.CANCELED,
    JobState.RENDER_FAILED,
)
CANCELABLE = (JobState.ACCEPTED, JobState.RENDERING, JobState.READY, JobState.QUEUED)
RETRYABLE = (JobState.FAILED, JobState.INTERRUPTED)


_DIAGNOSTIC_CHARS = 4000  # of a converter's output kept for the operator


@dataclass(frozen=True)
class JobRender:
    """What rendering made for one job: its paper, its cover page, and its own pages when its
    paper differs from the submission's first (None: the submission's pages)."""

    paper: str | None = None
    cover_key: str | None = None
    rendered_key: str | None = None
    pages: int | None = None


@dataclass(frozen=True)
class CancelResult:
    """What ``cancel`` did: jobs canceled, and jobs it could not cancel with their state."""

    canceled: list[int]
    refused: list[tuple[int, str]]


def _end_render(
    conn: Connection, submission_id: int, owner: str, now: datetime, **values: object
) -> bool:
    """rendering → ``values["state"]``, only while ``owner`` still holds the render lease."""
    res = conn.execute(
        update(submissions)
        .where(*_held(submission_id, owner))
        .values(**RENDER.released(), updated_at=now, **values)
    )
    return res.rowcount == 1


def _held(submission_id: int, owner: str) -> tuple[ColumnElement[bool], ...]:
    """The submission is rendering under ``owner``'s lease."""
    return (
        submissions.c.id == submission_id,
        submissions.c.state == SubmissionState.RENDERING.value,
        RENDER.held_by(owner),
    )


class Lifecycle:
    """Transitions up to the moment a job is handed to a worker."""

    def __init__(self, engine: Engine, kill_after: timedelta) -> None:
        self._engine = engine
        self._kill_after = kill_after

    # -- rendering ------------------------------------------------------------------------

    def claim_render(self, submission_id: int, owner: str, now: datetime, ttl: float) -> bool:
        """accepted → rendering, leased to ``owner``; False if someone else has it."""
        with transaction(self._engine) as conn:
            res = conn.execute(
                update(submissions)
                .where(
                    submissions.c.id == submission_id,
                    submissions.c.state == SubmissionState.ACCEPTED.value,
                )
                .values(
                    state=SubmissionState.RENDERING.value,
                    **RENDER.take(owner, now + timedelta(seconds=ttl)),
                    updated_at=now,
                )
            )
            if res.rowcount != 1:
                return False
            conn.execute(
                update(jobs)
                .where(jobs.c.submission_id == submission_id, jobs.c.state == JobState.ACCEPTED)
                .values(state=JobState.RENDERING.value, **moved(now))
            )
        return True

    def renew_render(self, submission_id: int, owner: str, now: datetime, ttl: float) -> bool:
        """Extend ``owner``'s render lease; False if it was lost (someone else may render).

        The render stage calls this while a render runs, so a slow submission is never
        reclaimed and rendered a second time alongside the first.
        """
        with transaction(self._engine) as conn:
            res = conn.execute(
                update(submissions)
                .where(*_held(submission_id, owner))
                .values(**RENDER.renew(now + timedelta(seconds=ttl)))
            )
            return res.rowcount == 1

    def finish_render(
        self,
        submission_id: int,
        owner: str,
        now: datetime,
        *,
        rendered_key: str,
        pages: int,
        warnings: list[str],
        per_job: dict[int, JobRender],
    ) -> bool:
        """rendering → ready; each job becomes ready for its send time (kill time set), with
        its paper, its cover page and (on another paper than the first) its own pages."""
        with transaction(self._engine) as conn:
            if not _end_render(
                conn,
                submission_id,
                owner,
                now,
                state=SubmissionState.READY.value,
                rendered_key=rendered_key,
                pages=pages,
                render_count=submissions.c.render_count + 1,
                render_warnings=json.dumps(warnings),
            ):
                return False
            rows = conn.execute(
                select(jobs.c.id, jobs.c.send_at).where(
                    jobs.c.submission_id == submission_id, jobs.c.state == JobState.RENDERING
                )
            ).all()
            for row in rows:
                own = per_job.get(row.id) or JobRender()
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id, jobs.c.state == JobState.RENDERING)
                    .values(
                        state=JobState.READY.value,
                        paper=own.paper,
                        cover_key=own.cover_key,
                        rendered_key=own.rendered_key,
                        pages=own.pages,
                        kill_at=later(max(row.send_at, now), self._kill_after),
                        reason="",
                        **moved(now),
                    )
                )
            emit_for_faxes(conn, now, Event.RENDERED, [submission_id])
        return True

    def fail_render(
        self, submission_id: int, owner: str, now: datetime, reason: str, *, diagnostic: str = ""
    ) -> bool:
        """rendering → render_failed, with a reason that names the document (for the sender)
        and the converter's own words (for the operator: ``faxout jobs show``)."""
        with transaction(self._engine) as conn:
            if not _end_render(
                conn,
                submission_id,
                owner,
                now,
                state=SubmissionState.RENDER_FAILED.value,
                render_error=reason,
                render_diagnostic=diagnostic[:_DIAGNOSTIC_CHARS],
            ):
                return False
            failed = conn.execute(
                update(jobs)
                .where(jobs.c.submission_id == submission_id, jobs.c.state == JobState.RENDERING)
                .values(
                    state=JobState.RENDER_FAILED.value,
                    reason=reason,
                    finished_at=now,
                    **moved(now),
                )
                .returning(jobs.c.id)
            )
            emit_for_recipients(conn, now, Event.FAILED, list(failed.scalars()))
        return True

    # -- cancel ---------------------------------------------------------------------------

    def cancel(
        self, now: datetime, *, job_id: int | None = None, submission_id: int | None = None
    ) -> CancelResult:
        """Cancel a job, or every job of a submission, that is not dialling yet."""
        if (job_id is None) == (submission_id is None):
            raise ValueError("give a job id or a submission id")
        target = (
            jobs.c.id == job_id if job_id is not None else jobs.c.submission_id == submission_id
        )
        with transaction(self._engine) as conn:
            rows = conn.execute(select(jobs.c.id, jobs.c.state).where(target)).all()
            ok = [r.id for r in rows if r.state in CANCELABLE]
            canceled: list[int] = []
            if ok:
                # What the UPDATE moved, not what the SELECT saw: a claim may commit in between.
                canceled = list(
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id.in_(ok), jobs.c.state.in_(CANCELABLE))
                        .values(
                            state=JobState.CANCELED.value,
                            reason="canceled by the operator",
                            finished_at=now,
                            **moved(now),
                        )
                        .returning(jobs.c.id)
                    ).scalars()
                )
                emit_for_recipients(conn, now, Event.CANCELED, canceled)
            missed = [i for i in ok if i not in canceled]
            states = (
                dict(
                    conn.execute(select(jobs.c.id, jobs.c.state).where(jobs.c.id.in_(missed))).all()
                )
                if missed
                else {}
            )
        refused = [(r.id, states.get(r.id, r.state)) for r in rows if r.id not in canceled]
        return CancelResult(sorted(canceled), refused)

    def retry(self, now: datetime, job_id: int) -> bool:
        """A failed or interrupted job → ready, due now, resuming after its confirmed pages and
        with fresh counters and kill time; its submission is open again so it settles (and
        is reported) once more. False when the job is in another state, or retention removed
        its pages (``submissions.purged_at``)."""
        with transaction(self._engine) as conn:
            row = conn.execute(
                select(jobs.c.submission_id).where(jobs.c.id == job_id, jobs.c.state.in_(RETRYABLE))
            ).first()
            if row is None:
                return False
            # The submission's row first, as retention takes it before it reads the jobs: a
            # purged fax has no pages left to send, and one being purged waits for this.
            held = conn.execute(
                update(submissions)
                .where(submissions.c.id == row.submission_id, submissions.c.purged_at.is_(None))
                .values(updated_at=now)
            )
            if held.rowcount != 1:
                return False
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state.in_(RETRYABLE))
                .values(
                    state=JobState.READY.value,
                    reason="retried by the operator",
                    next_attempt_at=now,
                    resume_page=jobs.c.pages_confirmed + 1,
                    dials=0,
                    tries=0,
                    kill_at=later(now, self._kill_after),
                    finished_at=None,
                    **moved(now),
                )
            )
            conn.execute(
                update(submissions)
                .where(
                    submissions.c.id == row.submission_id,
                    submissions.c.state == SubmissionState.DONE,
                )
                .values(state=SubmissionState.READY.value, updated_at=now)
            )
        return True


# -- the dispatcher's transitions (it chooses the rows: faxout.schedule.dispatcher) ------------


def queue(conn: Connection, ids: list[int], now: datetime) -> None:
    """ready → queued: handed to the task queue."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(ids), jobs.c.state == JobState.READY)
        .values(state=JobState.QUEUED.value, queued_at=now, **moved(now))
    )


def restamp_queued(conn: Connection, ids: list[int], now: datetime) -> None:
    """Still queued, enqueued again now (a lost message; not a transition: the version stays)."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(ids), jobs.c.state == JobState.QUEUED)
        .values(queued_at=now)
    )


WAITING = (JobState.READY, JobState.QUEUED)


def expire(conn: Connection, ids: list[int], now: datetime) -> None:
    """ready or queued past the kill time → failed."""
    done = conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(ids), jobs.c.state.in_(WAITING))
        .values(
            state=JobState.FAILED.value,
            reason=func.trim(
                "kill time reached before the fax could be sent; last: " + jobs.c.reason
            ),
            finished_at=now,
            **moved(now),
        )
        .returning(jobs.c.id)
    )
    emit_for_recipients(conn, now, Event.FAILED, list(done.scalars()))


def settle(conn: Connection, submission_id: int, now: datetime) -> bool:
    """A ready submission whose jobs are all final → done; True for exactly one caller, so
    whatever follows (the delivery report) happens once."""
    res = conn.execute(
        update(submissions)
        .where(submissions.c.id == submission_id, submissions.c.state == SubmissionState.READY)
        .values(state=SubmissionState.DONE.value, updated_at=now)
    )
    return bool(res.rowcount == 1)


def restart_renders(conn: Connection, now: datetime, dead: list[str]) -> int:
    """Renders whose lease expired or whose holder is dead → accepted again; how many."""
    stale = list(
        conn.execute(
            select(submissions.c.id).where(
                submissions.c.state == SubmissionState.RENDERING,
                RENDER.lost(now, dead),
            )
        ).scalars()
    )
    if stale:
        conn.execute(
            update(submissions)
            .where(submissions.c.id.in_(stale), submissions.c.state == SubmissionState.RENDERING)
            .values(state=SubmissionState.ACCEPTED.value, **RENDER.released())
        )
        conn.execute(
            update(jobs)
            .where(jobs.c.submission_id.in_(stale), jobs.c.state == JobState.RENDERING)
            .values(state=JobState.ACCEPTED.value, **moved(now))
        )
    return len(stale)
