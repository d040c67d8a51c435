"""Admin in a browser: an operator makes an account and unlocks it after too many wrong
passwords; a sender cannot open the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import browsing, shot, sign_in
from tests.server import Server

OPERATOR, OPERATOR_PASSWORD = "16505559000", "operator password"
CLERK, CLERK_PASSWORD = "16505559001", "clerk password"
THROTTLE = 10  # failed sign-ins that lock a number from one address (auth.throttle_*)


@pytest.fixture(scope="module")
def operator_account(gateway: Server) -> str:
    gateway.add_user(
        OPERATOR, OPERATOR_PASSWORD, "--name", "Olive Operator", "--email", "op@example.com",
        "--operator",
    )  # fmt: skip
    return OPERATOR


@pytest.fixture
def operator(browser: Browser, gateway: Server, operator_account: str) -> Iterator[Page]:
    """A second browser context, signed in as the operator."""
    with browsing(browser, gateway) as made:
        page = made.new_page()
        sign_in(page, operator_account, OPERATOR_PASSWORD)
        expect(page.get_by_role("link", name="Admin")).to_be_visible()
        yield page


def test_an_operator_unlocks_an_account_throttled_by_wrong_passwords(
    operator: Page, anonymous: Page
) -> None:
    operator.get_by_role("link", name="Admin").click()
    expect(operator.get_by_role("heading", name="Admin", level=1)).to_be_visible()
    with operator.expect_navigation():
        operator.get_by_role("link", name="Accounts").click()
    operator.get_by_label("Fax number").fill(CLERK)
    operator.get_by_label("Name").fill("Carl Clerk")
    operator.get_by_label("Email for delivery reports").fill("clerk@example.com")
    operator.get_by_label("Password", exact=True).fill(CLERK_PASSWORD)
    operator.get_by_label("Password again").fill(CLERK_PASSWORD)
    with operator.expect_navigation():
        operator.get_by_role("button", name="Create the account").click()
    expect(operator.get_by_role("status")).to_contain_text("created")

    for _ in range(THROTTLE):
        sign_in(anonymous, CLERK, "wrong password")
        expect(anonymous.get_by_role("alert")).to_be_visible()
    sign_in(anonymous, CLERK, CLERK_PASSWORD)
    expect(anonymous.get_by_role("alert")).to_contain_text("Too many failed sign-ins")

    operator.goto("/admin")
    locked = operator.locator("tr", has_text="650-555-9001")
    expect(locked).to_be_visible()
    shot(operator, "admin", at="section[aria-labelledby=locks-h]")
    with operator.expect_navigation():
        locked.get_by_role("button", name="Unlock").click()
    expect(operator.get_by_role("status")).to_have_text(
        f"{CLERK} may sign in again from 127.0.0.1 (every server within seconds)."
    )
    expect(operator.locator("tr", has_text="650-555-9001")).to_have_count(0)

    sign_in(anonymous, CLERK, CLERK_PASSWORD)
    expect(anonymous.get_by_role("heading", name="Outbox")).to_be_visible()
    expect(anonymous.locator("header .account")).to_have_text("Carl Clerk")


def test_a_sender_cannot_open_admin(page: Page) -> None:
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    answer = page.goto("/admin")
    assert answer is not None and answer.status == 403
    expect(page.get_by_text("Only an operator may open this page.")).to_be_visible()
