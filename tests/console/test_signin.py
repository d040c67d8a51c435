"""Signing in and out in a browser: the form's messages, sessions that end, forms from elsewhere."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from faxout.intake.console.mount import SESSION_KEY
from faxout.intake.console.session import COOKIE, SessionCodec
from faxout.intake.console.settings import ConsoleSettings
from tests.console.conftest import NAME, PASSWORD, USER, shot, sign_in
from tests.server import Server


def test_a_wrong_password_says_so_and_the_right_one_opens_the_outbox(anonymous: Page) -> None:
    anonymous.goto("/")
    expect(anonymous).to_have_url("/login?next=/")  # behind the sign-in
    expect(anonymous.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(anonymous, "login")
    sign_in(anonymous, "+1 (650) 555-1234", "not the password")
    expect(anonymous.get_by_role("alert")).to_have_text(
        "That number and password do not match an account."
    )
    expect(anonymous.get_by_label("Fax number")).to_have_value("+1 (650) 555-1234")
    sign_in(anonymous, USER, PASSWORD)
    expect(anonymous).to_have_url(_url(anonymous, "/"))
    expect(anonymous.get_by_role("heading", name="Outbox")).to_be_visible()
    expect(anonymous.locator("header .account")).to_have_text(NAME)


def test_the_sign_in_returns_to_the_page_asked_for(anonymous: Page) -> None:
    anonymous.goto("/?state=failed")
    sign_in(anonymous, USER, PASSWORD)
    expect(anonymous).to_have_url(_url(anonymous, "/?state=failed"))
    expect(anonymous.get_by_label("State")).to_have_value("failed")


def test_signing_out_ends_the_session(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_an_open_outbox_says_when_its_session_has_ended(
    page: Page, context: BrowserContext
) -> None:
    """The live poll is refused once the cookie is gone: the page says so, without reloading,
    and its link signs in again and comes back."""
    page.evaluate("window.__marker = 1")
    context.clear_cookies()
    notice = page.locator("#signed-out")
    expect(notice).to_have_text("Your session has ended. Sign in again.")
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    with page.expect_navigation():
        notice.get_by_role("link", name="Sign in again").click()
    sign_in(page, USER, PASSWORD)
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()


def test_a_session_idle_too_long_has_ended(
    page: Page, context: BrowserContext, gateway: Server
) -> None:
    """A cookie signed with the gateway's own key but last used longer ago than
    ``session_idle_minutes`` is refused: the live page says so, the next page asks to sign in."""
    codec = SessionCodec(lambda: _session_key(gateway), ConsoleSettings())
    now = time.time()
    session = codec.loads(_cookie(context), now)
    assert session is not None and session.signed_in
    idle = ConsoleSettings().session_idle_minutes * 60
    stale = replace(session, began=now - idle - 120, seen=now - idle - 60)
    assert codec.loads(codec.dumps(stale), now) is None  # what the gateway will find
    _set_cookie(context, page, codec.dumps(stale))
    expect(page.locator("#signed-out")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url("/login?next=/")


def test_a_tampered_session_cookie_is_refused(page: Page, context: BrowserContext) -> None:
    value = _cookie(context)
    payload, _, signature = value.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    _set_cookie(context, page, forged)
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


@pytest.fixture(scope="module")
def evil(gateway: Server) -> Iterator[str]:
    """Another origin (same host, another port) whose page posts a form to the console's
    ``/logout`` as soon as it opens, as a cross-site request forgery would."""
    page = f"""<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="{gateway.url}/logout">
<input type="hidden" name="csrf" value="guessed"></form>
<script>document.getElementById("f").submit()</script>""".encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_form_from_another_site_is_refused(page: Page, evil: str) -> None:
    """The other port is the same site to the browser, so it sends the SameSite=Lax cookie:
    the console itself must refuse, and the user stays signed in."""
    with page.expect_response(lambda r: r.url.endswith("/logout")) as posted:
        page.goto(evil)
    assert posted.value.status == 403
    expect(page.get_by_text("This request came from another site and was refused.")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()


def test_a_form_without_the_sessions_token_is_refused(page: Page) -> None:
    page.locator("header form input[name=csrf]").evaluate("input => input.value = 'stale'")
    with page.expect_navigation() as went:
        page.get_by_role("button", name="Sign out").click()
    answer = went.value
    assert answer is not None and answer.status == 403
    expect(
        page.get_by_text("This form has expired: reload the page and try again.")
    ).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()


def _url(page: Page, path: str) -> str:
    origin = page.url.split("/", 3)[:3]
    return "/".join(origin) + path


def _cookie(context: BrowserContext) -> str:
    values = [c["value"] for c in context.cookies() if c["name"] == COOKIE]
    assert len(values) == 1, context.cookies()
    return values[0]


def _set_cookie(context: BrowserContext, page: Page, value: str) -> None:
    context.add_cookies([{"name": COOKIE, "value": value, "url": _url(page, "/")}])
    assert _cookie(context) == value


def _session_key(gateway: Server) -> str:
    with sqlite3.connect(gateway.data_dir / "faxout.db") as db:
        row = db.execute(
            "SELECT value FROM server_secrets WHERE name = ?", (SESSION_KEY,)
        ).fetchone()
    assert row, "the gateway has no session key yet"
    return str(row[0])
