"""The account's own page: its details, its password, its API tokens and webhooks.

What a program does through ``/api/v1`` with a token, a person does here: tokens are made and
revoked (``faxout token``), webhook endpoints added, removed and watched (``/api/v1/webhooks``),
by the same repositories. A new token's or endpoint's secret is shown once, in the answer to
the POST that made it (never in a cookie, a redirect or a log), as the API and CLI show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.accounts.repo import AccountError
from faxout.accounts.tokens import SCOPES, TokenError
from faxout.intake.console.session import Session, unix
from faxout.intake.console.web import (
    ConsoleError,
    Viewer,
    ViewerDep,
    page,
    read_form,
    read_form_all,
    redirect,
    set_session,
)
from faxout.jobs.events import EVENTS
from faxout.webhooks.endpoints import Endpoint, EndpointError

router = APIRouter(include_in_schema=False)
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 200
MAX_TOKEN_DAYS = 3650


@dataclass(frozen=True)
class Shown:
    """A secret shown once: what it is for and the value."""

    what: str
    value: str
    note: str


def _overview(viewer: Viewer) -> dict[str, Any]:
    api = viewer.api
    endpoints = api.webhooks.find(viewer.account.username)
    return {
        "tokens": api.tokens.list(viewer.account.id),
        "webhooks": endpoints,
        "now": viewer.now(),
    }


def _account_page(request: Request, viewer: Viewer, *, status: int = 200, **extra: Any) -> Response:
    context: dict[str, Any] = {
        "shown": None,
        "errors": {},
        "form": {},
        "scopes": SCOPES,
        "events": EVENTS,
    }
    context.update(extra)
    found = _overview(viewer)
    return page(
        request,
        "account.html",
        viewer,
        status=status,
        title="Your account",
        nav="account",
        **found,
        **context,
    )


@router.get("/account")
async def account(request: Request, viewer: ViewerDep) -> Response:
    """The account's details, password form, tokens and webhooks."""
    return await anyio.to_thread.run_sync(lambda: _account_page(request, viewer))


def check_password(new: str, again: str, username: str) -> str:
    """``""`` when ``new`` may be a password, else what is wrong with it."""
    if new != again:
        return "The two new passwords differ."
    if len(new) < MIN_PASSWORD_CHARS:
        return f"A password has at least {MIN_PASSWORD_CHARS} characters."
    if len(new) > MAX_PASSWORD_CHARS:
        return f"A password has at most {MAX_PASSWORD_CHARS} characters."
    if username in "".join(ch for ch in new if ch.isdigit()):
        return "A password may not contain the account's number."
    return ""


@router.post("/account/password")
async def change_password(request: Request, viewer: ViewerDep) -> Response:
    """A new password: checked against the current one; the account's other sessions end."""
    form = await read_form(request)
    viewer.check(form.get("csrf"))
    current, new, again = form.get("current", ""), form.get("new", ""), form.get("again", "")
    client = request.client.host if request.client else ""

    def work() -> Response:
        verdict = viewer.intake.authenticator.authenticate(
            viewer.account.username, current[:MAX_PASSWORD_CHARS], client
        )
        if verdict.account is None:
            said = {"current": "This is not the account's current password."}
            return _account_page(request, viewer, status=400, errors=said)
        wrong = check_password(new, again, viewer.account.username)
        if wrong:
            return _account_page(request, viewer, status=400, errors={"new": wrong})
        hashed = viewer.intake.authenticator.hash_password(new)
        changed = viewer.api.accounts.update(
            viewer.account.username, now=viewer.now(), password_hash=hashed
        )
        # This browser stays signed in under the new password; every other session ends.
        now = unix(viewer.now())
        set_session(request, Session.anonymous().signed_in_as(changed.id, hashed, now))
        return redirect(request, "/account", "Your password is changed.")

    return await anyio.to_thread.run_sync(work)


@router.post("/account/details")
async def change_details(request: Request, viewer: ViewerDep) -> Response:
    """The account's name and the address its delivery reports go to."""
    form = await read_form(request)
    viewer.check(form.get("csrf"))
    name = form.get("name", "").strip()
    email = form.get("email", "").strip()

    def work() -> Response:
        if len(name) > 200:
            said = {"name": "A name has at most 200 characters."}
            return _account_page(request, viewer, status=400, errors=said, form=form)
        try:
            viewer.api.accounts.update(
                viewer.account.username, now=viewer.now(), name=name, email=email
            )
        except AccountError as exc:
            said = {"email": f"{exc}: write it as name@example.com."}
            return _account_page(request, viewer, status=400, errors=said, form=form)
        return redirect(request, "/account", "Your details are saved.")

    return await anyio.to_thread.run_sync(work)


@router.post("/account/tokens")
async def create_token(request: Request, viewer: ViewerDep) -> Response:
    """A new API token, its secret shown once on the page this answers with."""
    form = await read_form_all(request)
    viewer.check((form.get("csrf") or [""])[-1])
    scopes = tuple(s for s in form.get("scope", []) if s in SCOPES)
    days = (form.get("days") or [""])[-1].strip()

    def work() -> Response:
        if not scopes:
            said = {"token": "Choose what the token may do: read, send or both."}
            return _account_page(request, viewer, status=400, errors=said)
        if days and not (days.isdigit() and 1 <= int(days) <= MAX_TOKEN_DAYS):
            said = {"token": f"The expiry is a number of days from 1 to {MAX_TOKEN_DAYS}."}
            return _account_page(request, viewer, status=400, errors=said)
        now = viewer.now()
        expires = now + timedelta(days=int(days)) if days else None
        try:
            secret, _ = viewer.api.tokens.create(viewer.account.id, scopes, now, expires)
        except TokenError as exc:
            return _account_page(request, viewer, status=400, errors={"token": str(exc)})
        shown = Shown(
            "API token",
            secret,
            "Send it as Authorization: Bearer <token>. It is shown only now: copy it.",
        )
        return _account_page(request, viewer, status=201, shown=shown)

    return await anyio.to_thread.run_sync(work)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, viewer: ViewerDep, token_id: int) -> Response:
    """Revoke one of the account's tokens: programs using it are refused from now on."""
    form = await read_form(request)
    viewer.check(form.get("csrf"))

    def work() -> Response:
        token = viewer.api.tokens.get(token_id)
        if token is None or token.account_id != viewer.account.id:
            raise ConsoleError(404, f"There is no token {token_id}.")
        if not viewer.api.tokens.revoke(token_id, viewer.now()):
            return redirect(request, "/account", f"Token {token.prefix}… was revoked already.")
        return redirect(request, "/account", f"Token {token.prefix}… is revoked.")

    return await anyio.to_thread.run_sync(work)


@router.post("/account/webhooks")
async def add_webhook(request: Request, viewer: ViewerDep) -> Response:
    """A new webhook endpoint, its signing secret shown once."""
    form = await read_form_all(request)
    viewer.check((form.get("csrf") or [""])[-1])
    url = (form.get("url") or [""])[-1].strip()
    events = [e for e in form.get("event", []) if e in EVENTS]

    def work() -> Response:
        try:
            made, secret = viewer.api.webhooks.add(
                viewer.account.username, url, " ".join(events) or "*", viewer.now()
            )
        except EndpointError as exc:
            said = {"webhook": str(exc)}
            return _account_page(request, viewer, status=400, errors=said, form={"url": url})
        shown = Shown(
            f"Signing secret of {made.url}",
            secret,
            "Verify each delivery's webhook-signature with it (Standard Webhooks). "
            "It is shown only now: copy it.",
        )
        return _account_page(request, viewer, status=201, shown=shown)

    return await anyio.to_thread.run_sync(work)


def _own_webhook(viewer: Viewer, webhook_id: int) -> Endpoint:
    found = viewer.api.webhooks.get(webhook_id)
    if found is None or found.username != viewer.account.username:
        raise ConsoleError(404, f"There is no webhook {webhook_id}.")
    return found


@router.post("/account/webhooks/{webhook_id}/remove")
async def remove_webhook(request: Request, viewer: ViewerDep, webhook_id: int) -> Response:
    """Remove an endpoint; its pending events are never sent."""
    form = await read_form(request)
    viewer.check(form.get("csrf"))

    def work() -> Response:
        endpoint = _own_webhook(viewer, webhook_id)
        viewer.api.webhooks.remove(webhook_id)
        return redirect(request, "/account", f"The webhook to {endpoint.url} is removed.")

    return await anyio.to_thread.run_sync(work)


@router.get("/account/webhooks/{webhook_id}")
async def webhook_deliveries(request: Request, viewer: ViewerDep, webhook_id: int) -> Response:
    """What was sent to one endpoint, newest first, and how it went."""
    before = request.query_params.get("before", "")
    cursor = int(before) if before.isdigit() and int(before) < 2**62 else None

    def work() -> Response:
        endpoint = _own_webhook(viewer, webhook_id)
        rows = viewer.api.webhooks.deliveries(webhook_id, limit=51, before=cursor)
        return page(
            request,
            "webhook.html",
            viewer,
            title="Webhook deliveries",
            nav="account",
            endpoint=endpoint,
            deliveries=rows[:50],
            more=rows[49].id if len(rows) > 50 else None,
        )

    return await anyio.to_thread.run_sync(work)
