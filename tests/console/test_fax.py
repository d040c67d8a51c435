"""A fax's page in a browser: followed live, its pages as sent, cancel, retry and resend."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, Route, expect

from tests.console.conftest import DELIVERY_MS, images_loaded, shot, submit
from tests.server import Server

VOICE = "+15557770003"  # the simulated line's number where a person answers: the fax fails


def _open(page: Page, filename: str) -> None:
    """Open the fax of ``filename`` from the outbox."""
    page.goto("/")
    row = page.locator("#outbox-rows tr", has_text=filename)
    with page.expect_navigation():
        row.locator("a.faxlink").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Fax \d+$"))).to_be_visible()


def _press(page: Page, button: str) -> str:
    """Press a form's ``button`` and return the message the next page opened with. It is
    read from the page as served: the page may reload itself a moment later (its pages
    rendered, the fax ended), and the message is shown once."""
    with page.expect_navigation() as went:
        page.get_by_role("button", name=button).click()
    answer = went.value
    assert answer is not None and answer.ok, answer
    said = re.search(r'<div class="flash ok" role="status">([^<]*)</div>', answer.text())
    assert said, "the page did not say what was done"
    return html.unescape(said.group(1))


def _settled(page: Page) -> None:
    """Wait until the page has reloaded itself for the last time: once the fax has ended (its
    reports sent) the live part stops following and the page shows everything."""
    expect(page.locator("#fax-live:not([data-live])")).to_have_count(1, timeout=DELIVERY_MS)


@pytest.mark.slow
def test_a_fax_page_follows_the_calls_and_shows_the_pages_sent(page: Page, gateway: Server) -> None:
    submit(
        gateway,
        ["+16505550131|Front desk", "+16505550132|Back office"],
        "fax-page-letter.txt",
        "First page.\n" * 20 + "\f" + "Second page.\n" * 20,
    )
    _open(page, "fax-page-letter.txt")
    states = page.locator("#fax-live article.recipient .rhead .badge")
    expect(states).to_have_text(["Delivered", "Delivered"], timeout=DELIVERY_MS)
    _settled(page)
    expect(page.locator("#fax-live [data-fax-state]")).to_have_text("Delivered")
    calls = page.locator("#fax-live table.attempts tbody tr")
    expect(calls).to_have_count(2)
    expect(calls.first).to_contain_text("3 of 3")  # the cover page and the two pages
    thumbs = page.locator("#thumbs a[data-page]")
    expect(thumbs).to_have_count(3)
    images_loaded(page, "#thumbs img")
    shot(page, "fax", phone=True, at="#pages")
    thumbs.nth(0).click()
    viewer = page.get_by_role("dialog")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".pv-title")).to_have_text("Page 1 of 3")
    viewer.get_by_role("button", name="Next page").click()
    expect(viewer.locator(".pv-title")).to_have_text("Page 2 of 3")
    images_loaded(page, "#page-viewer img[data-pv=img]")
    size = page.locator("#page-viewer img[data-pv=img]").evaluate("i => i.naturalWidth")
    assert size >= 1700, f"the page is not full size: {size} pixels wide"
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_be_hidden()


def test_a_scheduled_fax_can_be_canceled(page: Page) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    page.goto("/send")
    page.get_by_label("Choose documents").set_input_files(
        {"name": "for-later.txt", "mimeType": "text/plain", "buffer": b"Later, please.\n"}
    )
    page.get_by_label("Fax numbers").fill("+1 650 555 0141")
    page.get_by_label("Send at").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Time zone").select_option("UTC")
    with page.expect_navigation(url=re.compile(r"/faxes/\d+$"), timeout=60_000):
        page.get_by_role("button", name="Send fax").click()
    expect(page.locator("#fax-live article.recipient .rhead .badge")).to_have_text("Scheduled")
    # Rendered at once, it shows its pages (the page reloads itself for them) before it is sent.
    expect(page.locator("#thumbs a[data-page]")).to_have_count(2, timeout=DELIVERY_MS)  # + cover
    page.once("dialog", lambda dialog: dialog.accept())
    assert _press(page, "Cancel") == "Canceled for the recipient not yet dialled."
    expect(page.locator("#fax-live article.recipient .rhead .badge")).to_have_text("Canceled")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)


def test_a_live_answer_that_arrives_while_cancel_is_on_its_way_does_not_abort_it(
    page: Page,
) -> None:
    """The live part asks for changes while the user presses Cancel; its answer (the fax now
    canceled, so final) arrives before the Cancel's own page. The page must not reload itself
    then: the reload would abort the Cancel's navigation and lose its message."""
    later = datetime.now(UTC) + timedelta(hours=1)
    page.goto("/send")
    page.get_by_label("Choose documents").set_input_files(
        {"name": "race-cancel.txt", "mimeType": "text/plain", "buffer": b"Later.\n"}
    )
    page.get_by_label("Fax numbers").fill("+1 650 555 0142")
    page.get_by_label("Send at").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Time zone").select_option("UTC")
    with page.expect_navigation(url=re.compile(r"/faxes/\d+$"), timeout=60_000):
        page.get_by_role("button", name="Send fax").click()
    expect(page.locator("#thumbs a[data-page]")).to_have_count(2, timeout=DELIVERY_MS)
    held: list[Route] = []

    def cancel_then_answer_the_live_part_first(route: Route) -> None:
        canceled = route.fetch()  # the server cancels
        for live in held:
            live.fulfill(response=live.fetch())  # the canceled, final live part
        route.fulfill(response=canceled)

    page.route(re.compile(r"/cancel$"), cancel_then_answer_the_live_part_first)
    with page.expect_request(re.compile(r"/faxes/\d+/live")):
        page.route(re.compile(r"/faxes/\d+/live"), lambda route: held.append(route))  # unanswered
    page.once("dialog", lambda dialog: dialog.accept())
    assert _press(page, "Cancel") == "Canceled for the recipient not yet dialled."
    expect(page.locator("#fax-live article.recipient .rhead .badge")).to_have_text("Canceled")


@pytest.mark.slow
def test_a_failed_recipient_is_retried(page: Page, gateway: Server) -> None:
    submit(gateway, [f"{VOICE}|Reception"], "retry-me.txt", "Try again.\n", Coverpage="None")
    _open(page, "retry-me.txt")
    state = page.locator("#fax-live article.recipient .rhead .badge")
    expect(state).to_have_text("Failed", timeout=DELIVERY_MS)
    _settled(page)
    calls = page.locator("#fax-live table.attempts tbody tr")
    expect(calls).to_have_count(1)
    assert _press(page, "Retry") == "The recipient is retried now."
    expect(calls).to_have_count(2, timeout=DELIVERY_MS)  # a second call
    expect(state).to_have_text("Failed", timeout=DELIVERY_MS)
    _settled(page)


def test_a_fax_is_resent_to_another_number(page: Page, gateway: Server) -> None:
    submit(gateway, ["+16505550151"], "resend-me.txt", "Once more.\n", Coverpage="None")
    _open(page, "resend-me.txt")
    _settled(page)
    page.get_by_role("textbox", name="Recipients").fill("+1 650 555 0152|Second office")
    first = page.url.rsplit("/", 1)[1]
    said = _press(page, "Send as a new fax")
    second = page.url.rsplit("/", 1)[1]
    assert second != first and said == f"Fax {second} was made from fax {first}."
    recipient = page.locator("#fax-live article.recipient")
    expect(recipient).to_have_count(1)
    expect(recipient.locator("h3")).to_contain_text("Second office")
