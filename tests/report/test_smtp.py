"""Reports through a real SMTP relay (aiosmtpd on 127.0.0.1, STARTTLS or implicit TLS, AUTH)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import pypdfium2
import pytest
import trustme
from PIL import Image
from sqlalchemy import Engine, select

from faxout.clock import FrozenClock
from faxout.db.tables import outbox as outbox_table
from faxout.report.mailer import (
    Accepted,
    Envelope,
    MaildirMailer,
    Mailer,
    MemoryMailer,
    Permanent,
    SmtpMailer,
    Temporary,
)
from faxout.report.outbox import Outbox, enqueue_report
from faxout.report.settings import Report, Smtp
from faxout.report.status import report_status
from faxout.report.wording import ReportKind
from tests.report.conftest import HOSTILE_NAME, World, make_outbox
from tests.report.relay import PASSWORD, USER, Relay, free_port, write_ca


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def relay(ca: trustme.CA) -> Iterator[Relay]:
    r = Relay(ca).start()
    try:
        yield r
    finally:
        r.stop()


def smtp_settings(
    ca: trustme.CA,
    tmp: Path,
    port: int,
    security: Literal["starttls", "tls", "none"] = "starttls",
    password: str = PASSWORD,
) -> Report:
    return Report(
        from_address="fax@gw.example.com",
        smtp=Smtp(
            host="127.0.0.1",
            port=port,
            security=security,
            username=USER,
            password=password,
            timeout=10,
            ca_file=write_ca(ca, tmp),
        ),
    )


def smtp_outbox(db: Engine, world: World, clock: FrozenClock, settings: Report) -> Outbox:
    return make_outbox(db, world, clock, SmtpMailer(settings.smtp), settings)


def _parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _row(db: Engine, submission_id: int) -> dict[str, object]:
    with db.connect() as conn:
        row = conn.execute(
            select(outbox_table).where(outbox_table.c.submission_id == submission_id)
        ).one()
    return dict(row._mapping)


def test_the_report_arrives_once_with_every_part_intact(
    db: Engine, world: World, clock: FrozenClock, relay: Relay, ca: trustme.CA, tmp_path: Path
) -> None:
    settings = smtp_settings(ca, tmp_path, relay.port)
    outbox = smtp_outbox(db, world, clock, settings)
    sid = world.sids["mixed"]
    assert outbox.submission_changed(sid) is ReportKind.FINAL
    assert outbox.submission_changed(sid) is None  # idempotent
    done = outbox.deliver_pending(clock.now())
    assert (done.sent, done.deferred, done.failed) == (1, 0, 0)
    assert outbox.deliver_pending(clock.now()).sent == 0
    clock.advance(3600)
    swept = outbox.run_once(clock.now())  # the other final submissions of the world, once each
    assert swept.sent == swept.queued == 6
    assert outbox.run_once(clock.now()).sent == 0
    per_submission = [_parse(r.data)["X-Faxout-Submission"] for r in relay.received]
    assert sorted(per_submission) == sorted({str(s) for s in per_submission})

    [got] = [r for r in relay.received if _parse(r.data)["X-Faxout-Submission"] == str(sid)]
    assert got.authenticated and got.tls
    assert got.mail_from == "fax@gw.example.com" and got.rcpt_tos == ["s@example.com"]
    stored = _row(db, sid)
    assert stored["state"] == "sent" and stored["tries"] == 1
    assert got.data.rstrip(b"\r\n") == bytes(stored["message"]).rstrip(b"\r\n")  # type: ignore[arg-type]

    msg = _parse(got.data)
    assert msg["Message-ID"] == stored["message_id"]
    assert msg["Subject"] == "Fax to 2 recipients: 1 delivered, 1 failed"
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "application/pdf",
    ]
    png = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert Image.open(io.BytesIO(png.get_content())).size[0] == 300
    pdf = next(p for p in msg.walk() if p.get_content_type() == "application/pdf")
    doc = pypdfium2.PdfDocument(pdf.get_content())
    assert len(doc) == 1
    doc.close()
    [view] = report_status(db, sid)
    assert view.describe().startswith("report final: sent 2026-03-02 ")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_relay(
    db: Engine, world: World, clock: FrozenClock, ca: trustme.CA, tmp_path: Path
) -> None:
    relay = Relay(ca, implicit=True).start()
    try:
        settings = smtp_settings(ca, tmp_path, relay.port, security="tls")
        outbox = smtp_outbox(db, world, clock, settings)
        enqueue_report(db, world.sids["delivered"], ReportKind.FINAL, now=clock.now())
        assert outbox.deliver_pending(clock.now()).sent == 1
        [got] = relay.received
        assert got.tls and got.authenticated
        assert _parse(got.data)["Subject"] == "Fax to 5550101: delivered (2 pages)"
    finally:
        relay.stop()


def test_temporary_refusal_backs_off_then_delivers(
    db: Engine, world: World, clock: FrozenClock, relay: Relay, ca: trustme.CA, tmp_path: Path
) -> None:
    relay.recorder.data_replies = ["451 4.3.0 try again later", "452 4.3.1 out of space"]
    outbox = smtp_outbox(db, world, clock, smtp_settings(ca, tmp_path, relay.port))
    sid = world.sids["failed"]
    enqueue_report(db, sid, ReportKind.FINAL, now=clock.now())
    assert outbox.deliver_pending(clock.now()).deferred == 1
    row = _row(db, sid)
    assert row["state"] == "pending" and row["tries"] == 1
    assert row["next_at"] == clock.now() + outbox.settings.retry_initial
    assert "451 4.3.0 try again later" in str(row["last_error"])
    [view] = report_status(db, sid)
    assert "waiting for the relay (1 tries" in view.describe()
    message_id = row["message_id"]

    clock.advance(59)
    assert outbox.deliver_pending(clock.now()).deferred == 0  # not due yet
    clock.advance(1)
    assert outbox.deliver_pending(clock.now()).deferred == 1
    row = _row(db, sid)
    assert row["next_at"] == clock.now() + 2 * outbox.settings.retry_initial  # doubled
    clock.advance(120)
    assert outbox.deliver_pending(clock.now()).sent == 1
    [got] = relay.received
    assert _parse(got.data)["Message-ID"] == message_id  # the same message every try
    assert _row(db, sid)["state"] == "sent"


def test_relay_down_for_a_while(
    db: Engine, world: World, clock: FrozenClock, ca: trustme.CA, tmp_path: Path
) -> None:
    port = free_port()
    settings = smtp_settings(ca, tmp_path, port)
    outbox = smtp_outbox(db, world, clock, settings)
    for key in ("delivered", "failed", "canceled"):
        enqueue_report(db, world.sids[key], ReportKind.FINAL, now=clock.now())
    for _ in range(3):  # connection refused: one try per pass, the rest wait their turn
        done = outbox.deliver_pending(clock.now())
        assert (done.sent, done.deferred) == (0, 1)
        clock.advance(outbox.settings.retry_max.total_seconds())
    states = [(v.state, v.tries) for v in report_status(db, world.sids["delivered"])]
    assert states == [("pending", 3)]
    assert "relay unreachable" in report_status(db, world.sids["delivered"])[0].last_error

    relay = Relay(ca, port).start()
    try:
        clock.advance(outbox.settings.retry_max.total_seconds())
        assert outbox.deliver_pending(clock.now()).sent == 3
        subjects = sorted(str(_parse(r.data)["Subject"]) for r in relay.received)
        assert subjects == [
            "Fax to 5550101: delivered (2 pages)",
            "Fax to 5550301: failed",
            "Fax to 5550501: canceled",
        ]
        assert outbox.deliver_pending(clock.now()).sent == 0
    finally:
        relay.stop()


def test_permanent_refusal_is_failed_and_shown(
    db: Engine, world: World, clock: FrozenClock, relay: Relay, ca: trustme.CA, tmp_path: Path
) -> None:
    relay.recorder.rcpt_replies = ["550 5.1.1 no such mailbox"]
    outbox = smtp_outbox(db, world, clock, smtp_settings(ca, tmp_path, relay.port))
    sid = world.sids["canceled"]
    enqueue_report(db, sid, ReportKind.FINAL, now=clock.now())
    assert outbox.deliver_pending(clock.now()).failed == 1
    clock.advance(86400)
    assert outbox.deliver_pending(clock.now()).failed == 0
    assert relay.received == []
    [view] = report_status(db, sid)
    assert view.state == "failed"
    assert view.describe() == "report final: FAILED after 1 tries: " + (
        "recipient refused: 550 5.1.1 no such mailbox"
    )


def test_wrong_password_is_temporary_and_the_pass_stops(
    db: Engine, world: World, clock: FrozenClock, relay: Relay, ca: trustme.CA, tmp_path: Path
) -> None:
    settings = smtp_settings(ca, tmp_path, relay.port, password="wrong")
    outbox = smtp_outbox(db, world, clock, settings)
    for key in ("delivered", "failed"):
        enqueue_report(db, world.sids[key], ReportKind.FINAL, now=clock.now())
    done = outbox.deliver_pending(clock.now())
    assert (done.sent, done.deferred, done.failed) == (0, 1, 0)
    assert "login refused: 535" in report_status(db, world.sids["delivered"])[0].last_error


def test_gives_up_after_the_configured_time(
    db: Engine, world: World, clock: FrozenClock, ca: trustme.CA, tmp_path: Path
) -> None:
    settings = smtp_settings(ca, tmp_path, free_port())
    settings = settings.model_copy(update={"give_up_after": settings.retry_max * 2})
    outbox = smtp_outbox(db, world, clock, settings)
    sid = world.sids["failed"]
    enqueue_report(db, sid, ReportKind.FINAL, now=clock.now())
    for _ in range(3):
        outbox.deliver_pending(clock.now())
        clock.advance(settings.retry_max.total_seconds())
    [view] = report_status(db, sid)
    assert view.state == "failed" and view.last_error.startswith("gave up after 3 tries: relay")


class Crash(BaseException):
    """The process dies (not an Exception: nothing may catch it)."""


def test_crash_between_relay_acceptance_and_commit_sends_at_most_one_duplicate(
    db: Engine,
    world: World,
    clock: FrozenClock,
    relay: Relay,
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = smtp_settings(ca, tmp_path, relay.port)
    sid = world.sids["delivered"]
    enqueue_report(db, sid, ReportKind.FINAL, now=clock.now())

    def die(self: Outbox, row_id: int, result: object) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(Outbox, "_record", die)
        with pytest.raises(Crash):
            smtp_outbox(db, world, clock, settings).deliver_pending(clock.now())
    assert len(relay.received) == 1
    assert _row(db, sid)["state"] == "pending"

    restarted = smtp_outbox(db, world, clock, settings)  # a new process
    restarted.worker = "test-after-restart"
    assert restarted.deliver_pending(clock.now()).sent == 0  # the dead sender's lease holds
    clock.advance(settings.lease_seconds + 1)
    assert restarted.deliver_pending(clock.now()).sent == 1
    clock.advance(86400)
    assert restarted.deliver_pending(clock.now()).sent == 0
    first, second = relay.received
    assert first.data == second.data  # the very same message, same Message-ID
    assert _row(db, sid)["state"] == "sent"


def test_hostile_names_through_the_relay(
    db: Engine, world: World, clock: FrozenClock, relay: Relay, ca: trustme.CA, tmp_path: Path
) -> None:
    outbox = smtp_outbox(db, world, clock, smtp_settings(ca, tmp_path, relay.port))
    for key in ("hostile", "rejected"):
        outbox.submission_changed(world.sids[key])
    assert outbox.deliver_pending(clock.now()).sent == 2
    for got in relay.received:
        assert len(got.rcpt_tos) == 1  # no injected Bcc became a recipient
        msg = _parse(got.data)
        assert msg["Bcc"] is None
        assert "victim@example.com" not in str(msg["To"])
        text = msg.get_body(("plain",))
        assert text is not None and HOSTILE_NAME.replace("\r\n", " ") in str(text.get_content())
    rejected = next(r for r in relay.received if b"X-Faxout-Report: rejected" in r.data)
    assert rejected.rcpt_tos == ["s@example.com"]


# -- the Mailer contract: every implementation takes a message and gives it back intact ------


def _envelope() -> Envelope:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "hello"
    msg.set_content("line one\n.\nline three (a lone dot above)\n")
    return Envelope("a@example.com", ("b@example.com",), msg.as_bytes(), "<x@y>")


@pytest.mark.parametrize("kind", ["smtp", "maildir", "memory"])
def test_mailer_contract(kind: str, ca: trustme.CA, tmp_path: Path, relay: Relay) -> None:
    envelope = _envelope()
    mailer: Mailer
    if kind == "smtp":
        mailer = SmtpMailer(smtp_settings(ca, tmp_path, relay.port).smtp)
    elif kind == "maildir":
        mailer = MaildirMailer(tmp_path / "outbox")
    else:
        mailer = MemoryMailer()
    assert isinstance(mailer.send(envelope), Accepted)
    if kind == "smtp":
        [got] = relay.received
        data = got.data
    elif kind == "maildir":
        [path] = list((tmp_path / "outbox" / "new").glob("*.eml"))
        assert list((tmp_path / "outbox" / "tmp").iterdir()) == []
        data = path.read_bytes()
    else:
        data = mailer.sent[0].message  # type: ignore[attr-defined]
    assert data.rstrip(b"\r\n") == envelope.message.rstrip(b"\r\n")
    body = _parse(data).get_body(("plain",))
    assert body is not None and "\n.\n" in str(body.get_content()).replace("\r\n", "\n")


def test_smtp_results_are_values(ca: trustme.CA, tmp_path: Path, relay: Relay) -> None:
    mailer = SmtpMailer(smtp_settings(ca, tmp_path, relay.port).smtp)
    relay.recorder.rcpt_replies = ["450 4.2.0 mailbox busy", "550 5.1.1 unknown"]
    relay.recorder.data_replies = ["554 5.6.0 message refused"]
    first, second, third = (mailer.send(_envelope()) for _ in range(3))
    assert isinstance(first, Temporary) and first.code == 450 and not first.relay_down
    assert isinstance(second, Permanent) and second.code == 550
    assert isinstance(third, Permanent) and third.code == 554
    down = SmtpMailer(smtp_settings(ca, tmp_path, free_port()).smtp).send(_envelope())
    assert isinstance(down, Temporary) and down.relay_down
