"""Reading jobs and submissions back (``faxout jobs list/show``, later the status API)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from faxout.db.engine import reading
from faxout.db.tables import accounts, attempts, documents, jobs, submissions


@dataclass(frozen=True)
class DocumentView:
    """A stored document of a submission."""

    seq: int
    filename: str
    content_type: str
    size: int
    blob_key: str


@dataclass(frozen=True)
class JobView:
    """One recipient's fax with what the operator needs to see."""

    id: int
    submission_id: int
    seq: int
    number: str
    name: str
    state: str
    send_at: datetime
    next_attempt_at: datetime | None
    dials: int
    tries: int
    username: str
    created_at: datetime
    reason: str = ""
    pages_confirmed: int = 0
    resume_page: int = 1
    kill_at: datetime | None = None
    finished_at: datetime | None = None
    paper: str | None = None  # the recipient's paper (None before rendering)
    pages: int | None = None  # its own page count when its paper differs from the first

    @property
    def due_at(self) -> datetime:
        """When a ready job is due: its next attempt, else its send time (the dispatcher's
        rule, ``faxout.schedule.dispatcher``)."""
        return self.next_attempt_at or self.send_at


@dataclass(frozen=True)
class AttemptView:
    """One call (the audit log): what happened and how."""

    attempt_no: int
    phase: str
    outcome: str | None
    t30_code: int | None
    t30_text: str | None
    first_page: int
    pages_sent: int
    pages_confirmed: int
    pages_total: int
    modem: str | None
    bit_rate: int | None
    ecm: bool | None
    compression: str | None
    remote_csid: str | None
    line_seconds: float | None
    line_no: int | None
    detail: str
    claimed_at: datetime
    dialing_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class SubmissionView:
    """A submission with its documents, jobs and notes."""

    id: int
    state: str
    username: str
    email: str
    resolution: str
    cover_page: str
    cover_text: str
    send_at: datetime
    sendtime_raw: str | None
    notes: list[str]
    request_id: str
    client_addr: str
    created_at: datetime
    documents: list[DocumentView]
    jobs: list[JobView]
    pages: int | None = None
    render_error: str | None = None
    render_diagnostic: str = ""  # the converter's own words, for the operator only
    render_warnings: list[str] | None = None
    render_count: int = 0


def to_json(value: Any) -> Any:
    """A dataclass view as JSON-ready data (times in ISO 8601 UTC)."""

    def convert(obj: Any) -> Any:
        if isinstance(obj, datetime):
            return obj.isoformat()
        if isinstance(obj, dict):
            return {k: convert(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [convert(v) for v in obj]
        return obj

    return convert(asdict(value))


_JOB_COLUMNS = (
    jobs.c.id,
    jobs.c.submission_id,
    jobs.c.seq,
    jobs.c.number,
    jobs.c.name,
    jobs.c.state,
    jobs.c.send_at,
    jobs.c.next_attempt_at,
    jobs.c.dials,
    jobs.c.tries,
    accounts.c.username,
    jobs.c.created_at,
    jobs.c.reason,
    jobs.c.pages_confirmed,
    jobs.c.resume_page,
    jobs.c.kill_at,
    jobs.c.finished_at,
    jobs.c.paper,
    jobs.c.pages,
)


def _job_query() -> Any:
    return (
        select(*_JOB_COLUMNS)
        .select_from(jobs)
        .join(submissions, submissions.c.id == jobs.c.submission_id)
        .join(accounts, accounts.c.id == submissions.c.account_id)
    )


class JobRepo:
    """Queries over jobs and submissions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_jobs(
        self, *, limit: int = 50, state: str | None = None, submission_id: int | None = None
    ) -> list[JobView]:
        """The newest jobs first."""
        query = _job_query().order_by(jobs.c.id.desc()).limit(limit)
        if state:
            query = query.where(jobs.c.state == state)
        if submission_id is not None:
            query = query.where(jobs.c.submission_id == submission_id)
        with reading(self._engine) as conn:
            return [JobView(**row._mapping) for row in conn.execute(query)]

    def get_job(self, job_id: int) -> JobView | None:
        """One job."""
        with reading(self._engine) as conn:
            row = conn.execute(_job_query().where(jobs.c.id == job_id)).first()
        return JobView(**row._mapping) if row else None

    def get_submission(self, submission_id: int) -> SubmissionView | None:
        """A submission with its documents and jobs."""
        query = (
            select(submissions, accounts.c.username, accounts.c.email)
            .join(accounts, accounts.c.id == submissions.c.account_id)
            .where(submissions.c.id == submission_id)
        )
        with reading(self._engine) as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            docs = conn.execute(
                select(documents)
                .where(documents.c.submission_id == submission_id)
                .order_by(documents.c.seq)
            ).all()
            job_rows = conn.execute(
                _job_query().where(jobs.c.submission_id == submission_id).order_by(jobs.c.seq)
            ).all()
        m = row._mapping
        return SubmissionView(
            id=m["id"],
            state=m["state"],
            username=m["username"],
            email=m["email"],
            resolution=m["resolution"],
            cover_page=m["cover_page"],
            cover_text=m["cover_text"],
            send_at=m["send_at"],
            sendtime_raw=m["sendtime_raw"],
            notes=list(json.loads(m["notes"])),
            request_id=m["request_id"],
            client_addr=m["client_addr"],
            created_at=m["created_at"],
            documents=[
                DocumentView(
                    seq=d.seq,
                    filename=d.filename,
                    content_type=d.content_type,
                    size=d.size,
                    blob_key=d.blob_key,
                )
                for d in docs
            ],
            jobs=[JobView(**j._mapping) for j in job_rows],
            pages=m["pages"],
            render_error=m["render_error"],
            render_diagnostic=m["render_diagnostic"] or "",
            render_warnings=list(json.loads(m["render_warnings"] or "[]")),
            render_count=m["render_count"],
        )

    def attempts(self, job_id: int) -> list[AttemptView]:
        """Every attempt of a job, first first."""
        return self.attempts_of([job_id]).get(job_id, [])

    def attempts_of(self, job_ids: list[int]) -> dict[int, list[AttemptView]]:
        """Every attempt of each of ``job_ids``, first first, in one query."""
        fields = [f for f in AttemptView.__dataclass_fields__]
        found: dict[int, list[AttemptView]] = {}
        if not job_ids:
            return found
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(attempts.c.job_id, *(attempts.c[f] for f in fields))
                .where(attempts.c.job_id.in_(job_ids))
                .order_by(attempts.c.job_id, attempts.c.attempt_no)
            ).all()
        for row in rows:
            values = dict(row._mapping)
            found.setdefault(values.pop("job_id"), []).append(AttemptView(**values))
        return found

    def submission_ids(
        self,
        username: str,
        *,
        limit: int = 50,
        before: int | None = None,
        changed_since: datetime | None = None,
    ) -> list[int]:
        """The account's submissions, newest first: those below id ``before`` (a cursor), and
        with ``changed_since`` only those with a recipient changed after that time."""
        query = (
            select(submissions.c.id)
            .join(accounts, accounts.c.id == submissions.c.account_id)
            .where(accounts.c.username == username)
            .order_by(submissions.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(submissions.c.id < before)
        if changed_since is not None:
            changed = (
                select(jobs.c.id)
                .where(jobs.c.submission_id == submissions.c.id, jobs.c.updated_at > changed_since)
                .exists()
            )
            query = query.where(changed)
        with reading(self._engine) as conn:
            return list(conn.execute(query).scalars())

    def last_change(self, username: str) -> datetime | None:
        """When a recipient of the account last changed (the status API's sync token)."""
        query = (
            select(func.max(jobs.c.updated_at))
            .join(submissions, submissions.c.id == jobs.c.submission_id)
            .join(accounts, accounts.c.id == submissions.c.account_id)
            .where(accounts.c.username == username)
        )
        with reading(self._engine) as conn:
            value = conn.execute(query).scalar_one()
        return value if isinstance(value, datetime) else None
