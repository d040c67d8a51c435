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
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
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


class NewFax(BaseModel):
    """The body of ``POST /api/v1/faxes``."""

    model_config = ConfigDict(extra="forbid")
    to: Annotated[list[To], Field(min_length=1)]
    documents: Annotated[list[Document], Field(min_length=1)]
    cover_page: str = "Default"
    cover_text: str = ""
    resolution: Literal["high", "low"] = "high"
    send_at: AwareDatetime | None = None


def read_fax(body: bytes) -> NewFax:
    """The request body as a ``NewFax``; ``Problem422`` naming each field that is wrong."""
    try:
        return NewFax.model_validate_json(body)
    except ValidationError as exc:
        said = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise Problem422(said) from exc


def request_hash(fax: NewFax) -> str:
    """What "the same body" means for an idempotency key: the request as understood."""
    return hashlib.sha256(fax.model_dump_json().encode()).hexdigest()


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


def _send_at(fax: NewFax, now: datetime) -> datetime:
    if fax.send_at is None or fax.send_at <= now:
        return now
    if fax.send_at - now > MAX_SEND_AHEAD:
        raise Problem422(f"send_at: more than {MAX_SEND_AHEAD.days} days ahead")
    return fax.send_at


def prepare(
    intake: Intake, account: Account, fax: NewFax, now: datetime, request: Request
) -> NewSubmission:
    """The submission ``fax`` asks for, its documents uploaded (not yet committed)."""
    limits = intake.limits
    if len(fax.to) > limits.max_recipients:
        raise Problem422(f"to: more than {limits.max_recipients} recipients")
    if len(fax.documents) > limits.max_attachments:
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
    )


def submit(intake: Intake, sub: NewSubmission, key: str | None, digest: str) -> Created | int:
    """Make ``sub`` durable (documents fsynced, rows committed); with an idempotency key,
    once. An ``int``: the fax the key was already used for with another request."""
    keys = commit_documents(sub)
    if key is None:
        with transaction(intake.engine) as conn:
            return Created(insert_submissions(conn, [(sub, keys)])[0])
    made = create_once(intake.engine, sub, keys, key=key, request_hash=digest)
    return made if isinstance(made, Created) else made.submission_id
