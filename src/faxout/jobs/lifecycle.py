"""State transitions of submissions and jobs before a call: rendering, dispatch, cancel.

Every transition is a compare-and-set (``UPDATE … WHERE state = <expected>``) in its own short
transaction, so a duplicate or stale task message finds nothing to do. The database is the
source of truth; task-queue messages carry ids only (docs/guarantees.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from faxout.db.engine import transaction
from faxout.db.tables import jobs, submissions
from faxout.jobs.model import JobState, SubmissionState
from faxout.jobs.retry import later
from faxout.schedule import lines

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
        .values(lease_owner=None, lease_until=None, updated_at=now, **values)
    )
    return res.rowcount == 1


def _held(submission_id: int, owner: str) -> tuple[ColumnElement[bool], ...]:
    """The submission is rendering under ``owner``'s lease."""
    return (
        submissions.c.id == submission_id,
        submissions.c.state == SubmissionState.RENDERING.value,
        submissions.c.lease_owner == owner,
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
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=ttl),
                    updated_at=now,
                )
            )
            if res.rowcount != 1:
                return False
            conn.execute(
                update(jobs)
                .where(jobs.c.submission_id == submission_id, jobs.c.state == JobState.ACCEPTED)
                .values(state=JobState.RENDERING.value, updated_at=now)
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
                .values(lease_until=now + timedelta(seconds=ttl))
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
                        updated_at=now,
                        version=jobs.c.version + 1,
                    )
                )
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
            conn.execute(
                update(jobs)
                .where(jobs.c.submission_id == submission_id, jobs.c.state == JobState.RENDERING)
                .values(
                    state=JobState.RENDER_FAILED.value,
                    reason=reason,
                    finished_at=now,
                    updated_at=now,
                )
            )
        return True

    def submissions_to_render(self, limit: int = 100) -> list[int]:
        """Accepted submissions, oldest first (the dispatcher enqueues them)."""
        with self._engine.connect() as conn:
            return list(
                conn.execute(
                    select(submissions.c.id)
                    .where(submissions.c.state == SubmissionState.ACCEPTED)
                    .order_by(submissions.c.id)
                    .limit(limit)
                ).scalars()
            )

    # -- dispatch -------------------------------------------------------------------------

    def queue_due(self, now: datetime, limit: int = 200, transport: str | None = None) -> list[int]:
        """ready jobs whose time has come → queued; their ids, for the task queue.

        With ``transport``, no more jobs are queued than it has free lines (minus jobs already
        queued), so waiting jobs wait in SQL rather than churn through the task queue.
        """
        due = func.coalesce(jobs.c.next_attempt_at, jobs.c.send_at)
        with transaction(self._engine) as conn:
            if transport is not None:
                waiting = conn.execute(
                    select(func.count()).select_from(jobs).where(jobs.c.state == JobState.QUEUED)
                ).scalar_one()
                limit = min(limit, lines.free_count(conn, transport, now) - int(waiting))
                if limit <= 0:
                    return []
            ids = list(
                conn.execute(
                    select(jobs.c.id)
                    .where(jobs.c.state == JobState.READY, due <= now)
                    .order_by(due, jobs.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if ids:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(ids), jobs.c.state == JobState.READY)
                    .values(
                        state=JobState.QUEUED.value,
                        queued_at=now,
                        updated_at=now,
                        version=jobs.c.version + 1,
                    )
                )
        return ids

    def requeue_lost(self, now: datetime, older_than: float) -> list[int]:
        """Jobs queued long ago and never claimed (a lost message): their ids, to enqueue again.

        Enqueueing twice is harmless: the claim is a compare-and-set.
        """
        cutoff = now - timedelta(seconds=older_than)
        with transaction(self._engine) as conn:
            ids = list(
                conn.execute(
                    select(jobs.c.id).where(
                        jobs.c.state == JobState.QUEUED, jobs.c.queued_at < cutoff
                    )
                ).scalars()
            )
            if ids:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(ids), jobs.c.state == JobState.QUEUED)
                    .values(queued_at=now)
                )
        return ids

    def settle_submissions(self, now: datetime) -> list[int]:
        """Submissions whose jobs have all reached a final state → done; their ids.

        A compare-and-set: each submission is returned by exactly one call, however many
        dispatchers run, so whatever follows (the delivery report) happens once.
        """
        active = (
            select(jobs.c.id)
            .where(
                jobs.c.submission_id == submissions.c.id,
                jobs.c.state.in_([s.value for s in ACTIVE_JOB_STATES]),
            )
            .exists()
        )
        with transaction(self._engine) as conn:
            ids = list(
                conn.execute(
                    select(submissions.c.id)
                    .where(submissions.c.state == SubmissionState.READY, ~active)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            settled = []
            for sub_id in ids:
                res = conn.execute(
                    update(submissions)
                    .where(
                        submissions.c.id == sub_id,
                        submissions.c.state == SubmissionState.READY,
                    )
                    .values(state=SubmissionState.DONE.value, updated_at=now)
                )
                if res.rowcount == 1:
                    settled.append(sub_id)
        return settled

    def expire_killed(self, now: datetime) -> list[int]:
        """Jobs waiting past their kill time → failed."""
        waiting = (JobState.READY, JobState.QUEUED)
        with transaction(self._engine) as conn:
            ids = list(
                conn.execute(
                    select(jobs.c.id).where(
                        jobs.c.state.in_(waiting),
                        jobs.c.kill_at.is_not(None),
                        jobs.c.kill_at <= now,
                    )
                ).scalars()
            )
            if ids:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(ids), jobs.c.state.in_(waiting))
                    .values(
                        state=JobState.FAILED.value,
                        reason=func.trim(
                            "kill time reached before the fax could be sent; last: " + jobs.c.reason
                        ),
                        finished_at=now,
                        updated_at=now,
                    )
                )
        return ids

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
            if ok:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(ok), jobs.c.state.in_(CANCELABLE))
                    .values(
                        state=JobState.CANCELED.value,
                        reason="canceled by the operator",
                        finished_at=now,
                        updated_at=now,
                        version=jobs.c.version + 1,
                    )
                )
        refused = [(r.id, r.state) for r in rows if r.state not in CANCELABLE]
        return CancelResult(ok, refused)
