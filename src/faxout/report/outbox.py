"""The outbox: reports wait in SQL until the relay has accepted them.

Life of a row (``outbox`` table): ``enqueue_report`` inserts it ``pending`` (at most one per
submission, kind and ref: a unique constraint, so enqueueing twice does nothing). A delivery pass
(``Outbox.deliver_pending``) leases each due row, composes the message once (the bytes and the
Message-ID are stored in the row, so every retry sends the same message), hands it to the
``Mailer`` and records the result:

- accepted → ``sent``;
- temporary (4xx, relay down, TLS/AUTH trouble) → still ``pending``, next try after an
  exponential backoff (``report.retry_initial`` doubling up to ``report.retry_max``); after
  ``report.give_up_after`` → ``failed``;
- permanent (5xx to this message, an unusable address) → ``failed``, logged, and shown by
  ``faxout report show`` (and ``faxout jobs show``).

**At most one duplicate.** The relay's acceptance and our ``UPDATE … state='sent'`` cannot be
one transaction. If the process dies between the two, the row is still ``pending`` with a lease;
when the lease (``report.lease_seconds``) expires the next pass sends it again — the very same
bytes with the same Message-ID, which many mail systems fold into one. A crash anywhere else
loses nothing and duplicates nothing: before the send the row is simply sent later; after the
commit it is never sent again. A row is only ever written by the holder of its lease.

**Never lost.** The pipeline enqueues the report as soon as a submission's last job is final
(``Outbox.submission_changed``); if the process dies before that, ``Outbox.sweep`` finds final
submissions without a report (jobs sent within ``report.catch_up_window``) and enqueues them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    String,
    cast,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.engine import reading, transaction
from faxout.db.leases import REPORT
from faxout.db.tables import accounts, attempts, jobs, outbox, submissions
from faxout.jobs.lifecycle import ACTIVE_JOB_STATES, FINAL_JOB_STATES
from faxout.jobs.model import AttemptPhase, SubmissionState
from faxout.report.compose import BadAddressError, Composed, compose, new_message_id
from faxout.report.facts import load_facts
from faxout.report.mailer import Accepted, Envelope, Mailer, Permanent, SendResult, Temporary
from faxout.report.mailrows import MailRows, deliver_each
from faxout.report.retrying import settle
from faxout.report.settings import Report
from faxout.report.status import PENDING
from faxout.report.wording import ReportKind

log = logging.getLogger("faxout.report")

_FINAL_KINDS = (ReportKind.FINAL.value, ReportKind.REJECTED.value)


def enqueue_report(
    target: Connection | Engine,
    submission_id: int,
    kind: ReportKind | str,
    *,
    now: datetime,
    ref: str = "",
) -> bool:
    """Queue a report; True if queued now, False if it already was (idempotent).

    With a ``Connection`` the row joins the caller's transaction (commit it there); with an
    ``Engine`` it is committed here.
    """
    if isinstance(target, Engine):
        with transaction(target) as conn:
            return enqueue_report(conn, submission_id, kind, now=now, ref=ref)
    values = {
        "submission_id": submission_id,
        "kind": ReportKind(kind).value,
        "ref": ref,
        "state": PENDING,
        "tries": 0,
        "last_error": "",
        "created_at": now,
        "updated_at": now,
    }
    dialect = target.dialect.name
    if dialect in ("sqlite", "postgresql"):
        ins = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(outbox)
        # RETURNING, not rowcount: psycopg may report -1 for a statement that inserted nothing.
        res = target.execute(ins.values(**values).on_conflict_do_nothing().returning(outbox.c.id))
        return res.first() is not None
    try:  # pragma: no cover - other engines are not supported elsewhere either
        with target.begin_nested():
            target.execute(insert(outbox).values(**values))
    except IntegrityError:  # pragma: no cover
        return False
    return True  # pragma: no cover


@dataclass
class DeliveryPass:
    """What one pass did."""

    queued: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0


class Outbox:
    """Queues, composes and delivers reports; safe to run in several processes at once."""

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        settings: Report,
        mailer: Mailer,
        *,
        clock: Clock,
        worker: str = "outbox",
    ) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.mailer = mailer
        self.clock = clock
        self.worker = worker
        self.rows = MailRows(
            engine,
            outbox,
            REPORT,
            worker=worker,
            lease_seconds=settings.lease_seconds,
            clock=clock,
        )

    # -- queueing ---------------------------------------------------------------------------

    def submission_changed(self, submission_id: int) -> ReportKind | None:
        """Call after a job of ``submission_id`` changed: queues its report once every job is
        final (``rejected`` if it could not be rendered); the kind queued, or None."""
        active_states = [s.value for s in ACTIVE_JOB_STATES]
        with reading(self.engine) as conn:
            total, active = conn.execute(
                select(
                    func.count(),
                    func.count().filter(jobs.c.state.in_(active_states)),
                ).where(jobs.c.submission_id == submission_id)
            ).one()
            state = conn.execute(
                select(submissions.c.state).where(submissions.c.id == submission_id)
            ).scalar_one_or_none()
        if state is None or not total or active or not self.settings.enabled:
            return None
        kind = ReportKind.REJECTED if state == SubmissionState.RENDER_FAILED else ReportKind.FINAL
        if enqueue_report(self.engine, submission_id, kind, now=self.clock.now()):
            return kind
        return None

    def job_changed(self, job_id: int) -> ReportKind | None:
        """``submission_changed`` for the submission of ``job_id``."""
        with reading(self.engine) as conn:
            sid = conn.execute(
                select(jobs.c.submission_id).where(jobs.c.id == job_id)
            ).scalar_one_or_none()
        return None if sid is None else self.submission_changed(int(sid))

    def sweep(self, now: datetime) -> int:
        """Queue what was missed: final submissions without a report, and (for accounts that
        want them) notices of retried attempts. How many rows were queued."""
        if not self.settings.enabled:
            return 0
        cutoff = now - self.settings.catch_up_window
        has_report = exists().where(
            outbox.c.submission_id == jobs.c.submission_id, outbox.c.kind.in_(_FINAL_KINDS)
        )
        sibling = jobs.alias("sibling")
        unfinished = exists().where(
            sibling.c.submission_id == jobs.c.submission_id,
            sibling.c.state.in_([s.value for s in ACTIVE_JOB_STATES]),
        )
        with reading(self.engine) as conn:
            candidates = list(
                conn.execute(
                    select(jobs.c.submission_id)
                    .where(
                        jobs.c.state.in_([s.value for s in FINAL_JOB_STATES]),
                        jobs.c.send_at >= cutoff,
                        ~has_report,
                        ~unfinished,
                    )
                    .distinct()
                ).scalars()
            )
        queued = sum(1 for sid in candidates if self.submission_changed(sid) is not None)
        if self.settings.any_notices():
            queued += self._sweep_notices(cutoff)
        return queued

    def _sweep_notices(self, cutoff: datetime) -> int:
        later = attempts.alias("later")
        latest = (
            select(func.max(later.c.attempt_no))
            .where(later.c.job_id == attempts.c.job_id)
            .correlate(attempts)
            .scalar_subquery()
        )
        ref = cast(jobs.c.id, String).concat(":").concat(cast(attempts.c.attempt_no, String))
        noticed = exists().where(
            outbox.c.submission_id == jobs.c.submission_id,
            outbox.c.kind == ReportKind.NOTICE.value,
            outbox.c.ref == ref,
        )
        with reading(self.engine) as conn:
            rows = conn.execute(
                select(jobs.c.submission_id, jobs.c.id, attempts.c.attempt_no, accounts.c.username)
                .join(attempts, attempts.c.job_id == jobs.c.id)
                .join(submissions, submissions.c.id == jobs.c.submission_id)
                .join(accounts, accounts.c.id == submissions.c.account_id)
                .where(
                    jobs.c.state.in_(["ready", "queued"]),
                    jobs.c.send_at >= cutoff,
                    attempts.c.phase == AttemptPhase.FINISHED,
                    attempts.c.outcome != "ok",
                    attempts.c.attempt_no == latest,
                    ~noticed,
                )
            ).all()
        now = self.clock.now()
        return sum(
            1
            for r in rows
            if self.settings.notices_for(r.username)
            and enqueue_report(
                self.engine,
                r.submission_id,
                ReportKind.NOTICE,
                now=now,
                ref=f"{r.id}:{r.attempt_no}",
            )
        )

    def resend(self, submission_id: int) -> int | None:
        """Compose the submission's report afresh (new Message-ID) and queue it for sending
        now, whatever became of the last one; the row id, or None if it is not final yet."""
        now = self.clock.now()
        kind = self.submission_changed(submission_id)
        with transaction(self.engine) as conn:
            row = conn.execute(
                select(outbox.c.id).where(
                    outbox.c.submission_id == submission_id, outbox.c.kind.in_(_FINAL_KINDS)
                )
            ).first()
            if row is None:
                return None
            if kind is None:  # it existed already: start it over
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(
                        state=PENDING,
                        message=None,
                        message_id=None,
                        recipient=None,
                        tries=0,
                        next_at=None,
                        last_error="",
                        **REPORT.released(),
                        created_at=now,
                        updated_at=now,
                        sent_at=None,
                    )
                )
        return int(row.id)

    # -- composing --------------------------------------------------------------------------

    def compose_for(
        self,
        submission_id: int,
        kind: ReportKind | None = None,
        *,
        ref: str = "",
        message_id: str | None = None,
    ) -> Composed | None:
        """The report as it would be sent now (``faxout report show``)."""
        facts = load_facts(self.engine, submission_id)
        if facts is None:
            return None
        if kind is None:
            rejected = facts.submission.state == SubmissionState.RENDER_FAILED
            kind = ReportKind.REJECTED if rejected else ReportKind.FINAL
        return compose(
            facts,
            kind,
            settings=self.settings,
            store=self.store,
            now=self.clock.now(),
            message_id=message_id
            or new_message_id(submission_id, kind, self.settings.from_address),
            ref=ref,
        )

    # -- delivering -------------------------------------------------------------------------

    def run_once(self, now: datetime) -> DeliveryPass:
        """Sweep, then deliver what is due: the periodic call."""
        queued = self.sweep(now)
        result = self.deliver_pending(now)
        result.queued = queued
        return result

    def deliver_pending(self, now: datetime, limit: int = 50) -> DeliveryPass:
        """Send the reports due at ``now``. A pass stops early when the relay is down."""
        result = DeliveryPass()
        if not self.settings.enabled:
            return result
        for outcome in deliver_each(self.rows.due(now, limit), self._deliver):
            if isinstance(outcome, Accepted):
                result.sent += 1
            elif isinstance(outcome, Temporary):
                result.deferred += 1
            elif isinstance(outcome, Permanent):
                result.failed += 1
        return result

    def _prepare(self, row_id: int) -> Envelope | Permanent:
        """The row's message: composed now (once) or as stored by an earlier try."""
        with reading(self.engine) as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == row_id)).one()
        if row.message is not None and row.recipient:
            return Envelope(
                self.settings.from_address, (row.recipient,), bytes(row.message), row.message_id
            )
        message_id = new_message_id(row.submission_id, row.kind, self.settings.from_address)
        try:
            composed = self.compose_for(
                row.submission_id, ReportKind(row.kind), ref=row.ref, message_id=message_id
            )
        except BadAddressError as exc:
            return Permanent(str(exc))
        if composed is None:
            return Permanent("nothing to report (the submission or attempt is gone)")
        data = composed.as_bytes()
        with transaction(self.engine) as conn:
            conn.execute(
                update(outbox)
                .where(self.rows.mine(row_id))
                .values(
                    message=data,
                    message_id=message_id,
                    recipient=composed.recipient,
                    updated_at=self.clock.now(),
                )
            )
        return Envelope(self.settings.from_address, (composed.recipient,), data, message_id)

    def _deliver(self, row_id: int) -> SendResult | None:
        if not self.rows.claim(row_id):
            return None
        prepared = self._prepare(row_id)
        if isinstance(prepared, Permanent):
            self._record(row_id, prepared)
            return prepared
        result = self.mailer.send(prepared)
        # <- A crash here (the relay has the message, the row still says pending) makes the
        #    next pass send it again once the lease expires: at most one duplicate.
        self._record(row_id, result)
        return result

    def _record(self, row_id: int, result: SendResult) -> None:
        now = self.clock.now()
        released = {**REPORT.released(), "updated_at": now}
        with transaction(self.engine) as conn:
            row = conn.execute(
                select(outbox.c.tries, outbox.c.created_at, outbox.c.submission_id).where(
                    outbox.c.id == row_id
                )
            ).one()
            settled = settle(result, row.tries + 1, row.created_at, now, self.settings)
            if settled.level is not None:
                log.log(
                    logging.ERROR if settled.level == "error" else logging.WARNING,
                    "report %s of submission %s %s",
                    row_id,
                    row.submission_id,
                    settled.reason,
                )
            values = settled.values
            conn.execute(update(outbox).where(self.rows.mine(row_id)).values(**values, **released))
