"""The domain vocabulary: submission and job states, resolutions, cover-page choices."""

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


class Resolution(enum.StrEnum):
    """Vertical resolution of the fax: 98 (Low) or 196 (High) lines per inch."""

    LOW = "low"
    HIGH = "high"


COVER_NONE = "none"
COVER_DEFAULT = "default"
