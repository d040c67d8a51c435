"""What an operator sees of the running gateway: the lines, the outboxes, ``faxout check``.

Read from the database, like ``/metrics``: the same in every process. The lines' leases follow
``faxout.db.leases.LINE`` and the call on a line is read as the status API reads it
(``faxout.jobs.livecall``); the outboxes' backlog is ``faxout.db.backlog``'s. ``faxout check``
lives in the ops layer above, so it is handed in as a callable (``Intake.check``) returning
``CheckFinding`` values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, func, select

from faxout.db.backlog import Backlog, backlog, disabled_endpoints
from faxout.db.engine import reading
from faxout.db.leases import LINE
from faxout.db.tables import lines, outbox, submissions, webhook_deliveries
from faxout.jobs.livecall import live_call
from faxout.jobs.repo import AttemptView, JobRepo, JobView


class CheckFinding(Protocol):
    """One line of ``faxout check`` (``faxout.ops.check.Finding``)."""

    @property
    def what(self) -> str: ...

    @property
    def ok(self) -> bool: ...

    @property
    def detail(self) -> str: ...


@dataclass(frozen=True)
class LineState:
    """One line and what it does.

    ``state``: ``idle``; ``calling`` (a call is on it: ``job_id``, ``number``, ``page`` being
    sent, None while dialling); ``held`` (leased, the call not dialled yet); ``stale`` (its
    lease ran out: the worker stopped, the reconciler frees it); ``unused`` (a transport the
    server no longer runs: no call takes it). ``since``: when the call was claimed or dialled.
    """

    transport: str
    line_no: int
    state: str
    holder: str | None = None
    job_id: int | None = None
    number: str | None = None
    page: int | None = None
    pages_confirmed: int = 0
    since: datetime | None = None


def line_states(engine: Engine, jobs: JobRepo, now: datetime, transport: str) -> list[LineState]:
    """Every line of every transport, with the call on it; ``transport``: the one in use."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(lines, LINE.free(now).label("free")).order_by(lines.c.transport, lines.c.line_no)
        ).all()
    held = [r.job_id for r in rows if r.holder is not None and r.job_id is not None]
    tried = jobs.attempts_of(held)
    found = []
    for r in rows:
        line = LineState(r.transport, r.line_no, "idle", r.holder, r.job_id, r.number)
        if r.holder is None:
            found.append(replace(line, state="idle" if r.transport == transport else "unused"))
        elif r.free:
            found.append(replace(line, state="stale"))
        else:
            job = jobs.get_job(r.job_id) if r.job_id is not None else None
            found.append(_busy(line, job, tried.get(r.job_id, [])))
    return found


def _busy(line: LineState, job: JobView | None, attempts: list[AttemptView]) -> LineState:
    """A leased line: ``calling`` with the page on it once dialled, else ``held``."""
    if job is None or not attempts:
        return replace(line, state="held")
    last = attempts[-1]
    since = last.dialing_at or last.claimed_at
    call = live_call(job, attempts)
    if call is None:
        return replace(line, state="held", since=since)
    return replace(
        line, state="calling", page=call.page, pages_confirmed=call.pages_confirmed, since=since
    )


@dataclass(frozen=True)
class Outboxes:
    """What waits to leave: delivery reports for the mail relay, webhook events for their
    endpoints, and the endpoints disabled by a 410 answer."""

    reports: Backlog
    webhooks: Backlog
    endpoints_disabled: int


def outboxes(engine: Engine) -> Outboxes:
    """Both outboxes' backlog, in one read-only connection."""
    with reading(engine) as conn:
        return Outboxes(
            backlog(conn, outbox), backlog(conn, webhook_deliveries), disabled_endpoints(conn)
        )


def faxes_per_account(engine: Engine) -> dict[int, int]:
    """How many faxes (submissions) each account has sent, by account id (one pass over the
    submissions' account index)."""
    query = select(submissions.c.account_id, func.count()).group_by(submissions.c.account_id)
    with reading(engine) as conn:
        return {int(account): int(count) for account, count in conn.execute(query)}
