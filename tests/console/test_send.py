"""The Send page in a browser: a document chosen (as a drop would add it), two recipients
checked as typed, the pages previewed, the fax sent and followed on its page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import DELIVERY_MS, images_loaded, shot

MEMO = ("A memo for the send page's test.\n" * 40).encode()


@pytest.mark.slow
def test_a_fax_sent_from_the_send_page_reaches_both_recipients(page: Page) -> None:
    page.get_by_role("link", name="Send a fax").click()
    expect(page.get_by_role("heading", name="Send a fax")).to_be_visible()
    page.get_by_label("Choose documents").set_input_files(
        {"name": "send-page-memo.txt", "mimeType": "text/plain", "buffer": MEMO}
    )
    expect(page.locator("#file-list li")).to_have_count(1)
    expect(page.locator("#file-list")).to_contain_text("send-page-memo.txt")
    page.get_by_label("Fax numbers").fill("Front desk <650 555 0111>\n+1 (650) 555-0112")
    checks = page.locator("#number-checks li")
    expect(checks).to_have_count(2)
    expect(checks.nth(0)).to_contain_text("+1 650-555-0111 · Front desk")
    expect(checks.nth(1)).to_contain_text("+1 650-555-0112")
    page.get_by_role("button", name="Preview pages").click()
    thumbs = page.locator("#thumbs img")
    expect(thumbs.first).to_be_visible(timeout=60_000)
    expect(page.locator("#pages-status")).to_contain_text(re.compile(r"\d+ pages?"))
    images_loaded(page, "#thumbs img")
    expect(page.locator("#cover-status")).to_have_text("Cover page preview", timeout=60_000)
    images_loaded(page, "#cover-image")
    shot(page, "send", at="body")
    shot(page, "send-preview", at="#pages-preview")
    page.get_by_role("button", name="Page 1, full size").click()
    expect(page.locator("#page-dialog")).to_be_visible()
    images_loaded(page, "#page-full")
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#page-dialog")).to_be_hidden()
    with page.expect_navigation(url=re.compile(r"/faxes/\d+$"), timeout=60_000):
        page.get_by_role("button", name="Send fax").click()
    badges = page.locator("#fax-live article.recipient .rhead .badge")
    expect(badges).to_have_text(["Delivered", "Delivered"], timeout=DELIVERY_MS)


def test_a_number_that_cannot_be_dialled_is_shown_as_typed(page: Page) -> None:
    page.goto("/send")
    page.get_by_label("Fax numbers").fill("+1 650 555 0113\nnot a number")
    checks = page.locator("#number-checks li")
    expect(checks).to_have_count(2)
    expect(checks.nth(0)).to_have_class("ok")
    expect(checks.nth(1)).to_have_class("bad")
    expect(checks.nth(1)).to_contain_text("not a number")
