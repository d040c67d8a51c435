"""The dispatcher (HylaFAX's faxq): decides what runs next and hands it to the task queue.

Each pass (``dispatch_once``) enqueues accepted submissions for rendering and due jobs for
sending (no more than the transport has free lines), enqueues again jobs whose message was lost,
fails jobs past their kill time and settles submissions whose jobs are all final. Between
passes it sleeps ``interval`` seconds or until poked (``wake``). Every few seconds it runs the
reconciler first. It chooses rows; the transitions are ``faxout.jobs.lifecycle``'s, each a
compare-and-set, so any number of dispatchers may run at once.

An outage of the database or the queue is logged once when it starts (with its cause) and once
when it ends, not at every pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.sql.elements import ColumnElement

from faxout.clock import Clock
from faxout.db.engine import reading, transaction
from faxout.db.tables import jobs, submissions
from faxout.jobs import lifecycle
from faxout.jobs.lifecycle import ACTIVE_JOB_STATES
from faxout.jobs.model import JobState, SubmissionState
from faxout.periodic import Periodic
from faxout.schedule import lines
from faxout.schedule.reconciler import Reconciler
from faxout.taskqueue.port import TaskQueue

log = logging.getLogger("faxout.dispatch")
RENDER, TRANSMIT = "render", "transmit"  # the task names; ids are the payload
RENDER_REQUEUE_SECONDS = 60.0  # an accepted submission is offered again after this long


@dataclass(frozen=True)
class Timing:
    """How often the dispatcher looks (``runtime`` settings)."""

    interval: float = 1.0
    reconcile_interval: float = 5.0
    requeue_after: float = 120.0


def _due() -> ColumnElement[datetime]:
    return func.coalesce(jobs.c.next_attempt_at, jobs.c.send_at)


def queue_due(
    engine: Engine, now: datetime, limit: int = 200, transport: str | None = None
) -> list[int]:
    """Ready jobs whose time has come → queued; their ids, for the task queue.

    With ``transport``, no more jobs are queued than it has free lines (minus jobs already
    queued), so waiting jobs wait in SQL rather than churn through the task queue.
    """
    with transaction(engine) as conn:
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
                .where(jobs.c.state == JobState.READY, _due() <= now)
                .order_by(_due(), jobs.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if ids:
            lifecycle.queue(conn, ids, now)
    return ids


def requeue_lost(engine: Engine, now: datetime, older_than: float) -> list[int]:
    """Jobs queued long ago and never claimed (a lost message): their ids, to enqueue again.

    Enqueueing twice is harmless: the claim is a compare-and-set.
    """
    cutoff = now - timedelta(seconds=older_than)
    with transaction(engine) as conn:
        ids = list(
            conn.execute(
                select(jobs.c.id).where(jobs.c.state == JobState.QUEUED, jobs.c.queued_at < cutoff)
            ).scalars()
        )
        if ids:
            lifecycle.restamp_queued(conn, ids, now)
    return ids


def expire_killed(engine: Engine, now: datetime) -> list[int]:
    """Jobs waiting past their kill time → failed; their ids."""
    with transaction(engine) as conn:
        ids = list(
            conn.execute(
                select(jobs.c.id).where(
                    jobs.c.state.in_(lifecycle.WAITING),
                    jobs.c.kill_at.is_not(None),
                    jobs.c.kill_at <= now,
                )
            ).scalars()
        )
        if ids:
            lifecycle.expire(conn, ids, now)
    return ids


def settle_submissions(engine: Engine, now: datetime) -> list[int]:
    """Submissions whose jobs have all reached a final state → done; their ids (each returned
    by exactly one call, however many dispatchers run)."""
    active = (
        select(jobs.c.id)
        .where(
            jobs.c.submission_id == submissions.c.id,
            jobs.c.state.in_([s.value for s in ACTIVE_JOB_STATES]),
        )
        .exists()
    )
    with transaction(engine) as conn:
        ids = list(
            conn.execute(
                select(submissions.c.id)
                .where(submissions.c.state == SubmissionState.READY, ~active)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        return [sub_id for sub_id in ids if lifecycle.settle(conn, sub_id, now)]


def submissions_to_render(engine: Engine, limit: int = 100) -> list[int]:
    """Accepted submissions, oldest first."""
    with reading(engine) as conn:
        return list(
            conn.execute(
                select(submissions.c.id)
                .where(submissions.c.state == SubmissionState.ACCEPTED)
                .order_by(submissions.c.id)
                .limit(limit)
            ).scalars()
        )


class Dispatcher:
    """The dispatch loop of one process: ``start``, ``wake``, ``stop``; ``dispatch_once`` for
    tests and for workers that queue due jobs themselves."""

    def __init__(
        self,
        engine: Engine,
        queue: TaskQueue,
        reconciler: Reconciler,
        clock: Clock,
        *,
        transport: str,
        timing: Timing | None = None,
        on_settled: Callable[[int], None] = lambda _sid: None,
    ) -> None:
        self._engine = engine
        self._queue = queue
        self._reconciler = reconciler
        self._clock = clock
        self._transport = transport
        self._timing = timing or Timing()
        self._on_settled = on_settled
        self._offered: dict[int, float] = {}  # submission → when it was last enqueued
        self._loop = Periodic("faxout-dispatch", self.step, self._timing.interval, self._failed)
        self._next_reconcile = 0.0
        self._outage: str | None = None

    def offer_render_again(self, submission_id: int, after: float) -> None:
        """Enqueue ``submission_id`` for rendering again in ``after`` seconds rather than in
        ``RENDER_REQUEUE_SECONDS`` (its account had its share of the render workers)."""
        self._offered[submission_id] = self._clock.monotonic() - RENDER_REQUEUE_SECONDS + after

    def queue_due(self) -> list[int]:
        """Queue and enqueue the jobs due now; their ids."""
        ids = queue_due(self._engine, self._clock.now(), transport=self._transport)
        for job_id in ids:
            self._queue.enqueue(TRANSMIT, job_id)
        return ids

    def take_due(self) -> int | None:
        """Queue the next due job for a line just freed and return its id, for the caller (the
        consumer that freed the line) to run at once rather than through the task queue; None
        when nothing is due or no line is free. A caller that dies before running it leaves a
        queued job, which ``requeue_lost`` enqueues again: taken this way a job is delayed by a
        crash, never lost."""
        ids = queue_due(self._engine, self._clock.now(), limit=1, transport=self._transport)
        return ids[0] if ids else None

    def dispatch_once(self) -> int:
        """One pass: enqueue renders and due jobs, fail killed jobs, settle; how many were
        enqueued."""
        now = self._clock.now()
        mono = self._clock.monotonic()
        enqueued = 0
        for sid in submissions_to_render(self._engine):
            last = self._offered.get(sid)
            if last is None or mono - last > RENDER_REQUEUE_SECONDS:
                self._queue.enqueue(RENDER, sid)
                self._offered[sid] = mono
                enqueued += 1
        if len(self._offered) > 10_000:
            self._offered = {
                k: v for k, v in self._offered.items() if mono - v <= RENDER_REQUEUE_SECONDS
            }
        enqueued += len(self.queue_due())
        for job_id in requeue_lost(self._engine, now, self._timing.requeue_after):
            self._queue.enqueue(TRANSMIT, job_id)
            enqueued += 1
        expire_killed(self._engine, now)
        for sub_id in settle_submissions(self._engine, now):
            log.info("submission settled", extra={"fields": {"submission": sub_id}})
            self._on_settled(sub_id)
        return enqueued

    def wake(self) -> None:
        """Something changed (a submission accepted, a line freed): pass now."""
        self._loop.wake()

    def start(self) -> None:
        """Start the dispatch thread."""
        self._loop.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current pass."""
        self._loop.stop(timeout)

    def step(self) -> None:
        """What the loop runs: a reconciler pass when one is due, then a dispatcher pass. A
        failure is logged (once per outage) and the next step tries again."""
        try:
            self._pass()
        except Exception as exc:
            self._failed(exc)
        else:
            self._recovered()

    def _pass(self) -> None:
        if self._clock.monotonic() >= self._next_reconcile:
            done = self._reconciler.run_once(self._clock.now())
            if done != type(done)():
                log.info("reconciled: %s", done)
            self._next_reconcile = self._clock.monotonic() + self._timing.reconcile_interval
        self.dispatch_once()

    def _failed(self, exc: Exception) -> None:
        """Log the first failed pass of an outage with its traceback, then nothing until it
        changes or ends."""
        cause = f"{type(exc).__name__}: {exc}"[:300]
        if self._outage is None:
            log.exception("dispatcher pass failed; trying again every %ss", self._timing.interval)
        elif cause != self._outage:
            log.error("dispatcher still failing, now: %s", cause)
        self._outage = cause

    def _recovered(self) -> None:
        if self._outage is not None:
            log.info("dispatcher working again after: %s", self._outage)
            self._outage = None
