"""``POST /faxapi.asp`` (also ``/faxapi``, ``/faxout``): the legacy RingCentral FaxOut endpoint.

The answer is always HTTP 200, ``text/plain``, one digit (see ``codes.py``): for malformed and
oversized bodies too, never HTML, never a 5xx. The body is parsed as it streams in; attachments go
straight to the document store.

- A body that is malformed, truncated, too slow or over a limit is answered ``5`` as soon as the
  credentials allow (after ``1`` and ``2``, before ``3`` and ``4``: what is missing may be in the
  part that could not be read), and the log line names the reason.
- Nothing is accepted for a client that is gone: the connection is checked once the documents
  are stored and before the commit, so a client that vanished gets no ``0`` it cannot read and
  its retry does not fax twice. A client that half-closed after its body is still connected
  for this purpose (``faxout.intake.edge``) and gets its digit.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from faxout.intake.auth import AuthStatus
from faxout.intake.edge import BodyError
from faxout.intake.faxout import fields as names
from faxout.intake.faxout.codes import Reply
from faxout.intake.faxout.parser import Attachment, FormParser, ParsedForm
from faxout.intake.faxout.request import interpret
from faxout.intake.metrics import count_reply
from faxout.intake.services import Intake
from faxout.jobs.create import NewDocument, NewSubmission, store_documents
from faxout.jobs.dialplan import DialPolicy

log = logging.getLogger("faxout.intake")
PATHS = ("/faxapi.asp", "/faxapi", "/faxout")
_LOGGED_NOTES = 5  # of a request answered "3", each already cut to a short quote


@dataclass
class _Outcome:
    reply: Reply
    reason: str = ""
    username: str = ""
    recipients: int = 0
    attachments: int = 0
    submission_id: int | None = None
    close: bool = False
    body_bytes: int = 0


def _plain_name(att: Attachment, seq: int) -> str:
    if att.filename:
        return att.filename
    head = bytes(att.head[:1024]).lstrip().lower()
    is_html = head.startswith((b"<!doctype html", b"<html")) or b"<body" in head
    if att.plain_value:
        return f"attachment-{seq}.{'html' if is_html else 'txt'}"
    return f"attachment-{seq}"


async def _read_body(request: Request, gw: Intake, parser: FormParser) -> bool:
    """Feed the body to the parser; False when reading stopped early (drain cap reached)."""
    if request.method == "GET":
        parser.feed(request.url.query.encode("latin-1", "replace"))
        return True
    async for chunk in request.stream():
        parser.feed(chunk)
        if parser.form.body_bytes > gw.limits.max_drain_bytes:
            return False
    return True


async def _decide(request: Request, gw: Intake, request_id: str) -> _Outcome:
    limits = gw.limits
    declared = request.headers.get("content-length", "")
    expects = request.headers.get("expect", "").lower() == "100-continue"
    if declared.isdigit() and int(declared) > limits.max_body_bytes and expects:
        # Answer before the client sends the body: uvicorn only says "100 Continue" on a read.
        return _Outcome(Reply.GENERIC_ERROR, "declared body over the size limit", close=True)
    ctype = request.headers.get("content-type")
    if request.method == "GET":
        ctype = "application/x-www-form-urlencoded"
    parser = FormParser(ctype, gw.store, limits)
    try:
        complete = await _read_body(request, gw, parser)
    except (ClientDisconnect, BodyError) as exc:
        form = parser.finish()
        form.discard()
        reason = str(exc) if isinstance(exc, BodyError) else "client went away mid-body"
        return _Outcome(Reply.GENERIC_ERROR, reason, close=True, body_bytes=form.body_bytes)
    form = parser.finish()
    try:
        outcome = await _judge(request, gw, form, request_id)
    finally:
        # Uploads of a request that was not accepted are removed; committed ones are kept
        # (discarding a committed upload does nothing).
        form.discard()
    outcome.body_bytes = form.body_bytes
    outcome.close = outcome.close or not complete
    return outcome


def _prepare(
    gw: Intake, form: ParsedForm, client: str, request_id: str
) -> tuple[_Outcome, NewSubmission | None, list[str]]:
    """Run the checks in reply-code order and, if all pass, make the documents durable.

    Blocking (password hashing, disk): runs in one worker thread per request.
    """
    username = form.first(names.USERNAME) or ""
    password = form.first(names.PASSWORD) or ""
    n_att = len(form.attachments)
    if form.problem and not (username and password):
        # The credentials may be in the part that could not be read: not a "1".
        return _Outcome(Reply.GENERIC_ERROR, form.problem), None, []
    auth = gw.authenticator.authenticate(username, password, client)
    if auth.status in {AuthStatus.BAD_CREDENTIALS, AuthStatus.THROTTLED}:
        return _Outcome(Reply.AUTHORIZATION_FAILED, auth.status.value, auth.username), None, []
    if auth.status is AuthStatus.PROHIBITED or auth.account is None:
        return _Outcome(Reply.FAXING_PROHIBITED, "faxing prohibited", auth.username), None, []
    if form.problem:
        # Before 3 and 4: recipients or attachments may be in what could not be read.
        return _Outcome(Reply.GENERIC_ERROR, form.problem, auth.username, 0, n_att), None, []
    now = gw.clock.now()
    account = auth.account
    policy = DialPolicy.for_account(
        account.username, account.region, account.dial_allow, account.dial_deny, gw.reachable
    )
    fax = interpret(form, now, gw.covers, policy)
    n_rcpt = len(fax.recipients)
    who = auth.username
    if not fax.recipients:
        # Nothing is stored for a "3": the log line says why each recipient was left out.
        why = "; ".join(["no usable recipient", *fax.notes[:_LOGGED_NOTES]])
        return _Outcome(Reply.NO_RECIPIENTS, why, who, 0, n_att), None, []
    docs = [a for a in form.attachments if a.received > 0]
    if not docs:
        return _Outcome(Reply.NO_FAX_DATA, "no attachment with data", who, n_rcpt, n_att), None, []
    limits = gw.limits
    problem = None
    if n_rcpt > limits.max_recipients:
        problem = f"more than {limits.max_recipients} recipients"
    if problem is None and len(fax.cover_text) > limits.max_cover_text_chars:
        problem = f"cover text longer than {limits.max_cover_text_chars} characters"
    if problem:
        return _Outcome(Reply.GENERIC_ERROR, problem, who, n_rcpt, n_att), None, []
    sub = NewSubmission(
        account_id=auth.account.id,
        recipients=fax.recipients,
        documents=[
            NewDocument(_plain_name(a, seq), a.content_type, a.upload)
            for seq, a in enumerate(docs, 1)
        ],
        resolution=fax.resolution,
        cover_page=fax.cover_page,
        cover_text=fax.cover_text,
        send_at=fax.send_at,
        sendtime_raw=fax.sendtime_raw,
        notes=fax.notes,
        request_id=request_id,
        client_addr=client,
        accepted_at=now,
    )
    keys = store_documents(sub)
    return _Outcome(Reply.ACCEPTED, "accepted", who, n_rcpt, len(docs)), sub, keys


async def _judge(request: Request, gw: Intake, form: ParsedForm, request_id: str) -> _Outcome:
    client = request.client.host if request.client else ""
    outcome, sub, keys = await anyio.to_thread.run_sync(_prepare, gw, form, client, request_id)
    if sub is not None and await request.is_disconnected():
        # Its "0" could not be read, so its retry would fax twice. The documents stored so far
        # are unreferenced and harmless (content-addressed).
        outcome.reply, outcome.reason, sub = Reply.GENERIC_ERROR, "client gone before commit", None
    if sub is not None:
        # Answered 0 only once this commit returned (docs/guarantees.md).
        outcome.submission_id = await request.app.state.committer.commit(sub, keys)
        if request.app.state.background is not None:
            request.app.state.background.accepted(outcome.submission_id)
    return outcome


async def faxout_endpoint(request: Request) -> Response:
    """Answer a FaxOut request with one digit."""
    gw: Intake = request.app.state.intake
    started = gw.clock.monotonic()
    request_id = uuid.uuid4().hex[:16]
    try:
        outcome = await _decide(request, gw, request_id)
    except Exception:
        log.exception("FaxOut request failed", extra={"fields": {"request_id": request_id}})
        outcome = _Outcome(Reply.GENERIC_ERROR, "internal error (logged)", close=True)
    fields = {
        "request_id": request_id,
        "code": int(outcome.reply),
        "reason": outcome.reason,
        "username": outcome.username,
        "recipients": outcome.recipients,
        "attachments": outcome.attachments,
        "bytes": outcome.body_bytes,
        "ms": round((gw.clock.monotonic() - started) * 1000, 1),
    }
    if outcome.submission_id is not None:
        fields["submission"] = outcome.submission_id
    log.info("faxout request", extra={"fields": fields})
    count_reply(outcome.reply)
    headers = {"X-Request-Id": request_id}
    if outcome.submission_id is not None:
        # The reply stays one digit; the id is for the operator (faxout jobs, /api/v1/faxes).
        headers["X-Faxout-Submission"] = str(outcome.submission_id)
    if outcome.close:
        headers["Connection"] = "close"
    return Response(outcome.reply.body, media_type="text/plain", headers=headers)
