"""The outbox's rules with an in-memory mailer: idempotent queueing, catch-up, resend, notices,
and the same on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from faxout.accounts.repo import AccountRepo
from faxout.blobs.memory import MemoryBlobStore
from faxout.clock import FrozenClock
from faxout.db.engine import make_engine, transaction
from faxout.db.migrate import upgrade
from faxout.db.tables import accounts, jobs, outbox
from faxout.jobs.create import NewDocument, NewSubmission
from faxout.jobs.model import Resolution
from faxout.jobs.numbers import Recipient
from faxout.report.mailer import MaildirMailer, MemoryMailer, Permanent, Temporary, open_mailer
from faxout.report.outbox import Outbox, enqueue_report
from faxout.report.settings import AccountReport, Report, Smtp
from faxout.report.status import report_status
from faxout.report.wording import ReportKind
from tests.accepting import accept
from tests.report.conftest import World, make_outbox


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())


def test_enqueue_in_the_callers_transaction_is_idempotent(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    sid = world.sids["failed"]
    with transaction(db) as conn:
        assert enqueue_report(conn, sid, ReportKind.FINAL, now=clock.now())
        assert not enqueue_report(conn, sid, "final", now=clock.now())
    assert not enqueue_report(db, sid, ReportKind.FINAL, now=clock.now())
    assert enqueue_report(db, sid, ReportKind.NOTICE, now=clock.now(), ref="3:1")
    assert _count(db) == 2


def test_nothing_is_queued_before_every_job_is_final(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    ob = make_outbox(db, world, clock)
    assert ob.submission_changed(world.sids["retrying"]) is None
    assert ob.submission_changed(world.sids["rejected"]) is ReportKind.REJECTED
    assert ob.resend(world.sids["retrying"]) is None


def test_sweep_catches_up_on_reports_never_queued(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    """A crash between a job's last transition and queueing its report loses nothing."""
    ob = make_outbox(db, world, clock)
    assert ob.sweep(clock.now()) == 7  # every final submission; not the one still retrying
    assert ob.sweep(clock.now()) == 0
    kinds = {v.kind for sid in world.sids.values() for v in report_status(db, sid)}
    assert kinds == {"final", "rejected"}
    assert report_status(db, world.sids["retrying"]) == []


def test_sweep_looks_back_only_over_the_catch_up_window(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=3).total_seconds())
    assert make_outbox(db, world, clock).sweep(clock.now()) == 0


def test_resend_composes_afresh_and_sends_again(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    mailer = MemoryMailer()
    ob = make_outbox(db, world, clock, mailer)
    sid = world.sids["delivered"]
    ob.submission_changed(sid)
    ob.deliver_pending(clock.now())
    assert ob.resend(sid) is not None
    ob.deliver_pending(clock.now())
    first, second = mailer.sent
    assert first.message_id != second.message_id
    assert [v.state for v in report_status(db, sid)] == ["sent"]


def test_a_permanent_failure_is_kept_and_resend_retries_it(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    mailer = MemoryMailer(results=[Permanent("550 no such user", 550)])
    ob = make_outbox(db, world, clock, mailer)
    sid = world.sids["canceled"]
    ob.submission_changed(sid)
    assert ob.deliver_pending(clock.now()).failed == 1
    assert report_status(db, sid)[0].state == "failed"
    ob.resend(sid)
    assert ob.deliver_pending(clock.now()).sent == 1


def test_backoff_doubles_up_to_the_maximum(db: Engine, world: World, clock: FrozenClock) -> None:
    settings = Report(retry_initial=timedelta(minutes=1), retry_max=timedelta(minutes=5))
    mailer = MemoryMailer(results=[Temporary("451 later", 451)] * 5)
    ob = make_outbox(db, world, clock, mailer, settings)
    sid = world.sids["failed"]
    ob.submission_changed(sid)
    waits = []
    for _ in range(5):
        assert ob.deliver_pending(clock.now()).deferred == 1
        view = report_status(db, sid)[0]
        assert view.next_at is not None
        waits.append((view.next_at - clock.now()).total_seconds())
        clock.advance(waits[-1])
    assert waits == [60, 120, 240, 300, 300]
    assert ob.deliver_pending(clock.now()).sent == 1


def test_an_unusable_account_address_fails_for_good(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    with transaction(db) as conn:  # an address from before validation, or edited in SQL
        conn.execute(
            update(accounts)
            .where(accounts.c.username == world.hostile_user)
            .values(email="m@example.com\r\nBcc: victim@example.com")
        )
    ob = make_outbox(db, world, clock)
    ob.submission_changed(world.sids["hostile"])
    assert ob.deliver_pending(clock.now()).failed == 1
    assert "not a usable email address" in report_status(db, world.sids["hostile"])[0].last_error


def test_notices_only_for_accounts_that_want_them(
    db: Engine, world: World, clock: FrozenClock
) -> None:
    off = make_outbox(db, world, clock, settings=Report())
    assert off.sweep(clock.now()) == 7
    wanted = Report(accounts={"15550001234": AccountReport(attempt_notices=True)})
    on = make_outbox(db, world, clock, settings=wanted)
    assert on.sweep(clock.now()) == 1
    assert on.sweep(clock.now()) == 0
    [notice] = report_status(db, world.sids["retrying"])
    with db.connect() as conn:
        job_id = conn.execute(
            select(jobs.c.id).where(jobs.c.submission_id == world.sids["retrying"])
        ).scalar_one()
    assert (notice.kind, notice.ref) == ("notice", f"{job_id}:1")


def test_disabled_reports_do_nothing(db: Engine, world: World, clock: FrozenClock) -> None:
    ob = make_outbox(db, world, clock, settings=Report(enabled=False))
    assert ob.run_once(clock.now()).queued == 0
    assert ob.submission_changed(world.sids["failed"]) is None
    assert _count(db) == 0


def test_no_relay_means_a_maildir_in_the_data_dir(
    db: Engine, world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    mailer = open_mailer(Smtp(), tmp_path)
    assert isinstance(mailer, MaildirMailer) and mailer.directory == tmp_path / "outbox"
    ob = make_outbox(db, world, clock, mailer)
    ob.submission_changed(world.sids["mixed"])
    assert ob.deliver_pending(clock.now()).sent == 1
    [eml] = list((tmp_path / "outbox" / "new").glob("*.eml"))
    assert b"Subject: Fax to 2 recipients: 1 delivered, 1 failed" in eml.read_bytes()
    assert report_status(db, world.sids["mixed"])[0].state == "sent"


# -- both engines ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def bare(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'faxout.db'}")
        upgrade(engine)
    else:
        engine = make_engine(str(request.getfixturevalue("pg_migrated_url")))
    try:
        yield engine
    finally:
        engine.dispose()


def test_outbox_rules_on_each_engine(bare: Engine) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock = FrozenClock(now)
    account = AccountRepo(bare).add(
        "15550001234", email="s@example.com", password_hash="x", now=now
    )
    store = MemoryBlobStore()
    upload = store.new_upload()
    upload.write(b"hello")
    sid = accept(
        bare,
        NewSubmission(
            account_id=account.id,
            recipients=[Recipient("5550101", "Ann"), Recipient("5550102", "Ben")],
            documents=[NewDocument("a.txt", "text/plain", upload)],
            resolution=Resolution.LOW,
            cover_page="none",
            cover_text="",
            send_at=now,
            sendtime_raw=None,
            notes=[],
            request_id="t",
            client_addr="",
            accepted_at=now,
        ),
    )
    mailer = MemoryMailer(results=[Temporary("451 later", 451)])
    ob = Outbox(bare, store, Report(), mailer, clock=clock)
    assert ob.sweep(now) == 0  # not final yet
    with transaction(bare) as conn:
        conn.execute(
            update(jobs).where(jobs.c.submission_id == sid).values(state="canceled", reason="x")
        )
        assert enqueue_report(conn, sid, ReportKind.FINAL, now=now)
        assert not enqueue_report(conn, sid, ReportKind.FINAL, now=now)
    assert ob.sweep(now) == 0 and ob.submission_changed(sid) is None
    assert ob.deliver_pending(now).deferred == 1
    clock.advance(60)
    assert ob.deliver_pending(clock.now()).sent == 1
    [envelope] = mailer.sent
    assert b"Fax to 2 recipients: 2 canceled" in envelope.message
    assert [v.state for v in report_status(bare, sid)] == ["sent"]


def test_the_runner_thread_sends_when_poked(db: Engine, world: World, clock: FrozenClock) -> None:
    import threading

    from faxout.report.mailer import Envelope, SendResult
    from faxout.report.runner import ReportRunner

    all_sent = threading.Event()

    class Counting(MemoryMailer):
        def send(self, envelope: Envelope) -> SendResult:
            result = super().send(envelope)
            if len(self.sent) == 7:
                all_sent.set()
            return result

    mailer = Counting()
    runner = ReportRunner(make_outbox(db, world, clock, mailer), interval=3600)
    runner.start()
    try:
        runner.poke(world.sids["mixed"])
        assert all_sent.wait(30)  # the first pass sweeps and sends every final submission
    finally:
        runner.stop()
    assert len(mailer.sent) == 7


def test_report_runner_with_no_relay_and_poke_job(
    db: Engine, world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    from faxout.report.runner import report_runner

    runner = report_runner(db, world.store, Report(), data_dir=tmp_path, clock=clock)
    assert isinstance(runner.outbox.mailer, MaildirMailer)
    assert runner.outbox.settings == Report()
    with db.connect() as conn:
        job_id = conn.execute(
            select(jobs.c.id).where(jobs.c.submission_id == world.sids["failed"])
        ).scalar_one()
    runner.poke_job(job_id)
    assert [v.kind for v in report_status(db, world.sids["failed"])] == ["final"]
    assert runner.outbox.deliver_pending(clock.now()).sent == 1
    assert len(list((tmp_path / "outbox" / "new").glob("*.eml"))) == 1


def test_sweep_waits_for_the_last_recipient(db: Engine, world: World, clock: FrozenClock) -> None:
    with transaction(db) as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.submission_id == world.sids["mixed"], jobs.c.number == "5550202")
            .values(state="ready")
        )
    ob = make_outbox(db, world, clock)
    assert ob.sweep(clock.now()) == 6
    assert report_status(db, world.sids["mixed"]) == []
