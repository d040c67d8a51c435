"""What a report says, read from the database: the submission, each recipient and its calls."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from faxout.db.engine import reading
from faxout.db.tables import accounts, jobs, submissions
from faxout.jobs.repo import AttemptView, JobRepo, JobView, SubmissionView


@dataclass(frozen=True)
class RecipientFacts:
    """One recipient's fax: the job, its calls, its pages."""

    job: JobView
    attempts: list[AttemptView]
    cover_key: str | None
    pages_total: int

    @property
    def last_call(self) -> AttemptView | None:
        """The last attempt that reached the transport (dialled), if any."""
        called = [a for a in self.attempts if a.dialing_at is not None]
        return called[-1] if called else None


@dataclass(frozen=True)
class ReportFacts:
    """Everything a report on one submission needs."""

    submission: SubmissionView
    account_name: str
    rendered_key: str | None
    recipients: list[RecipientFacts]


def load_facts(engine: Engine, submission_id: int) -> ReportFacts | None:
    """The facts of ``submission_id`` as they are now (None: no such submission)."""
    repo = JobRepo(engine)
    sub = repo.get_submission(submission_id)
    if sub is None:
        return None
    with reading(engine) as conn:
        extra = conn.execute(
            select(submissions.c.rendered_key, accounts.c.name)
            .join(accounts, accounts.c.id == submissions.c.account_id)
            .where(submissions.c.id == submission_id)
        ).one()
        covers = dict(
            conn.execute(
                select(jobs.c.id, jobs.c.cover_key).where(jobs.c.submission_id == submission_id)
            ).all()
        )
    recipients = []
    calls = repo.attempts_of([job.id for job in sub.jobs])
    for job in sub.jobs:
        cover = covers.get(job.id)
        total = (sub.pages or 0) + (1 if cover else 0)
        recipients.append(RecipientFacts(job, calls.get(job.id, []), cover, total))
    return ReportFacts(sub, extra.name or "", extra.rendered_key, recipients)
