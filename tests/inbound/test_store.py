"""The inbound store: a reception is a row from the answer on, pages are durable before they
are confirmed, the final image lands in its inbox, and nothing is stored twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine

from faxout.accounts.repo import AccountRepo
from faxout.blobs.local import LocalBlobStore
from faxout.clock import FrozenClock
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.model import InboundState, IncomingCall, ReceptionFacts
from faxout.inbound.settings import Inbound
from faxout.inbound.store import Accept, InboundStore, Refuse
from tests.inbound.faxfiles import fax_tiff

CALL = IncomingCall("sip", "call-1", "+16505550100", "Dr Smith", "+16505559999")
DONE = ReceptionFacts(pages=3, complete=True, csid="  Smith   Clinic ", bit_rate=14400, ecm=True)


def _receive(store: InboundStore, call: IncomingCall, tiff: Path, facts: ReceptionFacts) -> int:
    reception = store.begin(call)
    assert reception is not None
    reception.path.write_bytes(tiff.read_bytes())
    reception.page_done(facts.pages)
    return reception.finish(facts).id


def test_a_whole_fax_lands_in_the_default_inbox_with_its_facts(
    store: InboundStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    tiff = fax_tiff(tmp_path / "in.tif", 3)
    fax = store.get(_receive(store, CALL, tiff, DONE))
    assert fax is not None
    assert fax.state is InboundState.RECEIVED
    assert (fax.inbox, fax.account_id) == ("inbox", None)
    assert fax.caller_name == "Dr Smith"
    assert fax.caller == "+16505550100" and fax.called == "+16505559999"
    assert fax.csid == "Smith Clinic"
    assert (fax.pages, fax.resolution, fax.bit_rate, fax.ecm) == (3, "204x196", 14400, True)
    assert fax.blob_key is not None
    with blobs.open(fax.blob_key) as f:
        assert f.read() == tiff.read_bytes()
    assert not list((tmp_path / "inbound").glob("*.tif")), "the spool file stays behind"


def test_the_same_call_is_stored_once(store: InboundStore, tmp_path: Path) -> None:
    tiff = fax_tiff(tmp_path / "in.tif", 1)
    first = store.ingest(CALL, tiff, ReceptionFacts(pages=1, complete=True))
    assert first is not None
    assert store.ingest(CALL, tiff, ReceptionFacts(pages=1, complete=True)) is None
    assert store.begin(CALL) is None


def test_a_call_that_broke_off_keeps_its_pages_as_partial(
    store: InboundStore, tmp_path: Path
) -> None:
    tiff = fax_tiff(tmp_path / "in.tif", 2)
    facts = ReceptionFacts(pages=2, complete=False, t30_text="Call dropped")
    fax = store.get(_receive(store, CALL, tiff, facts))
    assert fax is not None
    assert (fax.state, fax.pages, fax.t30_text) == (InboundState.PARTIAL, 2, "Call dropped")


def test_a_call_with_no_page_is_failed_without_an_image(store: InboundStore) -> None:
    reception = store.begin(CALL)
    assert reception is not None
    fax = reception.finish(ReceptionFacts(pages=0, complete=False))
    assert (fax.state, fax.pages, fax.blob_key) == (InboundState.FAILED, 0, None)


def test_page_done_makes_the_count_visible_before_the_end(
    store: InboundStore, tmp_path: Path
) -> None:
    reception = store.begin(CALL)
    assert reception is not None
    fax_tiff(reception.path, 2)
    reception.page_done(2)
    fax = store.get(reception.inbound_id)
    assert fax is not None
    assert (fax.state, fax.pages) == (InboundState.RECEIVING, 2)


def test_recovery_keeps_the_pages_a_killed_receiver_left(
    store: InboundStore,
    engine: object,
    blobs: LocalBlobStore,
    inboxes: InboxRepo,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    reception = store.begin(CALL)
    assert reception is not None
    # what spandsp had written when the process died in the middle of page 3
    fax_tiff(reception.path, 2)
    with reception.path.open("ab") as f:
        f.write(b"\x00" * 5000)  # page 3's image data, never linked into the file
    reception.page_done(2)
    restarted = InboundStore(
        store.engine,
        blobs,
        inboxes,
        Inbound(),
        tmp_path / "inbound",
        clock=clock,
        receiver="test@here",
    )
    (fax,) = restarted.recover()
    assert (fax.state, fax.pages) == (InboundState.PARTIAL, 2)
    assert any("stopped during the call" in n for n in fax.notes)
    assert restarted.recover() == [], "recovered twice"
    with Image.open(blobs.open(fax.blob_key or "")) as image:
        assert image.n_frames == 2


def test_another_receivers_row_is_left_alone_until_it_is_stale(
    store: InboundStore,
    blobs: LocalBlobStore,
    inboxes: InboxRepo,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    reception = store.begin(CALL)
    assert reception is not None
    other = InboundStore(
        store.engine,
        blobs,
        inboxes,
        Inbound(),
        tmp_path / "other",
        clock=clock,
        receiver="sip@elsewhere",
    )
    assert other.recover() == []
    clock.advance(3 * 3600)
    (fax,) = other.recover()
    assert fax.id == reception.inbound_id and fax.state is InboundState.FAILED


def _account(accounts: AccountRepo, clock: FrozenClock, user: str) -> int:
    return accounts.add(user, email=f"{user}@example.com", password_hash="x", now=clock.now()).id


def test_rules_route_by_called_number_caller_and_csid(
    store: InboundStore,
    inboxes: InboxRepo,
    accounts: AccountRepo,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    alice = inboxes.for_account(_account(accounts, clock, "+16505550001"))
    lab = inboxes.ensure("lab")
    billing = inboxes.ensure("billing")
    inboxes.add_rule(alice.id, called="+1 (650) 555-9999")
    inboxes.add_rule(lab.id, csid="Quest LAB*", position=1)
    inboxes.add_rule(billing.id, caller="*5550100", called="*5558888")
    tiff = fax_tiff(tmp_path / "in.tif", 1)

    def inbox_of(call: IncomingCall, csid: str = "") -> str:
        fax = store.ingest(call, tiff, ReceptionFacts(pages=1, complete=True, csid=csid))
        assert fax is not None
        return fax.inbox

    assert inbox_of(IncomingCall("sip", "a", "16505550100", "", "6505559999")) == "inbox"
    assert inbox_of(IncomingCall("sip", "b", "1", "", "+16505559999")) == "16505550001"
    assert inbox_of(IncomingCall("sip", "c", "1", "", "+16505559999"), "quest lab 42") == "lab"
    assert inbox_of(IncomingCall("sip", "d", "+16505550100", "", "6505558888")) == "billing"
    assert inbox_of(IncomingCall("sip", "e", "+16505550111", "", "6505558888")) == "inbox"


def test_a_blocked_caller_is_refused_only_for_that_accounts_inbox(
    store: InboundStore, inboxes: InboxRepo, accounts: AccountRepo, clock: FrozenClock
) -> None:
    owner = _account(accounts, clock, "+16505550001")
    mine = inboxes.for_account(owner)
    inboxes.add_rule(mine.id, called="*9999")
    inboxes.add_block(owner, "+1 650 555 0100", "junk fax")
    blocked = store.screen(IncomingCall("sip", "x", "+16505550100", "", "+16505559999"))
    assert isinstance(blocked, Refuse) and blocked.block.note == "junk fax"
    elsewhere = store.screen(IncomingCall("sip", "y", "+16505550100", "", "+16505558888"))
    assert isinstance(elsewhere, Accept) and elsewhere.inbox.name == "inbox"
    assert isinstance(store.screen(IncomingCall("sip", "z", "", "", "9999")), Accept)
    inboxes.add_block(None, "*")
    assert isinstance(store.screen(IncomingCall("sip", "w", "", "", "9999")), Refuse)


@pytest.mark.parametrize(("pattern", "why"), [("abc", "digits"), ("*", None), ("+", "no digits")])
def test_patterns_are_checked(inboxes: InboxRepo, pattern: str, why: str | None) -> None:
    inbox = inboxes.ensure("x")
    if why is None:
        assert inboxes.add_rule(inbox.id, called=pattern).called == "*"
        return
    with pytest.raises(ValueError, match=why):
        inboxes.add_rule(inbox.id, called=pattern)


def test_a_reception_finished_twice_keeps_the_first_outcome(
    store: InboundStore, tmp_path: Path
) -> None:
    reception = store.begin(CALL)
    assert reception is not None
    fax_tiff(reception.path, 2)
    first = reception.finish(ReceptionFacts(pages=2, complete=True))
    # a second receiver recovering the same row, its spool file already gone
    again = store.finish(first.id, reception.path, ReceptionFacts(pages=0, complete=False))
    assert (again.state, again.pages, again.blob_key) == (
        InboundState.RECEIVED,
        2,
        first.blob_key,
    )


def test_a_fax_to_an_accounts_own_number_reaches_it_without_a_rule(
    store: InboundStore,
    inboxes: InboxRepo,
    accounts: AccountRepo,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    _account(accounts, clock, "16505550001")
    other = inboxes.ensure("other")
    inboxes.add_rule(other.id, caller="*0199")
    tiff = fax_tiff(tmp_path / "in.tif", 1)
    facts = ReceptionFacts(pages=1, complete=True)
    mine = store.ingest(IncomingCall("sip", "a", "+15550100", "", "+1 650 555 0001"), tiff, facts)
    ruled = store.ingest(IncomingCall("sip", "b", "+15550199", "", "16505550001"), tiff, facts)
    national = store.ingest(IncomingCall("sip", "c", "+15550100", "", "6505550001"), tiff, facts)
    assert mine is not None and ruled is not None and national is not None
    assert (mine.inbox, ruled.inbox, national.inbox) == ("16505550001", "other", "inbox")


def test_the_default_email_setting_reaches_an_inbox_made_before_it(
    engine: Engine,
    blobs: LocalBlobStore,
    inboxes: InboxRepo,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    def store_with(default_email: str) -> InboundStore:
        settings = Inbound(default_email=default_email)
        return InboundStore(
            engine, blobs, inboxes, settings, tmp_path / "spool", clock=clock, receiver="t@here"
        )

    assert store_with("").default_inbox().email == ()
    later = store_with("desk@example.com, Office@Example.com").default_inbox()
    assert later.email == ("desk@example.com", "Office@Example.com")
    assert store_with("").default_inbox().email == later.email  # unset: left as configured
    with pytest.raises(ValueError, match="'desk' is not an email address"):
        Inbound(default_email="desk")
