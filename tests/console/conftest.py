"""The console in a real browser: Debian's Chromium driven by Playwright.

One ``faxout serve`` per pytest process (the embedded pipeline on the simulated line, so faxes
really render, dial and arrive: starting one takes 10 to 40 seconds, so the modules share it and
tell their faxes apart by their documents' names) and one headless Chromium per module (the
sync API keeps an event loop running while it is open, which the next module's tests must not
find); each test a fresh browser context (its own cookies), usually signed in. Screenshots are written to ``docs/screenshots/`` only when
``FAXOUT_SCREENSHOTS=1`` (docs/screenshots/README.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.server import ROOT, Server, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # else it keeps calling out to a network that is closed
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = ROOT / "docs" / "screenshots"
USER, PASSWORD, NAME = "16505551234", "console password", "Ada Lovelace"
WAIT_MS = 5_000  # a page's answer, a poll or two
DELIVERY_MS = 120_000  # a fax rendered, dialled and confirmed on the simulated line


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A gateway with its workers and the simulated line, and an account ``USER``. Live pages
    ask for changes twice a second, and account rows are not cached (an operator's unlock
    applies at once rather than within ``auth.account_cache_seconds``), so the tests see
    changes without waiting."""
    with running_server(
        tmp_path_factory.mktemp("console"),
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_CONSOLE__LIVE_POLL_SECONDS="0.5",
        FAXOUT_AUTH__ACCOUNT_CACHE_SECONDS="0",
    ) as server:
        server.add_user(USER, PASSWORD, "--name", NAME, "--email", "ada@example.com")
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module (Playwright gives it a fresh profile)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make setup-test` installs it (scripts/setup.sh installs "
            "the packages of deps/apt-test.txt, chromium among them)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@contextlib.contextmanager
def browsing(browser: Browser, gateway: Server) -> Iterator[BrowserContext]:
    """A fresh browser context (no cookies) on the gateway, desktop-sized. A script error on
    any of its pages fails the test."""
    made = browser.new_context(base_url=gateway.url, viewport=DESKTOP, locale="en-US")
    made.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    made.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        yield made
    finally:
        made.close()
    assert not errors, f"script errors on the console's pages: {errors}"


@pytest.fixture
def context(browser: Browser, gateway: Server) -> Iterator[BrowserContext]:
    """The test's browser context (``browsing``)."""
    with browsing(browser, gateway) as made:
        yield made


@pytest.fixture
def anonymous(context: BrowserContext) -> Page:
    """A page that has not signed in."""
    return context.new_page()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page signed in as ``USER``, on the outbox."""
    made = context.new_page()
    sign_in(made, USER, PASSWORD)
    expect(made.get_by_role("heading", name="Outbox")).to_be_visible()
    return made


def sign_in(page: Page, user: str, password: str) -> None:
    """Sign in through the form, as a person would, and wait for the next page."""
    if "/login" not in page.url:
        page.goto("/login")
    page.get_by_label("Fax number").fill(user)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def shot(page: Page, name: str, *, phone: bool = False, at: str = "") -> None:
    """With ``FAXOUT_SCREENSHOTS=1``, save the page as ``docs/screenshots/<name>.png``
    (1280×800) and, with ``phone``, ``<name>-phone.png`` (390×844) too; ``at`` names an
    element to scroll to the top first (else the page is shown where it is)."""
    if os.environ.get("FAXOUT_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sizes = [(name, DESKTOP), (f"{name}-phone", PHONE)] if phone else [(name, DESKTOP)]
    try:
        for file, size in sizes:
            page.set_viewport_size(size)
            if at:
                page.locator(at).evaluate("e => e.scrollIntoView({block: 'start'})")
            page.screenshot(path=SCREENSHOTS / f"{file}.png", animations="disabled", caret="hide")
    finally:
        page.set_viewport_size(DESKTOP)


def images_loaded(page: Page, selector: str) -> None:
    """Wait until every image of ``selector`` has been drawn (none is a broken picture)."""
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)",
        arg=selector,
    )


def submit(
    gateway: Server,
    recipients: list[str],
    filename: str,
    text: str,
    *,
    user: str = USER,
    password: str = PASSWORD,
    **extra: str,
) -> None:
    """Send a text document to ``recipients`` (``number|name``) through ``/faxapi.asp``, as
    FaxOut clients do."""
    answer = httpx.post(
        gateway.url + "/faxapi.asp",
        data={"Username": user, "Password": password, "Recipient": recipients, **extra},
        files={"Attachment": (filename, text.encode())},
        timeout=60,
    )
    assert answer.text == "0", answer.text
