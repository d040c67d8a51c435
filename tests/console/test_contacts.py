"""The address book in a browser: contacts added, a group made of them, a fax sent to it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import DELIVERY_MS, shot

CONTACTS = [
    ("Grace Hopper", "650 555 0121", "Navy Labs"),
    ("Alan Turing", "+1 650 555 0122", "Bletchley"),
]


def _add_contact(page: Page, name: str, number: str, company: str) -> None:
    page.goto("/contacts")
    with page.expect_navigation():
        page.get_by_role("link", name="Add a contact").first.click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Fax number").fill(number)
    page.get_by_label("Company").fill(company)
    with page.expect_navigation():
        page.get_by_role("button", name="Add the contact").click()
    expect(page.get_by_role("status")).to_have_text(f"Added {name}.")


@pytest.mark.slow
def test_contacts_made_into_a_group_get_one_fax(page: Page) -> None:
    for contact in CONTACTS:
        _add_contact(page, *contact)
    rows = page.locator("table.contacts tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Grace Hopper")).to_contain_text("Navy Labs")

    page.get_by_label("New group").fill("Clients")
    with page.expect_navigation():
        page.get_by_role("button", name="Create the group").click()
    expect(page.get_by_role("status")).to_have_text("Created the group Clients.")
    expect(page.get_by_role("heading", name="Clients", level=1)).to_be_visible()
    for name, _, _ in CONTACTS:
        page.get_by_label(f"Tick {name}").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Add the ticked to the group").click()
    expect(page.get_by_role("status")).to_have_text("2 contacts added to the group.")
    expect(page.get_by_text("2 contacts.")).to_be_visible()

    page.get_by_role("link", name="Address book").first.click()
    expect(page.locator("table.groups tbody tr", has_text="Clients")).to_contain_text("2 contacts")
    shot(page, "contacts")

    with page.expect_navigation():
        page.get_by_role("link", name="Send a fax to the group Clients").click()
    recipients = page.get_by_label("Fax numbers")
    expect(recipients).to_have_value(re.compile("Grace Hopper"))
    expect(recipients).to_have_value(re.compile("Alan Turing"))
    checks = page.locator("#number-checks li.ok")
    expect(checks).to_have_count(2)
    page.get_by_label("Choose documents").set_input_files(
        {"name": "group-letter.txt", "mimeType": "text/plain", "buffer": b"To the clients.\n"}
    )
    page.get_by_role("combobox", name="Cover page").select_option("None")
    page.get_by_role("button", name="Send fax").click()
    page.wait_for_url("**/faxes/*", timeout=60_000)
    page.goto("/")
    row = page.locator("#outbox-rows tr", has_text="group-letter.txt")
    expect(row.locator("li[data-recipient]")).to_have_count(2)
    expect(row.locator("li[data-recipient]", has_text="Grace Hopper")).to_contain_text(
        "650-555-0121"
    )
    expect(row.locator("li[data-recipient] .badge")).to_have_text(
        ["Delivered", "Delivered"], timeout=DELIVERY_MS
    )
