"""Reading jobs and submissions back (``faxout jobs list/show``, the status API)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, not_, or_, select

from faxout.db.engine import reading
from faxout.db.tables import accounts, attempts, documents, jobs, submission_labels, submissions
from faxout.jobs.lifecycle import ACTIVE_JOB_STATES  # a recipient not final yet
from faxout.jobs.model import JobState, SubmissionState


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
    labels: dict[str, str] = field(default_factory=dict)
    # when retention removed its documents and pages (faxout.inbound.retention)
    purged_at: datetime | None = None


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


def _has_job(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """Whether the submission has a job meeting ``conditions`` (correlated, by the jobs'
    ``submission_id`` index)."""
    return select(jobs.c.id).where(jobs.c.submission_id == submissions.c.id, *conditions).exists()


FAX_STATES = ("queued", "rendering", "sending", "delivered", "partial", "failed", "canceled")


def fax_state_clause(state: str) -> ColumnElement[bool]:
    """SQL true for the submissions whose status API fax state is ``state``: the rule of
    ``faxout.intake.api.views.fax_state``, over the submission's state and its jobs'."""
    sub_state = submissions.c.state
    all_canceled = not_(_has_job(jobs.c.state != JobState.CANCELED))
    if state == "canceled":  # whatever became of its rendering
        return all_canceled
    if state == "queued":
        return and_(sub_state == SubmissionState.ACCEPTED, not_(all_canceled))
    if state == "rendering":
        return and_(sub_state == SubmissionState.RENDERING, not_(all_canceled))
    rendered = sub_state.notin_(
        [SubmissionState.ACCEPTED, SubmissionState.RENDERING, SubmissionState.RENDER_FAILED]
    )
    open_ = _has_job(jobs.c.state.in_(ACTIVE_JOB_STATES))
    if state == "sending":
        return and_(rendered, open_)
    all_done = not_(_has_job(jobs.c.state != JobState.DONE))
    if state == "delivered":
        return and_(rendered, all_done)
    settled = and_(rendered, not_(open_), not_(all_done))
    # A recipient that failed after some pages were confirmed is "partial", as a delivered one.
    some_sent = _has_job(
        or_(
            jobs.c.state == JobState.DONE,
            and_(jobs.c.state == JobState.FAILED, jobs.c.pages_confirmed > 0),
        )
    )
    if state == "partial":
        return and_(settled, not_(all_canceled), some_sent)
    if state == "failed":
        return or_(
            sub_state == SubmissionState.RENDER_FAILED,
            and_(settled, not_(all_canceled), not_(some_sent)),
        )
    raise ValueError(f"unknown fax state {state!r}")


@dataclass(frozen=True)
class FaxFilter:
    """What a list of faxes is narrowed to (``GET /api/v1/faxes``); every part must hold.

    Each part is an indexed lookup per submission: the account and creation time by
    ``ix_submissions_account_created``, recipients by the jobs' ``submission_id``, labels by
    the labels' primary key.
    """

    states: tuple[str, ...] = ()  # any of these fax states (``FAX_STATES``)
    number: str | None = None  # a recipient's number, as stored (E.164)
    labels: tuple[tuple[str, str], ...] = ()  # (key, value): each must be on the fax
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str = ""  # in a recipient's name or number, or a document's name (the console)

    def clauses(self) -> list[ColumnElement[bool]]:
        """The conditions on ``submissions``."""
        found: list[ColumnElement[bool]] = []
        if self.states:
            found.append(or_(*(fax_state_clause(s) for s in self.states)))
        if self.number is not None:
            found.append(_has_job(jobs.c.number == self.number))
        for key, value in self.labels:
            found.append(
                select(submission_labels.c.submission_id)
                .where(
                    submission_labels.c.submission_id == submissions.c.id,
                    submission_labels.c.key == key,
                    submission_labels.c.value == value,
                )
                .exists()
            )
        if self.created_after is not None:
            found.append(submissions.c.created_at > self.created_after)
        if self.created_before is not None:
            found.append(submissions.c.created_at < self.created_before)
        if self.text:
            found.append(_text_clause(self.text))
        return found


def _text_clause(text: str) -> ColumnElement[bool]:
    """A fax whose recipient's name or number, or a document's name, holds ``text`` (any
    case; ``%`` and ``_`` are themselves). A scan of the account's faxes, by design: it is
    the console's search box, narrowed to one account by the index."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    digits = "".join(ch for ch in text if ch.isdigit())
    in_job = [jobs.c.name.ilike(pattern, escape="\\")]
    if digits:
        in_job.append(jobs.c.number.like(f"%{digits}%"))
    in_documents = (
        select(documents.c.submission_id)
        .where(
            documents.c.submission_id == submissions.c.id,
            documents.c.filename.ilike(pattern, escape="\\"),
        )
        .exists()
    )
    return or_(_has_job(or_(*in_job)), in_documents)


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
        found = self.get_submissions([submission_id])
        return found[0] if found else None

    def get_submissions(self, submission_ids: list[int]) -> list[SubmissionView]:
        """Submissions with their documents, jobs and labels, in the order of
        ``submission_ids`` (those that exist): four queries whatever their number."""
        if not submission_ids:
            return []
        query = (
            select(submissions, accounts.c.username, accounts.c.email)
            .join(accounts, accounts.c.id == submissions.c.account_id)
            .where(submissions.c.id.in_(submission_ids))
        )
        docs: dict[int, list[DocumentView]] = {}
        job_views: dict[int, list[JobView]] = {}
        labels: dict[int, dict[str, str]] = {}
        with reading(self._engine) as conn:
            rows = {row.id: row for row in conn.execute(query)}
            if not rows:
                return []
            wanted = list(rows)
            for d in conn.execute(
                select(documents)
                .where(documents.c.submission_id.in_(wanted))
                .order_by(documents.c.submission_id, documents.c.seq)
            ):
                docs.setdefault(d.submission_id, []).append(
                    DocumentView(
                        seq=d.seq,
                        filename=d.filename,
                        content_type=d.content_type,
                        size=d.size,
                        blob_key=d.blob_key,
                    )
                )
            for j in conn.execute(
                _job_query()
                .where(jobs.c.submission_id.in_(wanted))
                .order_by(jobs.c.submission_id, jobs.c.seq)
            ):
                view = JobView(**j._mapping)
                job_views.setdefault(view.submission_id, []).append(view)
            for label in conn.execute(
                select(submission_labels)
                .where(submission_labels.c.submission_id.in_(wanted))
                .order_by(submission_labels.c.submission_id, submission_labels.c.key)
            ):
                labels.setdefault(label.submission_id, {})[label.key] = label.value
        return [
            _submission_view(
                rows[i]._mapping, docs.get(i, []), job_views.get(i, []), labels.get(i, {})
            )
            for i in submission_ids
            if i in rows
        ]

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
        only: FaxFilter | None = None,
    ) -> list[int]:
        """The account's submissions, newest first: those below id ``before`` (a cursor), and
        with ``changed_since`` only those with a recipient changed after that time; ``only``
        narrows them further (all in SQL, so a page and its cursor stay exact)."""
        query = (
            select(submissions.c.id)
            .join(accounts, accounts.c.id == submissions.c.account_id)
            .where(accounts.c.username == username, *(only.clauses() if only else ()))
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


def _submission_view(
    m: Any, docs: list[DocumentView], job_views: list[JobView], labels: dict[str, str]
) -> SubmissionView:
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
        documents=docs,
        jobs=job_views,
        pages=m["pages"],
        render_error=m["render_error"],
        render_diagnostic=m["render_diagnostic"] or "",
        render_warnings=list(json.loads(m["render_warnings"] or "[]")),
        render_count=m["render_count"],
        labels=labels,
        purged_at=m["purged_at"],
    )
