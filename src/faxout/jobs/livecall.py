"""A recipient's call as it goes, read off its open attempt (``attempts.progress`` writes it).

The status API and ``faxout jobs show`` both show it, so they read it the same way: the page on
the line and the pages confirmed so far, numbered over the whole fax (cover page included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from faxout.jobs.model import AttemptPhase, JobState
from faxout.jobs.repo import AttemptView, JobView


@dataclass(frozen=True)
class LiveCall:
    """``page``: the page being sent (None while dialling and negotiating); ``pages_confirmed``:
    the fax's pages on the far end's paper, this call's so far included."""

    page: int | None
    pages_confirmed: int


def live_call(job: JobView, attempts: Sequence[AttemptView]) -> LiveCall | None:
    """The call of a dialling job, from its last attempt; None when the job is in no call."""
    if job.state != JobState.DIALING or not attempts:
        return None
    call = attempts[-1]
    if call.phase != AttemptPhase.DIALING:
        return None
    before = call.first_page - 1  # the pages earlier attempts confirmed
    return LiveCall(
        page=before + call.pages_sent if call.pages_sent else None,
        pages_confirmed=max(job.pages_confirmed, before + call.pages_confirmed),
    )
