"""The report's words and parts for every outcome, privacy mode, and hostile values."""

from __future__ import annotations

import io
import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import markupsafe
import pypdfium2
import pytest
from PIL import Image
from sqlalchemy import Engine

from faxout.clock import FrozenClock
from faxout.report.compose import BadAddressError, Composed, checked_address
from faxout.report.settings import AccountReport, Report
from faxout.report.wording import one_line
from tests.report.conftest import HOSTILE_FILE, HOSTILE_NAME, NAMED_FILE, World, make_outbox


def _compose(
    db: Engine, world: World, clock: FrozenClock, key: str, settings: Report | None = None
) -> Composed:
    composed = make_outbox(db, world, clock, settings=settings).compose_for(world.sids[key])
    assert composed is not None
    return composed


def _parse(composed: Composed) -> EmailMessage:
    msg = message_from_bytes(composed.as_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _types(msg: EmailMessage) -> list[str]:
    return [p.get_content_type() for p in msg.walk()]


def _html(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(
    ("key", "subject", "words"),
    [
        (
            "delivered",
            "Fax to 5550101: delivered (2 pages)",
            [
                "Your fax was delivered",
                "All 2 pages confirmed by the receiving machine.",
                "Pages:             2 of 2 confirmed",
                "Time:              2026-03-02 09:00 UTC, 42 s on the line",
                "Remote fax (CSID): +1 555 0101",
                "Connection:        V.17 at 14400 bit/s, ECM on, MMR",
                "Attempts:          1 dial, 1 try",
                f"1. {NAMED_FILE} (50 bytes)",
                "Cover page: default",
                "Pages: 1 page + cover page",
                "recipient 'Bob <no number>' left out: not a phone number",
            ],
        ),
        (
            "mixed",
            "Fax to 2 recipients: 1 delivered, 1 failed",
            [
                "Your fax was delivered to some recipients",
                "5550201 (Alice): Delivered",
                "5550202 (Bob): Failed",
                "The receiving fax machine refused the fax.",
                "the receiving machine refused the fax, 0 of 1 page confirmed, "
                "T.30 code 9: scripted",
            ],
        ),
        (
            "failed",
            "Fax to 5550301: failed",
            [
                "Your fax was not delivered",
                "The number did not answer as a fax machine.",
                "Attempts: 2 dials, 0 tries",
                "1. 2026-03-02 09:00 UTC: line busy",
                "2. 2026-03-02 09:03 UTC: answered, but not by a fax machine",
                "T.30 code 2",
            ],
        ),
        (
            "interrupted",
            "Fax to 5550401: may or may not have been delivered",
            [
                "5550401 (Dave): May or may not have been delivered",
                "nobody knows whether it arrived",
                "Check with the recipient before sending it again.",
                "interrupted: the outcome is unknown",
            ],
        ),
        (
            "canceled",
            "Fax to 5550501: canceled",
            ["Your fax was canceled", "5550501 (Erin): Canceled", "Canceled by the operator."],
        ),
    ],
)
def test_each_outcome_in_plain_words(
    db: Engine, world: World, clock: FrozenClock, key: str, subject: str, words: list[str]
) -> None:
    msg = _parse(_compose(db, world, clock, key))
    assert msg["Subject"] == subject
    text, html = _text(msg), _html(msg)
    for phrase in words:
        assert phrase in text
        first = re.sub(r"^\d+\. ", "", phrase.split(":")[0].split("(")[0]).strip()
        assert str(markupsafe.escape(first)) in html


def test_headers_of_every_report(db: Engine, world: World, clock: FrozenClock) -> None:
    msg = _parse(_compose(db, world, clock, "delivered"))
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Faxout-Submission"] == str(world.sids["delivered"])
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@gw.example.com>")
    assert msg["From"] == "Fax gateway <fax@gw.example.com>"
    assert msg["To"] == "Sender <s@example.com>"
    assert msg["Date"]


def test_delivered_has_page_one_inline_and_no_pdf(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    msg = _parse(_compose(db, world, clock, "delivered"))
    assert _types(msg) == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    png = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert f'src="cid:{png["Content-ID"][1:-1]}"' in _html(msg)
    image = Image.open(io.BytesIO(png.get_content()))
    # The cover page, 300 px wide; fax rows are twice as tall at 98 lpi: a letter-shaped page.
    assert image.width == 300 and 1.2 < image.height / image.width < 1.5
    assert "Page 1 as sent to 5550101" in _html(msg)


@pytest.mark.parametrize("key", ["mixed", "failed", "interrupted"])
def test_failure_attaches_the_fax_as_pdf(
    db: Engine, world: World, clock: FrozenClock, key: str
) -> None:
    msg = _parse(_compose(db, world, clock, key))
    pdf = next(p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf")
    assert pdf.get_filename() == f"fax-{world.sids[key]}.pdf"
    assert f"Attached: fax-{world.sids[key]}.pdf, the fax pages as they were sent" in _text(msg)
    doc = pypdfium2.PdfDocument(pdf.get_content())
    try:
        assert len(doc) == 1
        width, height = doc[0].get_size()
        assert 600 < width < 630 and 1.2 < height / width < 1.4  # 8.5 in wide, letter-shaped
    finally:
        doc.close()


def test_canceled_carries_no_images(db: Engine, world: World, clock: FrozenClock) -> None:
    msg = _parse(_compose(db, world, clock, "canceled"))
    assert _types(msg) == ["multipart/alternative", "text/plain", "text/html"]


def test_rejected_names_the_document_and_why(db: Engine, world: World, clock: FrozenClock) -> None:
    msg = _parse(_compose(db, world, clock, "rejected"))
    assert msg["Subject"] == "Fax to 5550601 not sent: a document could not be converted"
    assert msg["X-Faxout-Report"] == "rejected"
    text = _text(msg)
    assert "Your fax was not sent" in text
    problem = next(line for line in text.splitlines() if line.startswith("Problem: "))
    assert one_line(HOSTILE_FILE) in problem and "could not be rendered: corrupt" in problem
    assert "Nothing was dialled" in text
    assert _types(msg) == ["multipart/alternative", "text/plain", "text/html"]


@pytest.mark.parametrize("key", ["delivered", "mixed", "rejected"])
def test_privacy_mode_leaves_out_images_names_and_file_names(
    db: Engine, world: World, clock: FrozenClock, key: str
) -> None:
    settings = Report(
        from_address="fax@gw.example.com", accounts={"15550001234": AccountReport(privacy=True)}
    )
    composed = _compose(db, world, clock, key, settings)
    raw = composed.as_bytes()
    msg = _parse(composed)
    assert not {"image/png", "application/pdf"} & set(_types(msg))
    readable = _text(msg) + _html(msg) + str(msg["To"]) + str(msg["Subject"])
    for secret in ("Lovelace", "Alice", "Bob", "Eve", "Quarterly", "note.txt", "evil", "Sender"):
        assert secret not in readable
        assert secret.encode() not in raw
    assert "document 1" in _text(msg)
    # The facts stay: numbers, outcome, pages.
    assert "55501" in _text(msg) or "55502" in _text(msg) or "55506" in _text(msg)


def test_privacy_redacts_quoted_values_in_notes(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    msg = _parse(_compose(db, world, clock, "delivered", Report(privacy=True)))
    assert "recipient [hidden] left out: not a phone number" in _text(msg)


def test_hostile_names_and_file_names_stay_in_the_body(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    composed = _compose(db, world, clock, "hostile")
    raw = composed.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if not line[:1].isspace()]
    assert names == [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "X-Auto-Response-Suppress",
        "X-Faxout-Submission",
        "X-Faxout-Report",
        "MIME-Version",
        "Content-Type",
    ]
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\nBcc" not in raw and b"\rBcc" not in raw
    msg = _parse(composed)
    assert msg["Bcc"] is None
    assert msg["To"].addresses[0].addr_spec == "mallory@example.com"
    assert msg["To"].addresses[0].display_name == "Mallory Bcc: x@example.com"
    html = _html(msg)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;.pdf.txt" in html and "<b>.pdf" not in html
    assert one_line(HOSTILE_NAME) in _text(msg)


def test_hostile_names_in_a_rejection(db: Engine, world: World, clock: FrozenClock) -> None:
    msg = _parse(_compose(db, world, clock, "rejected"))
    assert msg["Bcc"] is None
    assert "<script>" not in _html(msg) and "<b>" not in _html(msg)


@pytest.mark.parametrize(
    "address",
    ["", "nobody", "a@b\r\nBcc: c@d", "a b@c", "<a@b>", "a@b.c\n", "a@-b", "a@b@c"],
)
def test_unusable_addresses_are_refused(address: str) -> None:
    with pytest.raises(BadAddressError):
        checked_address(address, "x")


def test_notice_says_when_the_next_attempt_is(db: Engine, world: World, clock: FrozenClock) -> None:
    outbox = make_outbox(db, world, clock, settings=Report(attempt_notices=True))
    assert outbox.sweep(clock.now()) >= 1
    job = next(j for j in outbox.compose_for(world.sids["retrying"]).model.recipients)  # type: ignore[union-attr]
    assert job.outcome == "In progress"
    outbox.deliver_pending(clock.now())
    sent = outbox.mailer.sent  # type: ignore[attr-defined]
    notice = next(e for e in sent if b"X-Faxout-Report: notice" in e.message)
    msg = message_from_bytes(notice.message, policy=policy.default)
    assert msg["Subject"] == "Fax to 5550801: line busy, will retry at 09:06 UTC"
    assert "Attempt 1: line busy. The gateway will retry at 09:06 UTC." in _text(msg)  # type: ignore[arg-type]


# What converters, libraries and faxout's own internals print; a sender must never read it.
RAW_OUTPUT = (
    "****",
    "Error:",
    "Traceback",
    "Exception",
    "Ghostscript",
    "soffice",
    "libtiff",
    "spandsp",
    "/job/",
    "/tmp/",
    "001-",
    "document.tif",
    "errno",
)


@pytest.mark.parametrize(
    "key",
    ["delivered", "mixed", "failed", "interrupted", "canceled", "rejected", "hostile", "retrying"],
)
def test_no_report_shows_raw_tool_output_or_internal_names(
    db: Engine, world: World, clock: FrozenClock, key: str
) -> None:
    msg = _parse(_compose(db, world, clock, key))
    for body in (_text(msg), _html(msg), str(msg["Subject"])):
        for raw in RAW_OUTPUT:
            assert raw not in body, (key, raw)
