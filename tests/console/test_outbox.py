"""The outbox in a browser: a fax sent by a FaxOut client shows up and is followed to the end
without reloading the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import DELIVERY_MS, shot, submit
from tests.server import Server


@pytest.mark.slow
def test_a_fax_to_two_recipients_is_followed_to_delivered_without_a_reload(
    page: Page, gateway: Server
) -> None:
    page.evaluate("window.__marker = 1")
    submit(
        gateway,
        ["+1 650 555 0101|Front desk", "+16505550102"],
        "quarterly-report.txt",
        "The quarterly report.\n" * 30,
    )
    row = page.locator("#outbox-rows tr", has_text="quarterly-report.txt")
    expect(row).to_be_visible()  # the live rows brought it in
    recipients = row.locator("li[data-recipient]")
    expect(recipients).to_have_count(2)
    expect(recipients.nth(0)).to_contain_text("Front desk")
    expect(recipients.nth(1)).to_contain_text("650")
    expect(recipients.locator(".badge")).to_have_text(
        ["Delivered", "Delivered"], timeout=DELIVERY_MS
    )
    expect(row.locator("td.state .badge")).to_have_text("Delivered")
    assert page.evaluate("window.__marker") == 1, "the outbox reloaded to show the changes"
    shot(page, "outbox", phone=True)


def test_the_search_finds_a_fax_by_a_recipients_name(page: Page, gateway: Server) -> None:
    submit(gateway, ["+16505550103|Acme Billing"], "search-invoice-17.txt", "Invoice 17\n")
    submit(gateway, ["+16505550104|Someone Else"], "search-letter.txt", "A letter\n")
    expect(page.locator("#outbox-rows tr", has_text="search-letter.txt")).to_be_visible()
    page.get_by_label("Search").fill("Acme")
    with page.expect_navigation():
        page.get_by_role("button", name="Find").click()
    rows = page.locator("#outbox-rows tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("search-invoice-17.txt")
    with page.expect_navigation():
        page.get_by_role("link", name="Clear").click()
    expect(page.locator("#outbox-rows tr", has_text="search-letter.txt")).to_be_visible()


def test_every_page_of_the_menu_opens(page: Page) -> None:
    """Each link of the top bar opens its page, marked as the current one, with no script
    error (the context fixture checks) and no page refused by its own CSP."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    menu = page.get_by_role("navigation", name="Main")
    for link, heading in [
        ("Send", "Send a fax"),
        ("Address book", "Address book"),
        ("Outbox", "Outbox"),
    ]:
        with page.expect_navigation():
            menu.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(menu.get_by_role("link", name=link)).to_have_attribute("aria-current", "page")
    assert not refused, refused
