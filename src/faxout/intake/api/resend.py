"""``POST /api/v1/faxes/{id}/resend``: a new fax to other numbers from a fax's documents.

Nothing is uploaded again. Documents are content-addressed (``faxout.blobs.store``): the new
fax gets document rows of its own naming the same blob keys, so the two faxes share the bytes as
two identical uploads always have. Deleting one fax's rows leaves the other's intact; whatever
later removes blobs (retention) must remove a key only once no document row names it, which
content addressing already demands. The new fax is rendered afresh (its recipients may want
other paper) and is labelled ``resent_from`` with the id of the fax it came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request

from faxout.accounts.repo import Account
from faxout.intake.api.submit import FaxFields, Problem422, To, check_labels, prepare, problem_of
from faxout.intake.services import Intake
from faxout.jobs.create import NewDocument, NewSubmission
from faxout.jobs.repo import DocumentView, SubmissionView

RESENT_FROM = "resent_from"


class ResendAsked(BaseModel):
    """The body of a resend: new recipients, and whatever is to differ from the original."""

    model_config = ConfigDict(extra="forbid")
    to: Annotated[list[To], Field(min_length=1)]
    send_at: AwareDatetime | None = None
    labels: dict[str, str] | None = None  # None: the original fax's labels
    cover_page: str | None = None
    cover_text: str | None = None
    resolution: Literal["high", "low"] | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str] | None) -> dict[str, str] | None:
        return None if labels is None else check_labels(labels)


class StoredUpload:
    """A document already in the store, standing in for an upload (``faxout.blobs.Upload``):
    committing it only names its key."""

    def __init__(self, doc: DocumentView) -> None:
        self._doc = doc

    @property
    def size(self) -> int:
        """The stored document's size."""
        return self._doc.size

    def write(self, data: bytes) -> None:
        """A stored document takes no more bytes."""
        raise TypeError("a stored document cannot be written to")

    def commit(self) -> str:
        """Its key: the bytes are durable already."""
        return self._doc.blob_key

    def discard(self) -> None:
        """Nothing to forget: the bytes belong to the original fax too."""


def read_resend(body: bytes) -> ResendAsked:
    """The request body as a ``ResendAsked``; ``Problem422`` naming each field that is wrong."""
    try:
        return ResendAsked.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise problem_of(exc) from exc


def resend_submission(
    intake: Intake,
    account: Account,
    original: SubmissionView,
    asked: ResendAsked,
    now: datetime,
    request: Request,
) -> NewSubmission:
    """The new submission: ``original``'s documents and options, but what ``asked`` changes."""
    missing = [d.filename for d in original.documents if not intake.store.exists(d.blob_key)]
    # Purged: its documents are gone for its sender even when another fax holds the bytes.
    if missing or not original.documents or original.purged_at is not None:
        raise Problem422(f"the documents of fax {original.id} are no longer stored")
    labels = dict(original.labels if asked.labels is None else asked.labels)
    labels[RESENT_FROM] = str(original.id)
    fields = FaxFields(
        to=asked.to,
        cover_page=asked.cover_page if asked.cover_page is not None else original.cover_page,
        cover_text=asked.cover_text if asked.cover_text is not None else original.cover_text,
        resolution=asked.resolution or ("low" if original.resolution == "low" else "high"),
        send_at=asked.send_at,
    )
    docs = [NewDocument(d.filename, d.content_type, StoredUpload(d)) for d in original.documents]
    sub = prepare(intake, account, fields, docs, now, request)
    sub.labels = labels
    return sub


def asked_of_resend(fax_id: int, asked: ResendAsked) -> dict[str, Any]:
    """What a resend's idempotency hash covers besides the documents."""
    return {"resend_of": fax_id, **asked.model_dump(mode="json")}
