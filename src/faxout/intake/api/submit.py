"""``POST /api/v1/faxes``: a program submits a fax as JSON, documents in base64.

Stricter than the FaxOut endpoint, because a program can be told exactly what is wrong: an
unknown cover page, a send time without a zone or more than a year ahead, a recipient that
cannot be faxed are each a 422 naming the field, not a note. The limits are the FaxOut
endpoint's (``limits``). With ``Idempotency-Key`` the same key and body within 24 hours give the
same fax (200, ``Idempotent-Replayed: true``), the same key with another body a 409
(``faxout.jobs.create.create_once`` keeps it under concurrent requests).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from starlette.requests import Request

from faxout.accounts.repo import Account
from faxout.db.engine import transaction
from faxout.intake.faxout.request import recipients_of
from faxout.intake.services import Intake
from faxout.jobs.create import (
    MAX_SEND_AHEAD,
    Created,
    NewDocument,
    NewSubmission,
    create_once,
    insert_submissions,
)
from faxout.jobs.create import store_documents as commit_documents
from faxout.jobs.dialplan import DialPolicy
from faxout.jobs.model import COVER_DEFAULT, COVER_NONE, Resolution

MAX_KEY_CHARS = 200
MAX_LABELS = 20
MAX_LABEL_VALUE_CHARS = 256
LABEL_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class Problem422(Exception):  # noqa: N818 - turned into a problem response by the route
    """The request is well-formed JSON but asks for something that cannot be done."""


class To(BaseModel):
    """One recipient."""

    model_config = ConfigDict(extra="forbid")
    number: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(max_length=200)] = ""


class Document(BaseModel):
    """One document, its bytes in base64."""

    model_config = ConfigDict(extra="forbid")
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    content_base64: Annotated[str, Field(min_length=1)]
    content_type: Annotated[str, Field(max_length=200)] = ""


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    """``labels`` if they are within the rules, else ``ValueError`` naming the first bad one:
    at most ``MAX_LABELS``, keys 1–64 of ``[A-Za-z0-9_.:-]``, values up to 256 characters."""
    if len(labels) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels, not {len(labels)}")
    for key, value in labels.items():
        if not LABEL_KEY.fullmatch(key):
            raise ValueError(f"label {key[:70]!r}: a key is 1 to 64 of A-Z a-z 0-9 _ . : -")
        if len(value) > MAX_LABEL_VALUE_CHARS:
            raise ValueError(f"label {key!r}: a value is at most {MAX_LABEL_VALUE_CHARS} chars")
    return labels


class FaxFields(BaseModel):
    """A fax but its documents: the ``fax`` part of a multipart submission."""

    model_config = ConfigDict(extra="forbid")
    to: Annotated[list[To], Field(min_length=1)]
    cover_page: str = "Default"
    cover_text: str = ""
    resolution: Literal["high", "low"] = "high"
    send_at: AwareDatetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        return check_labels(labels)


class NewFax(FaxFields):
    """The body of ``POST /api/v1/faxes``."""

    documents: Annotated[list[Document], Field(min_length=1)]


def problem_of(exc: ValidationError, part: str = "") -> Problem422:
    """A 422 naming each field ``exc`` found wrong (within ``part``, as ``fax.to``)."""
    said = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"])
        said.append(f"{'.'.join(filter(None, (part, where))) or 'body'}: {e['msg']}")
    return Problem422("; ".join(said))


def read_fax(body: bytes) -> NewFax:
    """The request body as a ``NewFax``; ``Problem422`` naming each field that is wrong."""
    try:
        return NewFax.model_validate_json(body)
    except ValidationError as exc:
        raise problem_of(exc) from exc


def request_hash(asked: dict[str, Any], sub: NewSubmission, keys: list[str]) -> str:
    """What "the same request" means for an idempotency key: what was asked (``asked``, the
    request as understood, without its documents) and each document's name, type and content
    key (the SHA-256 of its bytes). A fax sent as JSON and the same fax sent as multipart hash
    the same."""
    docs = [[d.filename, d.content_type, k] for d, k in zip(sub.documents, keys, strict=True)]
    text = json.dumps({"asked": asked, "documents": docs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def asked_of(fax: FaxFields) -> dict[str, Any]:
    """The part of a submission that its idempotency hash covers besides the documents."""
    return fax.model_dump(mode="json", exclude={"documents"})


def _cover(intake: Intake, asked: str) -> str:
    if asked.lower() == COVER_NONE:
        return COVER_NONE
    if asked.lower() == COVER_DEFAULT:
        return COVER_DEFAULT
    by_lower = {name.lower(): name for name in intake.covers()}
    if asked.lower() not in by_lower:
        known = ", ".join(sorted(by_lower.values())) or "none installed"
        raise Problem422(
            f"cover_page: {asked[:100]!r} is not installed (None, Default or one of {known})"
        )
    return by_lower[asked.lower()]


def _send_at(fax: FaxFields, now: datetime) -> datetime:
    if fax.send_at is None or fax.send_at <= now:
        return now
    if fax.send_at - now > MAX_SEND_AHEAD:
        raise Problem422(f"send_at: more than {MAX_SEND_AHEAD.days} days ahead")
    return fax.send_at


def decode_documents(intake: Intake, fax: NewFax) -> list[NewDocument]:
    """The base64 documents of ``fax``, uploaded (not yet committed)."""
    if len(fax.documents) > intake.limits.max_attachments:
        raise Problem422(f"documents: more than {intake.limits.max_attachments}")
    documents: list[NewDocument] = []
    try:
        for i, doc in enumerate(fax.documents):
            try:
                data = base64.b64decode(doc.content_base64, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise Problem422(f"documents.{i}.content_base64: not base64 ({exc})") from exc
            if not data:
                raise Problem422(f"documents.{i}.content_base64: the document is empty")
            upload = intake.store.new_upload()
            documents.append(NewDocument(doc.filename, doc.content_type, upload))
            upload.write(data)
    except BaseException:
        for made in documents:
            made.upload.discard()
        raise
    return documents


def prepare(
    intake: Intake,
    account: Account,
    fax: FaxFields,
    documents: list[NewDocument],
    now: datetime,
    request: Request,
) -> NewSubmission:
    """The submission ``fax`` asks for with ``documents`` (uploaded, not yet committed: the
    caller discards them whatever happens, a committed upload is kept)."""
    limits = intake.limits
    if len(fax.to) > limits.max_recipients:
        raise Problem422(f"to: more than {limits.max_recipients} recipients")
    if len(documents) > limits.max_attachments:
        raise Problem422(f"documents: more than {limits.max_attachments}")
    if len(fax.cover_text) > limits.max_cover_text_chars:
        raise Problem422(f"cover_text: longer than {limits.max_cover_text_chars} characters")
    policy = DialPolicy.for_account(
        account.username, account.region, account.dial_allow, account.dial_deny, intake.reachable
    )
    notes: list[str] = []
    wanted = [f"{t.number}|{t.name}" if t.name else t.number for t in fax.to]
    recipients = recipients_of(wanted, notes, policy)
    refused = [n for n in notes if " left out: " in n]
    if refused:  # a program is told, rather than a recipient silently dropped
        raise Problem422("to: " + "; ".join(refused))
    cover = _cover(intake, fax.cover_page)
    send_at = _send_at(fax, now)
    return NewSubmission(
        account_id=account.id,
        recipients=recipients,
        documents=documents,
        resolution=Resolution(fax.resolution),
        cover_page=cover,
        cover_text=fax.cover_text,
        send_at=send_at,
        sendtime_raw=fax.send_at.isoformat() if fax.send_at else None,
        notes=notes,
        request_id=uuid.uuid4().hex[:16],  # ours, as the FaxOut endpoint's: never the client's
        client_addr=request.client.host if request.client else "",
        accepted_at=now,
        labels=dict(fax.labels),
    )


def submit(
    intake: Intake,
    sub: NewSubmission,
    key: str | None,
    asked: dict[str, Any],
    *,
    batched: Callable[[NewSubmission, list[str]], int] | None = None,
) -> Created | int:
    """Make ``sub`` durable (documents fsynced, rows committed); with an idempotency key,
    once (``asked``: what the request's hash covers besides the documents, ``request_hash``).
    An ``int``: the fax the key was already used for with another request. ``batched``
    commits a submission without a key with others (the FaxOut endpoint's group committer)."""
    keys = commit_documents(sub)
    digest = request_hash(asked, sub, keys)
    if key is None:
        if batched is not None:
            return Created(batched(sub, keys))
        with transaction(intake.engine) as conn:
            return Created(insert_submissions(conn, [(sub, keys)])[0])
    made = create_once(intake.engine, sub, keys, key=key, request_hash=digest)
    return made if isinstance(made, Created) else made.submission_id
