"""What the command line needs of the inbox repository, on each engine: giving an inbox to an
account or sharing it, counting its faxes, and removing it only when nothing points at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from faxout.accounts.repo import AccountRepo
from faxout.clock import FrozenClock
from faxout.inbound.inboxes import InboxError, InboxRepo, InUse
from faxout.inbound.listing import EveryInbox, InboundFaxes, InboundViewer
from faxout.inbound.model import IncomingCall, ReceptionFacts
from faxout.inbound.store import InboundStore
from tests.inbound.faxfiles import fax_tiff

SALES = "4930123"


def _receive(store: InboundStore, tiff: Path, ref: str, to: str = SALES) -> int:
    call = IncomingCall("test", ref, "+16505550100", "", to)
    fax = store.ingest(call, tiff, ReceptionFacts(pages=1, complete=True))
    assert fax is not None
    return fax.id


def test_an_inbox_is_given_to_an_account_and_shared_again(
    inboxes: InboxRepo, accounts: AccountRepo, clock: FrozenClock
) -> None:
    owner = accounts.add("16505551234", email="a@example.com", password_hash="x", now=clock.now())
    sales = inboxes.ensure("sales")
    assert inboxes.assign(sales.id, owner.id).account_id == owner.id
    assert [i.name for i in inboxes.of_account(owner.id)] == ["sales"]
    assert inboxes.assign(sales.id, None).account_id is None
    assert inboxes.of_account(owner.id) == []
    with pytest.raises(InboxError, match="no inbox 999"):
        inboxes.assign(999, None)


def test_counts_and_a_removal_refused_while_rules_or_faxes_point_at_it(
    store: InboundStore, inboxes: InboxRepo, tmp_path: Path
) -> None:
    sales, spare = inboxes.ensure("sales"), inboxes.ensure("spare")
    rule = inboxes.add_rule(sales.id, called=SALES)
    tiff = fax_tiff(tmp_path / "a.tif", 1)
    first, second = _receive(store, tiff, "a"), _receive(store, tiff, "b")
    faxes = InboundFaxes(store.engine, store.blobs, store.clock)
    faxes.mark_read(EveryInbox(), first)
    assert inboxes.counts() == {sales.id: (1, 2)}  # one unread of two; spare holds none

    assert inboxes.remove(sales.id) == InUse((rule.id,), 2)
    # Moving the faxes is not done while a rule still holds the inbox: nothing changes.
    assert inboxes.remove(sales.id, move_faxes_to=spare.id) == InUse((rule.id,), 2)
    assert inboxes.counts() == {sales.id: (1, 2)}
    assert inboxes.remove_rule(rule.id)
    assert inboxes.remove(sales.id) == InUse((), 2)
    assert inboxes.remove(sales.id, move_faxes_to=spare.id) is None
    assert inboxes.by_name("sales") is None
    assert inboxes.counts() == {spare.id: (1, 2)}
    moved = faxes.get(EveryInbox(), second)
    assert moved is not None and moved.inbox == "spare"

    with pytest.raises(InboxError, match="no inbox"):
        inboxes.remove(sales.id)
    with pytest.raises(InboxError, match="another inbox"):
        inboxes.remove(spare.id, move_faxes_to=spare.id)
    with pytest.raises(InboxError, match="no inbox 999"):
        inboxes.remove(spare.id, move_faxes_to=999)
    empty = inboxes.ensure("empty")
    assert inboxes.remove(empty.id) is None and inboxes.get(empty.id) is None


def test_every_inbox_sees_what_no_account_viewer_does(
    store: InboundStore, inboxes: InboxRepo, accounts: AccountRepo, tmp_path: Path
) -> None:
    owner = accounts.add(
        "16505551234", email="a@example.com", password_hash="x", now=store.clock.now()
    )
    inboxes.add_rule(inboxes.for_account(owner.id).id, called=SALES)
    tiff = fax_tiff(tmp_path / "a.tif", 1)
    own, shared = _receive(store, tiff, "a"), _receive(store, tiff, "b", to="18005550199")
    faxes = InboundFaxes(store.engine, store.blobs, store.clock)
    some_operator = InboundViewer(owner.id + 1, operator=True)
    assert [f.id for f in faxes.page(some_operator)] == [shared]
    assert [f.id for f in faxes.page(EveryInbox())] == [shared, own]
