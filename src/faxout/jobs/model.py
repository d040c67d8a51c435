"""The domain vocabulary: submission, job and attempt states, call outcomes, resolutions,
cover-page choices."""

from __future__ import annotations

import enum


class SubmissionState(enum.StrEnum):
    """Where a submission is. Only ``accepted`` exists until rendering lands."""

    ACCEPTED = "accepted"
    RENDERING = "rendering"
    READY = "ready"
    RENDER_FAILED = "render_failed"
    DONE = "done"
    CANCELED = "canceled"


class JobState(enum.StrEnum):
    """Where one recipient's fax is (HylaFAX's vocabulary, see docs/guarantees.md)."""

    ACCEPTED = "accepted"
    RENDERING = "rendering"
    READY = "ready"
    QUEUED = "queued"
    CLAIMED = "claimed"
    DIALING = "dialing"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    CANCELED = "canceled"
    RENDER_FAILED = "render_failed"


class AttemptPhase(enum.StrEnum):
    """Where one attempt is (the two-phase protocol of ``faxout.jobs.attempts``)."""

    CLAIMED = "claimed"  # a line is leased; nothing has been dialled
    DIALING = "dialing"  # committed before the transport is touched
    FINISHED = "finished"


class Outcome(enum.StrEnum):
    """How a call ended, from the calling side's point of view (the retry policy's input)."""

    OK = "ok"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    NOT_FAX = "not_fax"
    REJECTED = "rejected"
    PARTIAL = "partial"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"  # the network (or our number check) says it does not exist


class Unfinished(enum.StrEnum):
    """How an attempt ended when no call result came back (``attempts.outcome``)."""

    ABANDONED = "abandoned"  # given up before dialling: the job is ready again
    UNKNOWN = "unknown"  # its worker stopped mid-call: the fax may or may not have arrived


class Resolution(enum.StrEnum):
    """Vertical resolution of the fax: 98 (Low, "normal") or 196 (High, "fine") lines per
    inch; horizontal is always 204 dpi (1728 px over 215 mm)."""

    LOW = "low"
    HIGH = "high"

    @property
    def lpi(self) -> int:
        """Lines per inch of this resolution."""
        return 98 if self is Resolution.LOW else 196


COVER_NONE = "none"
COVER_DEFAULT = "default"
