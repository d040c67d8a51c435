"""Signing in and out of the console, with the FaxOut endpoint's credentials and throttle.

The number and password are checked by the intake's ``Authenticator``: the same argon2id
hashes, cache and login throttle as ``/faxapi.asp`` (docs/security.md), so failures here and
there count together, per number and client address. A prohibited account may sign in and look
at its faxes; it cannot send.
"""

from __future__ import annotations

import hmac

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.intake.auth import AuthStatus
from faxout.intake.console.session import Session, unix
from faxout.intake.console.web import (
    ConsoleError,
    console_of,
    page,
    read_form,
    redirect,
    refuse_cross_site,
    safe_next,
    session_of,
    set_session,
)

router = APIRouter(include_in_schema=False)
MAX_CREDENTIAL_CHARS = 200


def _login_page(request: Request, *, status: int = 200, error: str = "", **form: str) -> Response:
    return page(request, "login.html", status=status, title="Sign in", error=error, form=form)


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (a fresh anonymous session carries its CSRF token)."""
    session = session_of(request)
    if session is None or session.signed_in:
        set_session(request, Session.anonymous())
    return _login_page(request, next=safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the number and password; on success a new session, then where the user was going."""
    refuse_cross_site(request)
    form = await read_form(request)
    username = form.get("username", "").strip()[:MAX_CREDENTIAL_CHARS]
    password = form.get("password", "")[:MAX_CREDENTIAL_CHARS]
    goto = safe_next(form.get("next"))
    session = session_of(request)
    token = form.get("csrf", "")
    if session is None or not token or not hmac.compare_digest(token, session.csrf):
        set_session(request, Session.anonymous())
        return _login_page(
            request,
            status=403,
            error="The sign-in form had expired. Please sign in again.",
            username=username,
            next=goto,
        )
    if not username or not password:
        return _login_page(
            request, status=400, error="Enter your fax number and password.", username=username
        )
    console = console_of(request)
    client = request.client.host if request.client else ""
    verdict = await anyio.to_thread.run_sync(
        console.intake.authenticator.authenticate, username, password, client
    )
    if verdict.status is AuthStatus.THROTTLED:
        return _login_page(
            request,
            status=429,
            error="Too many failed sign-ins for this number from here. Wait a few minutes, "
            "or ask an operator to unlock the account.",
            username=username,
            next=goto,
        )
    if verdict.account is None:
        return _login_page(
            request,
            status=401,
            error="That number and password do not match an account.",
            username=username,
            next=goto,
        )
    now = unix(console.intake.clock.now())
    account = verdict.account
    set_session(request, Session.anonymous().signed_in_as(account.id, account.password_hash, now))
    return redirect(request, goto)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out (a POST with the CSRF token, so no other site can sign a user out)."""
    refuse_cross_site(request)
    form = await read_form(request)
    session = session_of(request)
    token = form.get("csrf", "")
    if session is not None and session.signed_in and not hmac.compare_digest(token, session.csrf):
        raise ConsoleError(403, "This form has expired: reload the page and try again.")
    set_session(request, Session.anonymous())
    return redirect(request, "/login", "You are signed out.")
