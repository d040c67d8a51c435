"""What the status API (``/api/v1``) and the web console do to an account's fax, in one place.

The routes of both call these functions, so a fax looks the same and an action is refused for
the same reasons whichever asks: a ``Problem`` (status and detail) says why, and each answers it
in its own way (RFC 9457 JSON, or an error page or message in the console).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio
from fastapi.responses import JSONResponse
from starlette.requests import Request

from faxout.accounts.repo import Account
from faxout.intake.api import openapi as spec
from faxout.intake.api.resend import ResendAsked, asked_of_resend, resend_submission
from faxout.intake.api.submit import submit
from faxout.intake.api.views import fax_json, report_json
from faxout.intake.services import Api, Intake
from faxout.jobs.create import Created, NewSubmission
from faxout.jobs.repo import SubmissionView
from faxout.report.status import report_status

PROBLEM = spec.PROBLEM


class Problem(Exception):  # noqa: N818 - an HTTP answer, raised to leave the handler
    """An RFC 9457 problem: answered as ``application/problem+json``."""

    def __init__(self, status: int, title: str, detail: str, **headers: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers

    def response(self, instance: str) -> JSONResponse:
        """The answer."""
        body = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        return JSONResponse(body, self.status, headers=self.headers, media_type=PROBLEM)


def owned(api: Api, username: str, fax_id: int) -> SubmissionView:
    """The fax ``fax_id`` of the account ``username``; a 404 problem for one that is not
    (another account's fax is answered as one that does not exist)."""
    sub = api.jobs.get_submission(fax_id)
    if sub is None or sub.username != username:
        raise Problem(404, "Not Found", f"there is no fax {fax_id}")
    return sub


def sender(api: Api, username: str) -> Account:
    """The account ``username`` when it may send; a 403 problem when it may not."""
    account = api.accounts.get(username)
    if account is None or account.fax_prohibited:
        raise Problem(403, "Forbidden", "faxing is prohibited for this account")
    return account


def fax_view(api: Api, sub: SubmissionView, now: datetime) -> dict[str, Any]:
    """The fax as the status API shows it: recipients, their attempts, next attempts."""
    attempts = api.jobs.attempts_of([job.id for job in sub.jobs])
    return fax_json(sub, attempts, now)


def fax_now(api: Api, fax_id: int, now: datetime) -> dict[str, Any]:
    """The fax's view as it is now (one just made or acted on: it exists)."""
    sub = api.jobs.get_submission(fax_id)
    assert sub is not None
    return fax_view(api, sub, now)


def fax_detail(intake: Intake, api: Api, sub: SubmissionView, now: datetime) -> dict[str, Any]:
    """``fax_view`` with the fax's delivery reports (``GET /faxes/{id}``)."""
    answer = fax_view(api, sub, now)
    answer["reports"] = [report_json(r) for r in report_status(intake.engine, sub.id)]
    return answer


def cancel(api: Api, now: datetime, fax_id: int) -> int:
    """Cancel every recipient of the fax not yet dialling (how many); a 409 when none could
    be."""
    done = api.lifecycle.cancel(now, submission_id=fax_id)
    if not done.canceled:
        states = ", ".join(sorted({state for _, state in done.refused}))
        raise Problem(409, "Conflict", f"nothing left to cancel (recipients: {states})")
    return len(done.canceled)


def retry(api: Api, now: datetime, sub: SubmissionView, recipient_id: int) -> None:
    """Make a failed or interrupted recipient due at once; a 404 for a recipient the fax does
    not have, a 409 for one in another state or whose pages retention removed."""
    if recipient_id not in {job.id for job in sub.jobs}:
        raise Problem(404, "Not Found", f"fax {sub.id} has no recipient {recipient_id}")
    if sub.purged_at is not None:
        raise Problem(409, "Conflict", f"the pages of fax {sub.id} were removed by retention")
    if not api.lifecycle.retry(now, recipient_id):
        raise Problem(409, "Conflict", "only a failed or interrupted recipient is retried")


def batched(request: Request) -> Callable[[NewSubmission, list[str]], int] | None:
    """From a worker thread: commit a submission in the FaxOut endpoint's next group commit
    (one transaction for many requests), waiting until it is committed."""
    committer = getattr(request.app.state, "committer", None)
    if committer is None:
        return None
    return lambda sub, keys: anyio.from_thread.run(committer.commit, sub, keys)


def resend(
    intake: Intake,
    account: Account,
    original: SubmissionView,
    asked: ResendAsked,
    request: Request,
    key: str | None = None,
) -> Created | int:
    """A new fax from ``original``'s documents to ``asked``'s recipients, accepted now (from
    a worker thread); ``Problem422`` for what cannot be sent, an int for an Idempotency-Key
    ``key`` used for another request."""
    sub = resend_submission(intake, account, original, asked, intake.clock.now(), request)
    return submit(intake, sub, key, asked_of_resend(original.id, asked), batched=batched(request))


def started(request: Request, submission_id: int) -> None:
    """Have the pipeline start on ``submission_id`` now rather than at its next pass."""
    background = request.app.state.background
    if background is not None:
        background.accepted(submission_id)
