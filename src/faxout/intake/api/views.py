"""The status API's JSON: a fax (a submission) with its recipients (its jobs) and their attempts.

The field names are the contract with clients (docs/api.md): fields may be added, never renamed.
States are finer than the jobs' own, in the words of the hosted fax APIs: a ``ready`` job is
``scheduled`` (its time has not come), ``waiting_for_line`` (every line busy) or ``queued``;
a ``dialing`` one is ``sending`` once its first page is on the line (``jobs.livecall``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from faxout.jobs.livecall import live_call
from faxout.jobs.model import JobState, SubmissionState
from faxout.jobs.repo import AttemptView, JobView, SubmissionView
from faxout.report.status import OutboxView

FINAL = {"delivered", "partial", "failed", "interrupted", "canceled"}


def iso(when: datetime | None) -> str | None:
    """A time as ISO 8601 UTC, or None."""
    return when.isoformat() if when else None


def recipient_state(job: JobView, now: datetime) -> str:
    """What a program sees of one recipient's fax."""
    state = JobState(job.state)
    if state is JobState.READY:
        if job.reason.startswith("waiting:"):
            return "waiting_for_line"
        return "scheduled" if job.due_at > now else "queued"
    if state is JobState.FAILED and job.pages_confirmed > 0:
        return "partial"  # some pages are on the far end's paper
    return {
        JobState.ACCEPTED: "queued",
        JobState.RENDERING: "rendering",
        JobState.QUEUED: "queued",
        JobState.CLAIMED: "dialing",
        JobState.DIALING: "dialing",
        JobState.DONE: "delivered",
        JobState.FAILED: "failed",
        JobState.INTERRUPTED: "interrupted",
        JobState.CANCELED: "canceled",
        JobState.RENDER_FAILED: "failed",
    }[state]


def fax_state(sub: SubmissionView, recipients: list[str]) -> str:
    """The fax as a whole: where its least advanced recipient is, or how it ended."""
    if sub.state == SubmissionState.RENDER_FAILED:
        return "failed"
    if recipients and all(r == "canceled" for r in recipients):
        return "canceled"  # even while its rendering, begun before the cancel, ends
    if sub.state in (SubmissionState.ACCEPTED, SubmissionState.RENDERING):
        return "rendering" if sub.state == SubmissionState.RENDERING else "queued"
    if any(r not in FINAL for r in recipients):
        return "sending"
    if all(r == "delivered" for r in recipients):
        return "delivered"
    return "partial" if any(r in ("delivered", "partial") for r in recipients) else "failed"


def attempt_json(a: AttemptView) -> dict[str, Any]:
    """One call of a recipient."""
    return {
        "attempt": a.attempt_no,
        "outcome": a.outcome,
        "t30_code": a.t30_code,
        "t30_text": a.t30_text,
        "csid": a.remote_csid,
        "modem": a.modem,
        "bit_rate": a.bit_rate,
        "ecm": a.ecm,
        "compression": a.compression,
        "pages_sent": a.pages_sent,
        "pages_confirmed": a.pages_confirmed,
        "pages_total": a.pages_total,
        "from_page": a.first_page,
        "line_seconds": a.line_seconds,
        "started_at": iso(a.claimed_at),
        "finished_at": iso(a.finished_at),
        "detail": a.detail,
    }


def fax_json(
    sub: SubmissionView, attempts: dict[int, list[AttemptView]], now: datetime
) -> dict[str, Any]:
    """A fax with its recipients (``attempts``: each job's, by job id)."""
    cover = 0 if sub.cover_page == "none" else 1
    recipients: list[dict[str, Any]] = []
    for job in sub.jobs:
        call = live_call(job, attempts.get(job.id, []))
        state = "sending" if call and call.page else recipient_state(job, now)
        own = job.pages or sub.pages
        waiting = state in ("scheduled", "waiting_for_line", "queued")
        recipients.append(
            {
                "id": job.id,
                "number": job.number,
                "name": job.name,
                "state": state,
                "pages_confirmed": call.pages_confirmed if call else job.pages_confirmed,
                "page": call.page if call else None,
                "pages_total": own + cover if own else None,
                "attempts": [attempt_json(a) for a in attempts.get(job.id, [])],
                "next_attempt_at": iso(job.due_at) if waiting else None,
                "reason": job.reason,
                "paper": job.paper,
                "finished_at": iso(job.finished_at),
            }
        )
    return {
        "id": sub.id,
        "state": fax_state(sub, [r["state"] for r in recipients]),
        "created_at": iso(sub.created_at),
        "send_at": iso(sub.send_at),
        "resolution": sub.resolution,
        "cover_page": sub.cover_page,
        "documents": [
            {"filename": d.filename, "content_type": d.content_type, "size": d.size}
            for d in sub.documents
        ],
        "pages": sub.pages,
        "render_error": sub.render_error,
        "notes": sub.notes + (sub.render_warnings or []),
        "labels": sub.labels,
        "recipients": recipients,
        "purged_at": iso(sub.purged_at),
    }


def report_json(r: OutboxView) -> dict[str, Any]:
    """One delivery report (e-mail) of the fax and what became of it."""
    return {
        "kind": r.kind,
        "state": r.state,
        "to": r.recipient,
        "tries": r.tries,
        "next_attempt_at": iso(r.next_at) if r.state == "pending" else None,
        "sent_at": iso(r.sent_at),
        "error": r.last_error or None,
    }
