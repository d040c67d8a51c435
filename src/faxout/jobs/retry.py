"""The retry policy: what to do after an attempt, as a pure function of its outcome and history.

HylaFAX's vocabulary and defaults (``sendq(5)``, ``faxq(8)``) are the baseline:

- a *dial* is every call we place (``totdials``, capped by ``maxdials``, default 12);
- a *try* is a call that got past T.30 phase A — the far end answered as a fax machine and the
  session ran (``tottries``, capped by ``maxtries``, default 3). ``ok``, ``partial``, ``failed``
  and ``rejected`` are tries; ``busy``, ``no_answer``, ``not_fax`` and ``invalid_number`` are
  only dials;
- the *kill time* (default 3 h after the send time) ends the job whatever the counters say.

Permanent outcomes (not a fax machine, a refusal in phase B, an invalid number) fail at once:
redialling cannot change them and would annoy whoever answers. Everything else is retried
after a delay chosen by cause, resuming a partly sent fax from its first unconfirmed page.

``decide`` is pure: the caller passes the clock reading and the job's counters, and writes the
returned ``dials``/``tries``/``at`` to the job row in the same transaction as the attempt.

Time arithmetic never overflows: every delay and the kill time are at most ``MAX_DURATION``
(366 days), and ``later`` saturates at the latest representable time, so even a send time left
in the database from before send times were bounded (year 9999) gives a time, not an
``OverflowError`` that would leave its job stuck.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from faxout.jobs.model import Outcome

MAX_DURATION = timedelta(days=366)


def later(when: datetime, delta: timedelta) -> datetime:
    """``when + delta``, or the latest representable time (same timezone) when that overflows."""
    try:
        return when + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=when.tzinfo)


# Calls where T.30 ran past phase A: HylaFAX counts these as tries.
TRIES = frozenset({Outcome.OK, Outcome.PARTIAL, Outcome.FAILED, Outcome.REJECTED})
# Outcomes no retry can change.
PERMANENT = frozenset({Outcome.NOT_FAX, Outcome.REJECTED, Outcome.INVALID_NUMBER})

_PERMANENT_REASONS = {
    Outcome.NOT_FAX: "the number did not answer as a fax machine",
    Outcome.REJECTED: "the receiving fax machine refused the fax",
    Outcome.INVALID_NUMBER: "the number is invalid",
}


class RetryPolicy(BaseModel):
    """Delays and limits for retrying a fax (HylaFAX defaults; all configurable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    busy_delay: timedelta = Field(timedelta(minutes=3), description="after a busy signal")
    no_answer_delay: timedelta = Field(timedelta(minutes=5), description="after no answer")
    failed_delay: timedelta = Field(
        timedelta(minutes=1), description="after a T.30 failure or a partly sent fax"
    )
    max_dials: int = Field(12, ge=1, description="calls placed, answered or not")
    max_tries: int = Field(3, ge=1, description="calls where the fax session ran")
    kill_time: timedelta = Field(
        timedelta(hours=3), description="give up this long after the send time"
    )

    @field_validator("busy_delay", "no_answer_delay", "failed_delay", "kill_time", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        # Plain seconds ("180", 180) as well as ISO 8601 durations ("PT3M") from env and TOML.
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    @model_validator(mode="after")
    def _positive_times(self) -> RetryPolicy:
        # A zero or negative delay would redial in a tight loop; a non-positive kill time
        # would fail every job before its first call. An upper bound keeps the scheduling
        # arithmetic (send time + kill time, now + delay) far from datetime's limits.
        for name in ("busy_delay", "no_answer_delay", "failed_delay", "kill_time"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
            if getattr(self, name) > MAX_DURATION:
                raise ValueError(f"{name} must be at most {MAX_DURATION.days} days")
        return self

    def kill_at(self, send_at: datetime) -> datetime:
        """When a job sent at ``send_at`` is given up under this policy."""
        return later(send_at, self.kill_time)

    def delay_for(self, cause: Outcome) -> timedelta:
        """The wait before the next attempt after a retryable ``cause``."""
        if cause is Outcome.BUSY:
            return self.busy_delay
        if cause is Outcome.NO_ANSWER:
            return self.no_answer_delay
        if cause in (Outcome.PARTIAL, Outcome.FAILED):
            return self.failed_delay
        raise ValueError(f"{cause.value} is not retried")


@dataclass(frozen=True)
class Retry:
    """Dial again at ``at``, sending from page ``resume_from_page`` (1-based) on."""

    at: datetime
    resume_from_page: int
    reason: str
    dials: int
    tries: int


@dataclass(frozen=True)
class Final:
    """The job is over: ``done`` or ``failed``, with a reason fit for the sender's report."""

    state: Literal["done", "failed"]
    reason: str
    dials: int
    tries: int


Decision = Retry | Final


def count_attempt(cause: Outcome | str, dials: int, tries: int) -> tuple[int, int]:
    """The job's (dials, tries) after one more attempt that ended with ``cause``."""
    cause = Outcome(cause)
    return dials + 1, tries + (1 if cause in TRIES else 0)


def decide(
    policy: RetryPolicy,
    outcome: Outcome | str,
    *,
    dials: int,
    tries: int,
    resume_from_page: int,
    pages_confirmed: int,
    kill_at: datetime,
    now: datetime,
) -> Decision:
    """What happens to a job after an attempt.

    ``outcome`` is a ``Outcome`` or a transmit ``Outcome`` (same values). ``dials`` and ``tries``
    count the job's attempts *before* this one; the decision carries the new counts.
    ``resume_from_page`` is the page (1-based) this attempt started from and
    ``pages_confirmed`` how many pages, in order from there, the far end confirmed.
    ``kill_at`` is the job's kill time (``policy.kill_at(send_at)`` unless the submission
    set its own); ``now`` the clock reading at the end of the attempt (timezone-aware).

    Order of rules: success; permanent outcomes; then the limits — tries, dials, kill time —
    reported by name; otherwise a retry after the cause's delay.
    """
    cause = Outcome(outcome)
    if dials < 0 or tries < 0 or tries > dials:
        raise ValueError(f"impossible counters: dials={dials} tries={tries}")
    if resume_from_page < 1 or pages_confirmed < 0:
        raise ValueError(f"bad pages: resume_from={resume_from_page} confirmed={pages_confirmed}")
    new_dials, new_tries = count_attempt(cause, dials, tries)

    if cause is Outcome.OK:
        return Final("done", "sent", new_dials, new_tries)
    if cause in PERMANENT:
        return Final("failed", _PERMANENT_REASONS[cause], new_dials, new_tries)

    # HylaFAX's "Too many attempts to transmit" / "... to dial": the limit is reached once
    # the counter equals it, so max_tries=3 allows exactly three tries.
    if new_tries >= policy.max_tries and cause in TRIES:
        reason = f"max tries reached: {new_tries} of {policy.max_tries} calls failed to send"
        return Final("failed", f"{reason} ({_CAUSE_TEXT[cause]})", new_dials, new_tries)
    if new_dials >= policy.max_dials:
        reason = f"max dials reached: {new_dials} of {policy.max_dials} calls"
        return Final("failed", f"{reason} ({_CAUSE_TEXT[cause]})", new_dials, new_tries)

    at = later(now, policy.delay_for(cause))
    # Fail now rather than wait for a slot that lies past the kill time: the outcome would be
    # the same and the sender learns it hours earlier.
    if at >= kill_at:
        reason = f"kill time reached: no retry before {kill_at.isoformat()}"
        return Final("failed", f"{reason} ({_CAUSE_TEXT[cause]})", new_dials, new_tries)

    # Pages confirmed with MCF are on the far end's paper: the next call starts after them.
    resume = resume_from_page + pages_confirmed if cause in TRIES else resume_from_page
    return Retry(at, resume, f"retry after {_CAUSE_TEXT[cause]}", new_dials, new_tries)


_CAUSE_TEXT = {
    Outcome.BUSY: "busy",
    Outcome.NO_ANSWER: "no answer",
    Outcome.PARTIAL: "fax partly sent",
    Outcome.FAILED: "fax transmission failed",
}
