"""What every console page shares: the signed-in viewer, CSRF checks, templates, headers.

- ``signed_in`` (a dependency) is the viewer: the account of a valid session cookie, read
  afresh on each request (a prohibited account may look, not send; a removed one is signed
  out). Without one, a page redirects to ``/login?next=…`` and a script's request gets 401.
- Every request that changes something is a POST carrying the session's CSRF token, in the
  form field ``csrf`` or the header ``X-CSRF-Token`` (``Viewer.check``); a POST whose
  ``Origin`` or ``Sec-Fetch-Site`` says it came from another site is refused before that.
  The cookie is ``SameSite=Lax`` besides.
- Every answer carries the security headers (``SECURITY_HEADERS``): a CSP allowing only this
  origin's scripts, styles and images (no inline script), no framing, no sniffing, HSTS over
  HTTPS; pages with an account's data are ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import anyio
import jinja2
from fastapi import Depends, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from faxout import __version__
from faxout.accounts.repo import Account
from faxout.intake.console import format as fmt
from faxout.intake.console.session import (
    COOKIE,
    TOUCH_SECONDS,
    Session,
    SessionCodec,
    fingerprint,
    unix,
)
from faxout.intake.console.settings import ConsoleSettings
from faxout.intake.services import Api, Intake

log = logging.getLogger("faxout.console")
HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"
FLASH_COOKIE = "faxout_flash"
TZ_COOKIE = "faxout_tz"
MAX_FORM_BYTES = 256 * 1024  # a form without files
URLENCODED = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Console:
    """What the console's pages work with (``app.state.console``)."""

    intake: Intake
    api: Api
    cfg: ConsoleSettings
    codec: SessionCodec
    templates: jinja2.Environment


class ConsoleError(Exception):
    """A page that cannot be shown: answered with the error page (``status``, ``message``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class SignInNeeded(Exception):  # noqa: N818 - a redirect, raised to leave the handler
    """No valid session: a page redirects to the sign-in form, a script gets 401."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in account of a request, and its session."""

    account: Account
    session: Session
    console: Console
    zone: str = ""  # the browser's time zone (its cookie), else the account's

    @property
    def intake(self) -> Intake:
        """The intake's services."""
        return self.console.intake

    @property
    def api(self) -> Api:
        """The status API's services (the console uses the same functions)."""
        return self.console.api

    def now(self) -> datetime:
        """The intake clock's reading."""
        return self.console.intake.clock.now()

    def check(self, token: str | None) -> None:
        """Refuse (403) a change whose CSRF token is not this session's."""
        if not token or not hmac.compare_digest(token, self.session.csrf):
            raise ConsoleError(
                403, "This form has expired or did not come from this console: reload the "
                "page and try again."
            )  # fmt: skip

    def need_operator(self) -> None:
        """Refuse (403) unless the account is an operator."""
        if not self.account.operator:
            raise ConsoleError(403, "Only an operator may open this page.")


def console_of(request: Request) -> Console:
    """The console of the app serving ``request``."""
    console: Console = request.app.state.console
    return console


def from_script(request: Request) -> bool:
    """Whether a page's script asked (``console.js`` says so), rather than the browser."""
    return (
        "application/json" in request.headers.get("accept", "")
        or request.headers.get("x-requested-with", "") == "fetch"
    )


def session_of(request: Request) -> Session | None:
    """The request's session (cached on it), or None without a valid cookie."""
    if hasattr(request.state, "session"):
        cached: Session | None = request.state.session
        return cached
    console = console_of(request)
    raw = request.cookies.get(COOKIE)
    now = unix(console.intake.clock.now())
    session = console.codec.loads(raw, now) if raw else None
    request.state.session = session
    return session


def set_session(request: Request, session: Session | None) -> None:
    """Have the response carry ``session`` (None: sign out)."""
    request.state.session = session
    request.state.session_changed = True


def _same_site(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # an older browser: the CSRF token alone decides
    ours = urlsplit(str(request.base_url))
    theirs = urlsplit(origin)
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


def refuse_cross_site(request: Request) -> None:
    """Refuse (403) a change asked by another site's page (its ``Origin`` or
    ``Sec-Fetch-Site`` says so): before any CSRF token is looked at."""
    if request.method not in ("GET", "HEAD") and not _same_site(request):
        raise ConsoleError(403, "This request came from another site and was refused.")


async def signed_in(request: Request) -> Viewer:
    """The viewer (a dependency of every page behind the sign-in)."""
    refuse_cross_site(request)
    console = console_of(request)
    session = session_of(request)
    if session is None or not session.signed_in:
        raise SignInNeeded
    account = await anyio.to_thread.run_sync(console.api.accounts.by_id, session.account_id)
    if account is None or fingerprint(account.password_hash) != session.password:
        set_session(request, Session.anonymous())  # a removed account or a new password
        raise SignInNeeded
    now = unix(console.intake.clock.now())
    if now - session.seen > TOUCH_SECONDS:
        set_session(request, session.touched(now))
    zone = fmt.zone_of(request.cookies.get(TZ_COOKIE, ""), account.time_zone)
    viewer = Viewer(account, request.state.session, console, zone)
    request.state.viewer = viewer  # for the error page's top bar
    return viewer


ViewerDep = Annotated[Viewer, Depends(signed_in)]


def finish(request: Request, response: Response, *, private: bool = True) -> Response:
    """``response`` with the security headers and, when the session changed, its cookie."""
    response.headers.update(SECURITY_HEADERS)
    https = request.url.scheme == "https"
    if https:
        response.headers["Strict-Transport-Security"] = HSTS
    if private:
        response.headers["Cache-Control"] = "no-store"
    if getattr(request.state, "session_changed", False):
        console = console_of(request)
        session: Session | None = request.state.session
        if session is None:
            response.delete_cookie(COOKIE, path="/", secure=https, httponly=True, samesite="lax")
        else:
            response.set_cookie(
                COOKIE,
                console.codec.dumps(session),
                path="/",
                secure=https,
                httponly=True,
                samesite="lax",
            )
    return response


@dataclass
class Flash:
    """A one-line message shown on the next page (after a redirect)."""

    text: str
    kind: str = "ok"  # ok | error


def page(
    request: Request,
    template: str,
    viewer: Viewer | None = None,
    *,
    status: int = 200,
    title: str = "",
    **context: Any,
) -> Response:
    """The page ``template`` rendered for ``viewer`` (None: signed out)."""
    console = console_of(request)
    session = session_of(request)
    if session is None:
        session = Session.anonymous()
        set_session(request, session)
    flash = _read_flash(request)
    body = console.templates.get_template(template).render(
        request=request,
        viewer=viewer,
        csrf=session.csrf,
        title=title,
        flash=flash,
        version=__version__,
        poll_ms=int(console.cfg.live_poll_seconds * 1000),
        zone=viewer.zone if viewer else "",
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return finish(request, response)


def fragment(request: Request, template: str, viewer: Viewer, **context: Any) -> Response:
    """A part of a page (the live outbox's rows), for a script to put in place."""
    console = console_of(request)
    body = console.templates.get_template(template).render(
        request=request, viewer=viewer, csrf=viewer.session.csrf, zone=viewer.zone, **context
    )
    return finish(request, HTMLResponse(body))


def redirect(request: Request, to: str, flash: str = "", kind: str = "ok") -> Response:
    """A 303 to ``to`` (after a POST), with a message for the next page."""
    response = RedirectResponse(to, status_code=303)
    if flash:
        response.set_cookie(
            FLASH_COOKIE,
            quote(f"{kind}:{flash[:300]}"),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return finish(request, response)


def _read_flash(request: Request) -> Flash | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    return Flash(text, "error" if kind == "error" else "ok") if text else None


def json_answer(
    request: Request, data: Mapping[str, Any] | list[Any], status: int = 200
) -> Response:
    """JSON for the console's scripts."""
    return finish(request, JSONResponse(data, status_code=status))


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or a URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def small_body(request: Request, cap: int) -> bytes:
    """A body of at most ``cap`` bytes (a form without files, a script's JSON); 413 past it,
    before reading when the request says its length."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ConsoleError(413, "The request is too large.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise ConsoleError(413, "The request is too large.")
    return bytes(body)


async def read_form_all(request: Request) -> dict[str, list[str]]:
    """A small urlencoded form (no files) with every value of each field; 413 past
    ``MAX_FORM_BYTES``."""
    if not request.headers.get("content-type", "").startswith(URLENCODED):
        raise ConsoleError(415, f"This form is sent as {URLENCODED}.")
    body = await small_body(request, MAX_FORM_BYTES)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConsoleError(400, "The form could not be read.") from exc
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form as a dict of each field's last value."""
    return {key: values[-1] for key, values in (await read_form_all(request)).items()}
