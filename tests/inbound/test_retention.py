"""Retention on each engine, with a frozen clock: received images and sent documents go the
given number of days after they are final (the account's own, else the server's), the facts
stay, a blob another live row names stays, a live job keeps its pages, a second pass and a
concurrent one purge nothing twice, and each purged item writes one audit line."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from faxout.accounts.repo import Account, AccountRepo
from faxout.accounts.repo import Retention as AccountRetention
from faxout.audit import AUDIT_LOGGER
from faxout.blobs.local import LocalBlobStore
from faxout.clock import FrozenClock
from faxout.db.engine import reading, transaction
from faxout.db.tables import documents, inbound_faxes, jobs, submissions
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.listing import InboundFaxes, InboundViewer, NoImage, no_image
from faxout.inbound.model import InboundFax, IncomingCall, ReceptionFacts
from faxout.inbound.retention import Purged, Retention
from faxout.inbound.store import InboundStore
from faxout.jobs.create import NewDocument, NewSubmission, insert_submissions, store_documents
from faxout.jobs.lifecycle import Lifecycle
from faxout.jobs.model import JobState, Resolution
from faxout.jobs.numbers import Recipient
from tests.inbound.faxfiles import fax_tiff

MINE, THEIRS, WEEKLY, FOREVER = "16505551234", "16505559999", "16505557777", "16505550000"
SHARED = "18005550199"  # no rule: the shared default inbox
DAY = 86400.0


@pytest.fixture
def owners(accounts: AccountRepo, inboxes: InboxRepo, clock: FrozenClock) -> dict[str, Account]:
    made = {}
    for number in (MINE, THEIRS, WEEKLY, FOREVER):
        account = accounts.add(number, email="a@example.com", password_hash="x", now=clock.now())
        inboxes.add_rule(inboxes.for_account(account.id).id, called=number)
        made[number] = account
    accounts.update(WEEKLY, now=clock.now(), retention=AccountRetention(7))
    accounts.update(FOREVER, now=clock.now(), retention=AccountRetention(0))
    return made


@pytest.fixture
def retention(engine: Engine, blobs: LocalBlobStore, clock: FrozenClock) -> Retention:
    return Retention(engine, blobs, clock, default_days=30)


@dataclass
class Received:
    store: InboundStore
    tmp: Path
    count: int = 0

    def fax(self, to: str, *, pages: int = 1, tiff: Path | None = None) -> InboundFax:
        self.count += 1
        if tiff is None:
            tiff = fax_tiff(self.tmp / f"in-{self.count}.tif", pages, height=400 + self.count)
        call = IncomingCall("test", f"call-{self.count}", "+16505550100", "", to)
        fax = self.store.ingest(call, tiff, ReceptionFacts(pages=pages, complete=True))
        assert fax is not None and fax.blob_key is not None
        return fax


@pytest.fixture
def received(store: InboundStore, tmp_path: Path) -> Received:
    return Received(store, tmp_path)


@dataclass
class Sent:
    """Submissions as the pipeline leaves them: documents, rendered pages, cover pages."""

    engine: Engine
    blobs: LocalBlobStore
    clock: FrozenClock
    count: int = 0

    def _blob(self, data: bytes) -> str:
        upload = self.blobs.new_upload()
        upload.write(data)
        return upload.commit()

    def fax(self, account: Account, *, recipients: int = 1, document: bytes | None = None) -> int:
        """A rendered submission, its jobs ready; its id."""
        self.count += 1
        upload = self.blobs.new_upload()
        upload.write(document or f"%PDF-1.4 document {self.count}".encode())
        sub = NewSubmission(
            account_id=account.id,
            recipients=[Recipient(f"+1555000{i:04d}", "") for i in range(recipients)],
            documents=[NewDocument("letter.pdf", "application/pdf", upload)],
            resolution=Resolution.HIGH,
            cover_page="default",
            cover_text="",
            send_at=self.clock.now(),
            sendtime_raw=None,
            notes=[],
            request_id=f"req-{self.count}",
            client_addr="127.0.0.1",
            accepted_at=self.clock.now(),
        )
        keys = store_documents(sub)
        rendered = self._blob(f"rendered pages {self.count}".encode())
        with transaction(self.engine) as conn:
            (sub_id,) = insert_submissions(conn, [(sub, keys)])
            conn.execute(
                update(submissions)
                .where(submissions.c.id == sub_id)
                .values(state="ready", rendered_key=rendered, pages=1)
            )
            for job_id in conn.execute(select(jobs.c.id).where(jobs.c.submission_id == sub_id)):
                cover = self._blob(f"cover of job {job_id[0]}".encode())
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id[0])
                    .values(state="ready", cover_key=cover)
                )
        return sub_id

    def jobs_of(self, sub_id: int) -> list[int]:
        with reading(self.engine) as conn:
            query = select(jobs.c.id).where(jobs.c.submission_id == sub_id).order_by(jobs.c.id)
            return list(conn.execute(query).scalars())

    def finish(self, job_id: int, state: JobState = JobState.DONE) -> None:
        """The job's call ended now."""
        with transaction(self.engine) as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(state=state.value, finished_at=self.clock.now())
            )
            conn.execute(
                update(submissions)
                .where(
                    submissions.c.id
                    == select(jobs.c.submission_id).where(jobs.c.id == job_id).scalar_subquery()
                )
                .values(state="done")
            )

    def keys(self, sub_id: int) -> set[str]:
        """Every blob the submission names now (its documents' keys stay: facts)."""
        with reading(self.engine) as conn:
            sub = conn.execute(
                select(submissions.c.rendered_key).where(submissions.c.id == sub_id)
            ).scalar_one()
            named = {sub} if sub else set()
            for j in conn.execute(
                select(jobs.c.rendered_key, jobs.c.cover_key).where(jobs.c.submission_id == sub_id)
            ):
                named |= {k for k in j if k}
            docs = conn.execute(
                select(documents.c.blob_key).where(documents.c.submission_id == sub_id)
            ).scalars()
            return named | set(docs)

    def purged_at(self, sub_id: int) -> object:
        with reading(self.engine) as conn:
            return conn.execute(
                select(submissions.c.purged_at).where(submissions.c.id == sub_id)
            ).scalar_one()


@pytest.fixture
def sent(engine: Engine, blobs: LocalBlobStore, clock: FrozenClock) -> Sent:
    return Sent(engine, blobs, clock)


def _seen(engine: Engine, blobs: LocalBlobStore, clock: FrozenClock, fax: InboundFax) -> InboundFax:
    """The fax as its owner (an operator, for the shared inbox) sees it now."""
    viewer = InboundViewer(fax.account_id or 0, operator=fax.account_id is None)
    seen = InboundFaxes(engine, blobs, clock).get(viewer, fax.id)
    assert seen is not None
    return seen


def test_a_received_image_goes_after_its_days_and_the_facts_stay(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    received: Received,
    retention: Retention,
) -> None:
    old = received.fax(MINE, pages=2)
    shared_old = received.fax(SHARED)
    clock.advance(2 * DAY)
    young = received.fax(MINE)
    clock.advance(29 * DAY)  # old: 31 days; young: 29 days

    counts = retention.run()

    assert (counts.received, counts.sent, counts.blobs) == (2, 0, 2)
    gone = _seen(engine, blobs, clock, old)
    assert no_image(gone) is NoImage.PURGED and gone.purged_at == clock.now()
    assert gone.blob_key is None and not blobs.exists(old.blob_key or "")
    # the facts are kept
    assert (gone.pages, gone.caller, gone.state, gone.finished_at) == (
        2,
        old.caller,
        old.state,
        old.finished_at,
    )
    assert no_image(_seen(engine, blobs, clock, shared_old)) is NoImage.PURGED
    kept = _seen(engine, blobs, clock, young)
    assert no_image(kept) is None and blobs.exists(kept.blob_key or "")


def test_an_accounts_own_days_win_and_zero_keeps(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    received: Received,
    sent: Sent,
    retention: Retention,
) -> None:
    weekly, forever, usual = received.fax(WEEKLY), received.fax(FOREVER), received.fax(MINE)
    weekly_sent = sent.fax(owners[WEEKLY])
    forever_sent = sent.fax(owners[FOREVER])
    for sub_id in (weekly_sent, forever_sent):
        sent.finish(sent.jobs_of(sub_id)[0])
    clock.advance(8 * DAY)

    counts = retention.run()
    assert (counts.received, counts.sent) == (1, 1)
    assert no_image(_seen(engine, blobs, clock, weekly)) is NoImage.PURGED
    assert no_image(_seen(engine, blobs, clock, usual)) is None  # 8 of its 30 days
    assert sent.purged_at(weekly_sent) is not None

    clock.advance(3650 * DAY)
    counts = retention.run()
    assert (counts.received, counts.sent) == (1, 0)  # `usual` at last; never FOREVER's
    assert no_image(_seen(engine, blobs, clock, forever)) is None
    assert sent.purged_at(forever_sent) is None
    assert all(blobs.exists(k) for k in sent.keys(forever_sent))

    # Back to the server's days: FOREVER's go at the next pass.
    AccountRepo(engine).update(FOREVER, now=clock.now(), retention=AccountRetention(None))
    counts = retention.run()
    assert (counts.received, counts.sent) == (1, 1)


def test_a_blob_another_row_names_survives(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    received: Received,
    sent: Sent,
    retention: Retention,
    tmp_path: Path,
) -> None:
    same = fax_tiff(tmp_path / "same.tif", 1)
    old = received.fax(WEEKLY, tiff=same)
    # the same bytes, received by another account, and sent on as a document
    other = received.fax(MINE, tiff=same)
    forwarded = sent.fax(owners[MINE], document=same.read_bytes())
    assert old.blob_key == other.blob_key and old.blob_key in sent.keys(forwarded)
    clock.advance(8 * DAY)

    assert retention.run().received == 1
    assert no_image(_seen(engine, blobs, clock, old)) is NoImage.PURGED
    assert blobs.exists(old.blob_key or "")
    assert no_image(_seen(engine, blobs, clock, other)) is None

    # Once the last holder's time has come too, the bytes go.
    sent.finish(sent.jobs_of(forwarded)[0])
    clock.advance(31 * DAY)
    counts = retention.run()
    assert (counts.received, counts.sent) == (1, 1)
    assert not blobs.exists(old.blob_key or "")


def test_sent_documents_go_only_once_every_job_is_final(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    sent: Sent,
    retention: Retention,
) -> None:
    fax = sent.fax(owners[MINE], recipients=2)
    first, second = sent.jobs_of(fax)
    named = sent.keys(fax)
    assert len(named) == 4  # the document, the rendered pages, two cover pages
    sent.finish(first)
    clock.advance(40 * DAY)  # the second recipient is still waiting (ready)

    assert retention.run().sent == 0
    assert sent.purged_at(fax) is None and all(blobs.exists(k) for k in named)

    sent.finish(second, JobState.FAILED)
    clock.advance(29 * DAY)  # first: 69 days; second: 29
    assert retention.run().sent == 0

    clock.advance(2 * DAY)
    counts = retention.run()
    assert (counts.sent, counts.blobs) == (1, 4)
    assert sent.purged_at(fax) == clock.now()
    assert not any(blobs.exists(k) for k in named)
    with reading(engine) as conn:
        sub = conn.execute(select(submissions).where(submissions.c.id == fax)).one()
        states = conn.execute(
            select(jobs.c.state, jobs.c.rendered_key, jobs.c.cover_key)
            .where(jobs.c.submission_id == fax)
            .order_by(jobs.c.id)
        ).all()
        docs = conn.execute(select(documents).where(documents.c.submission_id == fax)).all()
    assert sub.rendered_key is None and sub.pages == 1 and sub.state == "done"
    assert [tuple(s) for s in states] == [("done", None, None), ("failed", None, None)]
    assert [(d.filename, d.size) for d in docs] == [("letter.pdf", docs[0].size)]

    # A purged fax's recipient cannot be retried: its pages are gone.
    assert not Lifecycle(engine, timedelta(hours=3)).retry(clock.now(), second)
    with reading(engine) as conn:
        assert conn.execute(select(jobs.c.state).where(jobs.c.id == second)).scalar() == "failed"


def test_a_live_submission_keeps_the_document_it_shares(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    sent: Sent,
    retention: Retention,
) -> None:
    letter = b"%PDF-1.4 the same letter, faxed every month"
    old = sent.fax(owners[MINE], document=letter)
    sent.finish(sent.jobs_of(old)[0])
    clock.advance(31 * DAY)
    live = sent.fax(owners[MINE], document=letter)  # still to be sent
    (shared,) = sent.keys(old) & sent.keys(live)

    counts = retention.run()
    assert (counts.sent, counts.blobs) == (1, 2)  # its rendered pages and cover page only
    assert blobs.exists(shared) and all(blobs.exists(k) for k in sent.keys(live))


def test_a_second_pass_and_a_dry_run_change_nothing(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    received: Received,
    sent: Sent,
    retention: Retention,
) -> None:
    faxes = [received.fax(MINE) for _ in range(3)]
    sub = sent.fax(owners[THEIRS])
    sent.finish(sent.jobs_of(sub)[0])
    clock.advance(31 * DAY)
    found: list[Purged] = []

    dry = retention.run(dry_run=True, on_item=found.append)

    assert (dry.received, dry.sent, dry.blobs) == (3, 1, 6)
    assert [(p.what, p.id) for p in found] == [
        *(("received", f.id) for f in faxes),
        ("sent", sub),
    ]
    assert all(no_image(_seen(engine, blobs, clock, f)) is None for f in faxes)
    assert sent.purged_at(sub) is None and all(blobs.exists(k) for k in sent.keys(sub))

    first = retention.run()
    again = retention.run()
    assert (first.received, first.sent, first.blobs) == (3, 1, 6)
    assert (again.received, again.sent, again.blobs) == (0, 0, 0)


def test_batches_cover_every_row(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    received: Received,
    sent: Sent,
) -> None:
    faxes = [received.fax(MINE) for _ in range(7)]
    subs = [sent.fax(owners[MINE]) for _ in range(5)]
    for sub in subs:
        sent.finish(sent.jobs_of(sub)[0])
    clock.advance(31 * DAY)

    small = Retention(engine, blobs, clock, default_days=30, batch=2)
    # All finished at the same instant: the batches step over ties by id. A dry run leaves
    # every row due, so only the cursor moves it on.
    seen: list[Purged] = []
    dry = small.run(dry_run=True, on_item=seen.append)
    assert (dry.received, dry.sent) == (7, 5)
    assert sorted(p.id for p in seen if p.what == "received") == sorted(f.id for f in faxes)

    counts = small.run()

    assert (counts.received, counts.sent) == (7, 5)
    assert all(no_image(_seen(engine, blobs, clock, f)) is NoImage.PURGED for f in faxes)
    with reading(engine) as conn:
        left = conn.execute(
            select(func.count()).select_from(submissions).where(submissions.c.purged_at.is_(None))
        ).scalar_one()
    assert left == 0


def test_passes_in_several_processes_purge_each_item_once(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    received: Received,
    sent: Sent,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    same = fax_tiff(tmp_path / "same.tif", 1)
    faxes = [received.fax(MINE, tiff=same) for _ in range(12)]  # one blob for all
    faxes += [received.fax(THEIRS) for _ in range(12)]
    subs = [sent.fax(owners[MINE]) for _ in range(6)]
    for sub in subs:
        sent.finish(sent.jobs_of(sub)[0])
    clock.advance(31 * DAY)
    start = threading.Barrier(3)
    totals: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def one_process() -> None:
        try:
            start.wait()
            counts = Retention(engine, blobs, clock, default_days=30, batch=3).run()
            totals.append((counts.received, counts.sent))
        except BaseException as exc:
            errors.append(exc)

    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
        threads = [threading.Thread(target=one_process) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

    assert errors == []
    assert (sum(r for r, _ in totals), sum(s for _, s in totals)) == (24, 6)
    audited = [r for r in caplog.records if r.name == AUDIT_LOGGER]
    ids = sorted((r.fields["what"], r.fields["id"]) for r in audited)  # type: ignore[attr-defined]
    assert ids == sorted([("received", f.id) for f in faxes] + [("sent", s) for s in subs])
    assert not blobs.exists(faxes[0].blob_key or "")  # the shared blob went, once free


def test_each_purged_item_writes_an_audit_line(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    received: Received,
    sent: Sent,
    retention: Retention,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fax = received.fax(SHARED)
    sub = sent.fax(owners[THEIRS])
    sent.finish(sent.jobs_of(sub)[0])
    sub_keys = sent.keys(sub)
    clock.advance(45 * DAY)

    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
        retention.run()

    lines = {r.fields["what"]: r for r in caplog.records if r.name == AUDIT_LOGGER}  # type: ignore[attr-defined]
    inbound = lines["received"]
    assert inbound.getMessage() == f"retention: purge received fax {fax.id}"
    assert inbound.fields == {  # type: ignore[attr-defined]
        "audit": "purge",
        "what": "received",
        "id": fax.id,
        "account": None,
        "actor": "retention",
        "age_days": 45.0,
        "finished_at": fax.finished_at.isoformat() if fax.finished_at else None,
        "keys": [fax.blob_key],
        "removed": [fax.blob_key],
    }
    outbound = lines["sent"]
    assert outbound.getMessage() == f"retention: purge sent fax {sub} of {THEIRS}"
    assert outbound.fields["account"] == THEIRS  # type: ignore[attr-defined]
    assert set(outbound.fields["keys"]) == sub_keys == set(outbound.fields["removed"])  # type: ignore[attr-defined]
    with reading(engine) as conn:  # the rows stay: only the images went
        for table in (inbound_faxes, jobs, documents):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 1


def test_a_pass_asked_to_stop_ends_at_its_next_batch(
    engine: Engine,
    blobs: LocalBlobStore,
    clock: FrozenClock,
    owners: dict[str, Account],
    received: Received,
) -> None:
    faxes = [received.fax(MINE) for _ in range(5)]
    clock.advance(31 * DAY)
    seen: list[Purged] = []

    # A server shutting down once the first batch is done.
    first = Retention(engine, blobs, clock, default_days=30, batch=2).run(
        on_item=seen.append, stop=lambda: len(seen) >= 2
    )

    assert first.received == 2
    assert Retention(engine, blobs, clock, default_days=30).run().received == 3
    assert all(no_image(_seen(engine, blobs, clock, f)) is NoImage.PURGED for f in faxes)
