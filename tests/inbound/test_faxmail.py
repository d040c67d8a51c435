"""Fax-to-email: a received fax reaches its inbox's addresses through a real SMTP relay
(aiosmtpd, STARTTLS, AUTH) as a PDF whose pages keep their size, with a page-1 preview; never
an empty mail, whatever went wrong."""

from __future__ import annotations

import io
import itertools
import subprocess
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pypdfium2
import pytest
import trustme
from PIL import Image, ImageDraw
from sqlalchemy import Engine, select

from faxout.accounts.repo import AccountRepo
from faxout.blobs.local import LocalBlobStore
from faxout.clock import FrozenClock
from faxout.db.tables import inbound_mails
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.model import IncomingCall, ReceptionFacts
from faxout.inbound.settings import Inbound
from faxout.inbound.store import InboundStore
from faxout.report.inboundmail import InboundMailbox
from faxout.report.mailer import MemoryMailer, Permanent, SmtpMailer, Temporary
from faxout.report.settings import Report, Smtp
from tests.inbound.faxfiles import fax_tiff
from tests.report.relay import PASSWORD, USER, Relay, write_ca

CALL = IncomingCall("sip", "call-1", "+16505550100", "Dr Smith", "+16505559999")
FACTS = ReceptionFacts(
    pages=3, complete=True, csid="Smith Clinic", bit_rate=14400, ecm=True, line_seconds=71.4
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def relay(ca: trustme.CA) -> Iterator[Relay]:
    r = Relay(ca).start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def settings(ca: trustme.CA, tmp_path: Path, relay: Relay) -> Report:
    return Report(
        from_address="fax@gw.example.com",
        smtp=Smtp(
            host="127.0.0.1",
            port=relay.port,
            username=USER,
            password=PASSWORD,
            timeout=10,
            ca_file=write_ca(ca, tmp_path),
        ),
    )


@pytest.fixture
def mailbox(
    engine: Engine, blobs: LocalBlobStore, clock: FrozenClock, settings: Report
) -> InboundMailbox:
    return InboundMailbox(
        engine,
        blobs,
        settings,
        SmtpMailer(settings.smtp),
        clock=clock,
        console_url="https://fax.example.com/",
    )


def _parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _attachments(msg: EmailMessage) -> dict[str, tuple[str, bytes]]:
    found = {}
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[str(part.get_filename())] = (part.get_content_type(), payload)
    return found


def _inline_png(msg: EmailMessage) -> Image.Image | None:
    for part in msg.walk():
        if part.get_content_type() == "image/png":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return Image.open(io.BytesIO(payload))
    return None


def _mixed_tiff(path: Path) -> Path:
    """Three pages as a real sender makes them: a full page, a short slip, a page at 98 lpi."""
    pages = [((1728, 2200), (204, 196)), ((1728, 700), (204, 196)), ((1728, 1100), (204, 98))]
    images = []
    for n, (size, _dpi) in enumerate(pages, 1):
        image = Image.new("1", size, 1)
        draw = ImageDraw.Draw(image)
        for bar in range(n):
            draw.rectangle((100 + bar * 120, 100, 180 + bar * 120, size[1] - 100), fill=0)
        images.append(image)
    # Pillow writes one resolution for every frame of a file: join single pages with tiffcp
    parts = []
    for n, (image, (_size, dpi)) in enumerate(zip(images, pages, strict=True)):
        part = path.with_name(f"part{n}.tif")
        image.save(part, compression="group4", dpi=dpi)
        parts.append(str(part))
    subprocess.run(["tiffcp", *parts, str(path)], check=True)
    return path


def _row(engine: Engine, inbound_id: int) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(
            select(inbound_mails).where(inbound_mails.c.inbound_id == inbound_id)
        ).one()
    return dict(row._mapping)


def _owned_inbox(store: InboundStore, engine: Engine, email: str = "") -> int:
    account = AccountRepo(engine).add(
        "16505559999", email="owner@clinic.example", password_hash="x", now=store.clock.now()
    )
    inbox = store.inboxes.for_account(account.id)
    if email:
        store.inboxes.configure(inbox.id, email=email)
    store.inboxes.add_rule(inbox.id, called="+1 650 555 9999")
    return inbox.id


def test_a_received_fax_arrives_as_a_pdf_with_every_page_at_its_size(
    engine: Engine,
    store: InboundStore,
    mailbox: InboundMailbox,
    relay: Relay,
    tmp_path: Path,
) -> None:
    _owned_inbox(store, engine, "front@clinic.example, dr.smith@clinic.example")
    fax = store.ingest(CALL, _mixed_tiff(tmp_path / "in.tif"), FACTS)
    assert fax is not None

    done = mailbox.deliver_pending(store.clock.now())
    assert (done.sent, done.failed, done.deferred) == (1, 0, 0)
    [got] = relay.received
    assert sorted(got.rcpt_tos) == ["dr.smith@clinic.example", "front@clinic.example"]
    assert got.tls and got.authenticated
    msg = _parse(got.data)
    assert msg["Subject"] == "Fax from Dr Smith (+1 650-555-0100), 3 pages"
    text = msg.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "Smith Clinic" in body and "14,400 bit/s, ECM" in body and "1 min 11 s" in body
    assert f"fax-{fax.id}.pdf" in body

    [(name, (ctype, data))] = _attachments(msg).items()
    assert (name, ctype) == (f"fax-{fax.id}.pdf", "application/pdf")
    pdf = pypdfium2.PdfDocument(data)
    sizes = [tuple(round(v, 1) for v in pdf[i].get_size()) for i in range(len(pdf))]
    # points = pixels / dpi * 72: the slip stays a slip, the 98-lpi page keeps its height
    assert sizes == [(609.9, 808.2), (609.9, 257.1), (609.9, 808.2)]
    for i in range(3):  # every page whole: page n carries n bars, none cut off
        page = pdf[i].render(scale=0.5).to_pil().convert("L")
        y = page.height // 2
        line = [int(page.getpixel((x, y)) or 0) for x in range(page.width)]  # type: ignore[arg-type]
        bars = sum(1 for a, b in itertools.pairwise(line) if a > 128 >= b)
        assert bars == i + 1
    preview = _inline_png(msg)
    assert preview is not None and preview.width == 600
    assert _row(engine, fax.id)["state"] == "sent"
    assert mailbox.deliver_pending(store.clock.now()).sent == 0  # once


def test_an_image_that_will_not_convert_is_mailed_as_the_original_tiff(
    engine: Engine,
    store: InboundStore,
    blobs: LocalBlobStore,
    mailbox: InboundMailbox,
    relay: Relay,
    tmp_path: Path,
) -> None:
    fax = store.ingest(CALL, fax_tiff(tmp_path / "in.tif", 2), FACTS)
    assert fax is not None and fax.blob_key is not None
    store.inboxes.configure(fax.inbox_id, email="desk@example.com")
    # the stored image loses its strips (a damaged disk, an encoding Pillow cannot decode)
    stored = blobs.path_for(fax.blob_key)
    original = stored.read_bytes()
    stored.chmod(0o600)
    stored.write_bytes(original[:400])

    assert mailbox.deliver_pending(store.clock.now()).sent == 1
    msg = _parse(relay.received[0].data)
    attachments = _attachments(msg)
    assert attachments == {f"fax-{fax.id}.tif": ("image/tiff", original[:400])}
    text = msg.get_body(("plain",))
    assert text is not None
    assert "could not be converted to PDF" in text.get_content()
    assert "original TIFF image is attached" in text.get_content()


def test_tiff_mode_attaches_the_file_as_received(
    engine: Engine, store: InboundStore, mailbox: InboundMailbox, relay: Relay, tmp_path: Path
) -> None:
    source = fax_tiff(tmp_path / "in.tif", 2)
    fax = store.ingest(CALL, source, FACTS)
    assert fax is not None
    store.inboxes.configure(fax.inbox_id, email="desk@example.com", attach="tiff")
    assert mailbox.deliver_pending(store.clock.now()).sent == 1
    msg = _parse(relay.received[0].data)
    assert _attachments(msg) == {f"fax-{fax.id}.tif": ("image/tiff", source.read_bytes())}
    assert _inline_png(msg) is not None


def test_privacy_mode_mails_a_link_and_nothing_about_the_caller(
    engine: Engine, store: InboundStore, mailbox: InboundMailbox, relay: Relay, tmp_path: Path
) -> None:
    fax = store.ingest(CALL, fax_tiff(tmp_path / "in.tif", 2), FACTS)
    assert fax is not None
    store.inboxes.configure(fax.inbox_id, email="desk@example.com", attach="link")
    assert mailbox.deliver_pending(store.clock.now()).sent == 1
    raw = relay.received[0].data
    msg = _parse(raw)
    assert msg["Subject"] == "New fax (2 pages)"
    assert _attachments(msg) == {} and _inline_png(msg) is None
    text = msg.get_body(("plain",))
    assert text is not None
    assert f"https://fax.example.com/inbox/{fax.id}" in text.get_content()
    decoded = text.get_content() + str(msg.get_body(("html",)))
    for secret in ("Smith", "650", "555-0100"):
        assert secret not in decoded


def test_a_failed_call_is_still_mailed_with_what_is_known(
    store: InboundStore, mailbox: InboundMailbox, relay: Relay, tmp_path: Path
) -> None:
    facts = ReceptionFacts(pages=0, complete=False, t30_text="Disconnected after permitted retries")
    reception = store.begin(CALL)
    assert reception is not None
    fax = reception.finish(facts)
    store.inboxes.configure(fax.inbox_id, email="desk@example.com")
    assert mailbox.deliver_pending(store.clock.now()).sent == 1
    msg = _parse(relay.received[0].data)
    assert msg["Subject"] == "Failed fax call from Dr Smith (+1 650-555-0100)"
    text = msg.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "Failed: no page arrived" in body
    assert "Disconnected after permitted retries" in body
    assert _attachments(msg) == {}


def test_an_account_inbox_without_addresses_mails_its_owner_and_a_shared_one_nobody(
    engine: Engine, store: InboundStore, mailbox: InboundMailbox, relay: Relay, tmp_path: Path
) -> None:
    _owned_inbox(store, engine)
    mine = store.ingest(CALL, fax_tiff(tmp_path / "a.tif", 1), FACTS)
    other = IncomingCall("sip", "call-2", "+16505550100", "", "+16505550000")
    shared = store.ingest(other, fax_tiff(tmp_path / "b.tif", 1), FACTS)
    assert mine is not None and shared is not None and shared.inbox == "inbox"

    done = mailbox.deliver_pending(store.clock.now())
    assert (done.sent, done.skipped) == (1, 1)
    assert [r.rcpt_tos for r in relay.received] == [["owner@clinic.example"]]
    row = _row(engine, shared.id)
    assert row["state"] == "skipped" and "no address" in str(row["last_error"])


def test_the_default_inbox_mails_the_configured_addresses(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    mailbox: InboundMailbox,
    relay: Relay,
    tmp_path: Path,
) -> None:
    store = InboundStore(
        engine,
        blobs,
        InboxRepo(engine, clock),
        Inbound(default_email="fax-desk@example.com,office@example.com"),
        tmp_path / "spool",
        clock=clock,
        receiver="test@here",
    )
    assert store.ingest(CALL, fax_tiff(tmp_path / "a.tif", 1), FACTS) is not None
    assert mailbox.deliver_pending(clock.now()).sent == 1
    assert sorted(relay.received[0].rcpt_tos) == ["fax-desk@example.com", "office@example.com"]


def test_a_relay_that_refuses_for_a_while_gets_the_same_message_later(
    engine: Engine,
    store: InboundStore,
    clock: FrozenClock,
    mailbox: InboundMailbox,
    relay: Relay,
    tmp_path: Path,
) -> None:
    relay.recorder.data_replies = ["451 4.3.0 try again later"]
    fax = store.ingest(CALL, fax_tiff(tmp_path / "a.tif", 1), FACTS)
    assert fax is not None
    store.inboxes.configure(fax.inbox_id, email="desk@example.com")
    assert mailbox.deliver_pending(store.clock.now()).deferred == 1
    first = _row(engine, fax.id)
    assert first["state"] == "pending" and "451" in str(first["last_error"])
    clock.advance(30)
    assert mailbox.deliver_pending(store.clock.now()).sent == 0  # not due before its backoff
    clock.advance(30)
    assert mailbox.deliver_pending(store.clock.now()).sent == 1
    [got] = relay.received
    assert _parse(got.data)["Message-ID"] == first["message_id"]


def test_a_permanent_refusal_fails_the_mail_and_keeps_the_fax(
    engine: Engine, store: InboundStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    mailer = MemoryMailer(results=[Permanent("550 5.1.1 no such user", 550)])
    mailbox = InboundMailbox(engine, blobs, Report(), mailer, clock=store.clock)
    fax = store.ingest(CALL, fax_tiff(tmp_path / "a.tif", 1), FACTS)
    assert fax is not None
    store.inboxes.configure(fax.inbox_id, email="gone@example.com")
    assert mailbox.deliver_pending(store.clock.now()).failed == 1
    row = _row(engine, fax.id)
    assert row["state"] == "failed" and "550 5.1.1" in str(row["last_error"])
    assert store.get(fax.id) is not None
    assert mailbox.deliver_pending(store.clock.now()).failed == 0


def test_the_relay_down_stops_the_pass_and_nothing_is_lost(
    engine: Engine, store: InboundStore, clock: FrozenClock, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    mailer = MemoryMailer(results=[Temporary("relay unreachable", relay_down=True)])
    mailbox = InboundMailbox(engine, blobs, Report(), mailer, clock=store.clock)
    ids = []
    for n in range(3):
        call = IncomingCall("sip", f"call-{n}", "+16505550100", "", "+16505550000")
        fax = store.ingest(call, fax_tiff(tmp_path / f"{n}.tif", 1), FACTS)
        assert fax is not None
        ids.append(fax.id)
    store.inboxes.configure(store.default_inbox().id, email="desk@example.com")
    done = mailbox.deliver_pending(store.clock.now())
    assert (done.sent, done.deferred) == (0, 1)  # one try, the others wait their turn
    clock.advance(3600)
    assert mailbox.deliver_pending(store.clock.now()).sent == 3
    assert sorted(int(e.message.count(b"X-Faxout-Inbound")) for e in mailer.sent) == [1, 1, 1]


def test_a_hostile_caller_name_stays_in_the_subject(
    engine: Engine, store: InboundStore, mailbox: InboundMailbox, relay: Relay, tmp_path: Path
) -> None:
    call = IncomingCall("sip", "evil", "+16505550100", "Eve\r\nBcc: victim@example.com", "1")
    facts = ReceptionFacts(pages=1, complete=True, csid="<script>alert(1)</script>")
    fax = store.ingest(call, fax_tiff(tmp_path / "a.tif", 1), facts)
    assert fax is not None
    store.inboxes.configure(fax.inbox_id, email="desk@example.com")
    assert mailbox.deliver_pending(store.clock.now()).sent == 1
    [got] = relay.received
    msg = _parse(got.data)
    assert got.rcpt_tos == ["desk@example.com"] and msg["Bcc"] is None
    assert "victim@example.com" in str(msg["Subject"])  # as text, on one line
    html = msg.get_body(("html",))
    assert html is not None
    assert "<script>" not in html.get_content() and "&lt;script&gt;" in html.get_content()
