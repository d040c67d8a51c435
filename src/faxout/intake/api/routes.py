"""``/api/v1``: programs look at, cancel and retry their account's faxes (docs/api.md).

Every request carries ``Authorization: Bearer fxo_…`` (``faxout token create``); a token sees
only its own account's faxes (another account's fax is a 404, as a fax that does not exist).
``read`` lets it look, ``send`` lets it act. Errors are RFC 9457 problem details.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, ValidationError

from faxout.accounts.repo import Account
from faxout.accounts.tokens import Token
from faxout.intake.api import openapi as spec
from faxout.intake.api import ratelimit
from faxout.intake.api.faxes import (
    Problem,
    batched,
    cancel,
    fax_detail,
    fax_now,
    owned,
    resend,
    retry,
    sender,
    started,
)
from faxout.intake.api.listing import fax_filter
from faxout.intake.api.multipart import (
    MAX_FAX_PART_BYTES,
    MultipartError,
    is_multipart,
    read_multipart,
)
from faxout.intake.api.resend import read_resend
from faxout.intake.api.submit import (
    MAX_KEY_CHARS,
    FaxFields,
    Problem422,
    asked_of,
    decode_documents,
    prepare,
    problem_of,
    read_fax,
    submit,
)
from faxout.intake.api.views import fax_json
from faxout.intake.services import Api, Intake
from faxout.jobs.create import Created
from faxout.jobs.repo import SubmissionView

MAX_PAGE = 200


@dataclass(frozen=True)
class Caller:
    """The account a request acts for, and what its token allows."""

    token: Token
    intake: Intake
    api: Api

    def needs(self, scope: str) -> None:
        """Refuse (403) unless the token has ``scope``."""
        if scope not in self.token.scopes:
            raise Problem(403, "Forbidden", f"this token lacks the {scope!r} scope")

    def now(self) -> datetime:
        """The intake clock's reading."""
        return self.intake.clock.now()


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, **{"WWW-Authenticate": 'Bearer realm="faxout"'})


async def caller(request: Request) -> Caller:
    """The request's token, checked (a dependency of every route)."""
    intake: Intake = request.app.state.intake
    assert intake.api is not None
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("send Authorization: Bearer <token> (`faxout token create`)")
    api = intake.api
    token = await anyio.to_thread.run_sync(api.tokens.verify, secret.strip(), intake.clock.now())
    if token is None:
        raise _unauthorized("the token is unknown, expired or revoked")
    verdict = ratelimit.admit(request, token.id, token.account_id)
    if verdict is not None and not verdict.allowed:
        detail = f"too many requests for this token or account; retry in {verdict.retry_after} s"
        raise Problem(429, "Too Many Requests", detail, **verdict.headers())
    return Caller(token, intake, api)


CallerDep = Annotated[Caller, Depends(caller)]
router = APIRouter(prefix="/api/v1", tags=["faxes"])


def own_fax(c: Caller, fax_id: int) -> SubmissionView:
    """The fax ``fax_id`` of the token's account; a 404 problem for one that is not (another
    account's fax is answered as one that does not exist)."""
    return owned(c.api, c.token.username, fax_id)


def _fax_now(c: Caller, fax_id: int) -> dict[str, Any]:
    """The fax's JSON as it is now (one just made or acted on: it exists)."""
    return fax_now(c.api, fax_id, c.now())


def _encode(when: datetime) -> str:
    return base64.urlsafe_b64encode(when.isoformat().encode()).decode().rstrip("=")


def _decode(token: str) -> datetime:
    try:
        padded = token + "=" * (-len(token) % 4)
        when = datetime.fromisoformat(base64.urlsafe_b64decode(padded).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Problem(400, "Bad Request", "sync_token is not one this server gave") from exc
    if when.tzinfo is None:
        raise Problem(400, "Bad Request", "sync_token is not one this server gave")
    return when


@router.get("/faxes", summary="The account's faxes, newest first", responses=spec.LIST_FAXES)
async def list_faxes(
    c: CallerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, le=spec.MAX_ID, description="next_cursor of the last page")
    ] = None,
    sync_token: Annotated[
        str | None, Query(description="only faxes changed since the call that gave it")
    ] = None,
    state: Annotated[list[str] | None, Query(description="fax states, repeated or a,b")] = None,
    recipient: Annotated[str | None, Query(description="a recipient's number")] = None,
    label: Annotated[list[str] | None, Query(description="key:value, each must match")] = None,
    created_after: Annotated[AwareDatetime | None, Query()] = None,
    created_before: Annotated[AwareDatetime | None, Query()] = None,
) -> JSONResponse:
    """A page of faxes. ``next_cursor`` fetches the next page; ``sync_token`` (kept from any
    answer) fetches later only the faxes whose recipients changed since (and, to miss none,
    those changed shortly before: ``api.sync_overlap_seconds``). The filters (docs/api.md)
    narrow the list; every one must hold."""
    c.needs("read")
    since = _decode(sync_token) if sync_token else None
    account = await anyio.to_thread.run_sync(c.api.accounts.get, c.token.username)
    if account is None:
        raise Problem(404, "Not Found", "the token's account is gone")
    try:
        only = fax_filter(
            account,
            c.intake.reachable,
            states=state or [],
            recipient=recipient,
            labels=label or [],
            created_after=created_after,
            created_before=created_before,
        )
    except Problem422 as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from exc

    def work() -> dict[str, Any]:
        # The token is the time before the page is read: what changes meanwhile comes again.
        # A change is stamped with its writer's clock before its transaction commits, and the
        # writers may be other machines: a sync answers again what changed a little before its
        # token (``api.sync_overlap_seconds``), so a late commit is repeated, never skipped.
        started = c.now()
        overlap = timedelta(seconds=c.intake.api_limits.sync_overlap_seconds)
        ids = c.api.jobs.submission_ids(
            c.token.username,
            limit=limit + 1,
            before=cursor,
            changed_since=since - overlap if since else None,
            only=only,
        )
        page = ids[:limit]
        subs = c.api.jobs.get_submissions(page)
        tried = c.api.jobs.attempts_of([job.id for sub in subs for job in sub.jobs])
        now = c.now()
        items = [fax_json(sub, tried, now) for sub in subs]
        return {
            "items": items,
            "next_cursor": page[-1] if len(ids) > limit else None,
            "sync_token": _encode(started),
        }

    return JSONResponse(await anyio.to_thread.run_sync(work))


async def _body(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise Problem(413, "Content Too Large", f"the body may be at most {cap} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise Problem(413, "Content Too Large", f"the body may be at most {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# RFC 9110's names, where Python's HTTPStatus still has the older ones.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title(status: int) -> str:
    return _TITLES.get(status) or HTTPStatus(status).phrase


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= MAX_KEY_CHARS and key.isprintable()):
        raise Problem(400, "Bad Request", "Idempotency-Key: 1 to 200 printable characters")
    return key


def _sender(c: Caller) -> Account:
    return sender(c.api, c.token.username)


async def _made(c: Caller, request: Request, work: Callable[[], Created | int]) -> JSONResponse:
    """Run ``work`` (blocking) and answer with the fax it made: 201, or 200 when replayed."""
    try:
        made = await anyio.to_thread.run_sync(work)
    except Problem422 as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from exc
    if isinstance(made, int):
        raise Problem(
            409, "Conflict", f"this Idempotency-Key was used for another request (fax {made})"
        )
    if not made.replayed:
        started(request, made.submission_id)
    # Off the event loop, like every read.
    answer = await anyio.to_thread.run_sync(_fax_now, c, made.submission_id)
    headers = {"Location": f"/api/v1/faxes/{made.submission_id}"}
    if made.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer, 200 if made.replayed else 201, headers=headers)


@router.post(
    "/faxes",
    status_code=201,
    summary="Submit a fax (JSON with base64 documents, or multipart)",
    responses=spec.CREATE_FAX,
    openapi_extra=spec.CREATE_FAX_EXTRA,
)
async def create_fax(c: CallerDep, request: Request) -> JSONResponse:
    """201 with the fax. With ``Idempotency-Key`` (at most 200 printable characters), the same
    key and body within 24 hours give the same fax (200, ``Idempotent-Replayed: true``); the
    same key with another body is a 409. ``multipart/form-data``: a ``fax`` part (the JSON
    without ``documents``) and ``document`` file parts."""
    c.needs("send")
    key = _idempotency_key(request)
    account = await anyio.to_thread.run_sync(_sender, c)
    now = c.now()
    if is_multipart(request.headers.get("content-type", "")):
        try:
            parts = await read_multipart(request, c.intake.store, c.intake.limits)
        except MultipartError as exc:
            raise Problem(exc.status, _title(exc.status), str(exc)) from exc

        def from_parts() -> Created | int:
            try:
                try:
                    fields = FaxFields.model_validate_json(parts.fax)
                except ValidationError as exc:
                    raise problem_of(exc, "fax") from exc
                sub = prepare(c.intake, account, fields, parts.documents, now, request)
                return submit(c.intake, sub, key, asked_of(fields), batched=batched(request))
            finally:
                parts.discard()  # nothing left behind; a committed upload is kept

        return await _made(c, request, from_parts)
    # Base64 is 4/3 of the bytes: the FaxOut endpoint's body limit, as documents.
    body = await _body(request, c.intake.limits.max_body_bytes * 4 // 3 + (64 << 10))

    def work() -> Created | int:
        fax = read_fax(body)
        docs = decode_documents(c.intake, fax)
        try:
            sub = prepare(c.intake, account, fax, docs, now, request)
            return submit(c.intake, sub, key, asked_of(fax), batched=batched(request))
        finally:
            for doc in docs:
                doc.upload.discard()  # nothing left behind; a committed upload is kept

    return await _made(c, request, work)


@router.post(
    "/faxes/{fax_id}/resend",
    status_code=201,
    summary="A new fax to other numbers from this fax's documents",
    responses=spec.RESEND_FAX,
    openapi_extra=spec.RESEND_FAX_EXTRA,
)
async def resend_fax(c: CallerDep, fax_id: spec.FaxId, request: Request) -> JSONResponse:
    """201 with the new fax (labelled ``resent_from``): the documents are not uploaded again;
    cover page, cover text, resolution and labels are the original's unless given.
    ``Idempotency-Key`` as for ``POST /faxes``."""
    c.needs("send")
    key = _idempotency_key(request)
    account = await anyio.to_thread.run_sync(_sender, c)
    body = await _body(request, MAX_FAX_PART_BYTES)

    def work() -> Created | int:
        original = own_fax(c, fax_id)
        return resend(c.intake, account, original, read_resend(body), request, key)

    return await _made(c, request, work)


@router.get(
    "/faxes/{fax_id}",
    summary="One fax with its recipients and their attempts",
    responses=spec.READ_FAX,
)
async def get_fax(c: CallerDep, fax_id: spec.FaxId) -> JSONResponse:
    """Per recipient: state, pages confirmed of total, every attempt, next attempt and why."""
    c.needs("read")

    def work() -> dict[str, Any]:
        return fax_detail(c.intake, c.api, own_fax(c, fax_id), c.now())

    return JSONResponse(await anyio.to_thread.run_sync(work))


@router.post(
    "/faxes/{fax_id}/cancel",
    summary="Cancel every recipient not yet dialling",
    responses=spec.ACT_ON_FAX,
)
async def cancel_fax(c: CallerDep, fax_id: spec.FaxId) -> JSONResponse:
    """Recipients already dialling, or finished, are left as they are; 409 when none could be
    canceled."""
    c.needs("send")

    def work() -> dict[str, Any]:
        own_fax(c, fax_id)
        cancel(c.api, c.now(), fax_id)
        return _fax_now(c, fax_id)

    return JSONResponse(await anyio.to_thread.run_sync(work))


@router.post(
    "/faxes/{fax_id}/recipients/{recipient_id}/retry",
    summary="Send a failed or interrupted recipient's fax again",
    responses=spec.ACT_ON_FAX,
)
async def retry_recipient(
    c: CallerDep, fax_id: spec.FaxId, recipient_id: spec.RecipientId, request: Request
) -> JSONResponse:
    """The recipient is due at once, from its first unconfirmed page, with fresh dial and
    try counters; 409 when it has not failed and was not interrupted."""
    c.needs("send")

    def work() -> dict[str, Any]:
        retry(c.api, c.now(), own_fax(c, fax_id), recipient_id)
        return _fax_now(c, fax_id)

    answer = await anyio.to_thread.run_sync(work)
    started(request, fax_id)  # dispatch it now, not at the next pass
    return JSONResponse(answer)
