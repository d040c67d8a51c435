"""The received faxes a viewer sees, on each engine: visibility by inbox owner (operators see the
shared inboxes too), the filters in SQL, pages by id, and delete keeping a shared image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from faxout.accounts.repo import AccountRepo
from faxout.blobs.local import LocalBlobStore
from faxout.clock import FrozenClock
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.listing import (
    ACTIONS,
    InboundFaxes,
    InboundFilter,
    InboundViewer,
    StillReceivingError,
    parse_states,
)
from faxout.inbound.model import InboundFax, IncomingCall, ReceptionFacts
from faxout.inbound.store import InboundStore
from tests.inbound.faxfiles import fax_tiff

MINE, THEIRS, SHARED = "16505551234", "16505559999", "18005550199"


@pytest.fixture
def owners(accounts: AccountRepo, inboxes: InboxRepo, clock: FrozenClock) -> tuple[int, int]:
    ids = []
    for number in (MINE, THEIRS):
        account = accounts.add(number, email="a@example.com", password_hash="x", now=clock.now())
        inboxes.add_rule(inboxes.for_account(account.id).id, called=number)
        ids.append(account.id)
    return ids[0], ids[1]


@pytest.fixture
def faxes(engine: Engine, blobs: LocalBlobStore, clock: FrozenClock) -> InboundFaxes:
    return InboundFaxes(engine, blobs, clock)


def _receive(
    store: InboundStore, tiff: Path, to: str, ref: str, *, csid: str = "", caller: str = ""
) -> InboundFax:
    call = IncomingCall("test", ref, caller or "+16505550100", "", to)
    fax = store.ingest(call, tiff, ReceptionFacts(pages=1, complete=True, csid=csid))
    assert fax is not None
    return fax


def test_visibility_filters_and_pages(
    store: InboundStore, faxes: InboundFaxes, owners: tuple[int, int], tmp_path: Path
) -> None:
    mine_id, theirs_id = owners
    tiff = fax_tiff(tmp_path / "a.tif", 1)
    a = _receive(store, tiff, MINE, "a", csid="ACME_LEGAL 100%")
    b = _receive(store, tiff, MINE, "b", caller="+14155550111")
    t = _receive(store, tiff, THEIRS, "t")
    s = _receive(store, tiff, SHARED, "s")
    me, operator = InboundViewer(mine_id), InboundViewer(mine_id, operator=True)

    def ids(viewer: InboundViewer = me, **only: Any) -> list[int]:
        return [f.id for f in faxes.page(viewer, InboundFilter(**only))]

    assert ids() == [b.id, a.id]
    assert ids(InboundViewer(theirs_id)) == [t.id]
    assert ids(operator) == [s.id, b.id, a.id]
    assert faxes.get(me, t.id) is None and faxes.get(me, s.id) is None
    assert faxes.inbox_names(operator) == sorted([MINE, "inbox"])
    assert ids(text="acme_legal 100%") == [a.id]  # LIKE's own wildcards are only themselves
    assert ids(text="ACME%LEGAL") == [] and ids(text="e_l") == [a.id]
    assert ids(text="41555") == [b.id]
    assert ids(states=parse_states(["received"]), inbox=MINE) == [b.id, a.id]
    assert [f.id for f in faxes.page(operator, limit=2)] == [s.id, b.id]
    assert [f.id for f in faxes.page(operator, limit=2, before=b.id)] == [a.id]
    ACTIONS["read"](faxes, me, a.id)
    ACTIONS["archive"](faxes, me, b.id)
    assert ids(unread=True) == [b.id] and ids(unread=False) == [a.id]
    assert ids(archived=True) == [b.id] and ids(archived=False) == [a.id]
    assert ACTIONS["read"](faxes, me, t.id) is None  # another's: as if it were not there
    untouched = faxes.get(InboundViewer(theirs_id), t.id)
    assert untouched is not None and untouched.read_at is None
    with pytest.raises(ValueError, match="'sent' is not one of"):
        parse_states(["received,sent"])


def test_delete_keeps_an_image_another_fax_holds(
    store: InboundStore,
    faxes: InboundFaxes,
    blobs: LocalBlobStore,
    owners: tuple[int, int],
    tmp_path: Path,
) -> None:
    me = InboundViewer(owners[0])
    tiff = fax_tiff(tmp_path / "a.tif", 1)
    first, second = _receive(store, tiff, MINE, "1"), _receive(store, tiff, MINE, "2")
    key = first.blob_key
    assert key is not None and second.blob_key == key
    assert faxes.delete(InboundViewer(owners[1]), first.id) is False  # not theirs to delete
    assert faxes.delete(me, first.id) and blobs.exists(key)
    assert faxes.delete(me, second.id) and not blobs.exists(key)
    assert faxes.delete(me, second.id) is False
    reception = store.begin(IncomingCall("test", "3", "", "", MINE))
    assert reception is not None
    with pytest.raises(StillReceivingError):
        faxes.delete(me, reception.inbound_id)
    assert faxes.get(me, reception.inbound_id) is not None
