"""Receiving over SIP into the inbound store: a fax from faxout's own SIP sender lands in its
inbox page for page (G.711 and T.38), a call cut mid-page keeps the pages before the cut, and
a blocked caller is declined (603) before anything is answered — decided by the number in the
Diversion header, as a real SIP peer (SIPp) sends it. Calls run in real time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from faxout.accounts.repo import AccountRepo
from faxout.blobs.local import LocalBlobStore
from faxout.clock import SystemClock
from faxout.db.engine import make_engine, reading
from faxout.db.migrate import upgrade
from faxout.db.tables import inbound_faxes
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.model import InboundState
from faxout.inbound.settings import Inbound
from faxout.inbound.store import InboundStore
from faxout.transmit.result import FaxCall, Outcome
from faxout.transmit.sip.config import SipConfig
from faxout.transmit.sip.receiver import ReceiverConfig, SipReceiver
from faxout.transmit.sip.session import T38Mode
from faxout.transmit.sip.transport import SipTransport
from tests.transmit import sipfar
from tests.transmit.pages import assert_same_pages, text_page, write_tiff
from tests.transmit.sip.conftest import Progress

pytestmark = pytest.mark.slow

DID = "16505559999"


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'faxout.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sip_store(sqlite_engine: Engine, tmp_path: Path) -> InboundStore:
    clock = SystemClock()
    blobs = LocalBlobStore(tmp_path / "documents", tmp_path / "up")
    inboxes = InboxRepo(sqlite_engine, clock)
    return InboundStore(
        sqlite_engine, blobs, inboxes, Inbound(), tmp_path / "spool", clock=clock, receiver="sip@t"
    )


@pytest.fixture
def start_receiver(tmp_path: Path, sip_store: InboundStore) -> Iterator[Callable[..., SipReceiver]]:
    started: list[SipReceiver] = []

    def start(**options: object) -> SipReceiver:
        config = ReceiverConfig(data_dir=tmp_path / "rx", port=0, **options)  # type: ignore[arg-type]
        rx = SipReceiver(config, store=sip_store)
        started.append(rx)
        return rx

    yield start
    for rx in started:
        rx.close()


@pytest.fixture(scope="module")
def doc3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("doc")
    return write_tiff(folder / "three.tif", [text_page(n, 900) for n in (11, 12, 13)])


def _image(store: InboundStore, key: str | None, tmp_path: Path) -> Path:
    assert key is not None, "no image stored"
    out = tmp_path / "stored.tif"
    with store.blobs.open(key) as src:
        out.write_bytes(src.read())
    return out


@pytest.mark.parametrize("t38", [T38Mode.OFF, T38Mode.REQUEST], ids=["g711", "t38"])
def test_a_sip_fax_lands_in_its_accounts_inbox_page_for_page(
    start_receiver: Callable[..., SipReceiver],
    sip_store: InboundStore,
    doc3: Path,
    tmp_path: Path,
    t38: T38Mode,
) -> None:
    accounts = AccountRepo(sip_store.engine)
    owner = accounts.add(
        "+16505550001", email="a@example.com", password_hash="x", now=SystemClock().now()
    )
    inbox = sip_store.inboxes.for_account(owner.id)
    sip_store.inboxes.add_rule(inbox.id, called=DID)
    rx = start_receiver(t38=t38, t38_request_delay=0.5)
    sender = SipTransport(SipConfig(proxy=f"127.0.0.1:{rx.port}", caller_id="16505550100"))
    result = sender.send(FaxCall(doc3, DID, "in-1", ident="Sender Co"), Progress())
    assert result.outcome is Outcome.OK, result
    (got,) = rx.wait_for(1, 30)
    fax = sip_store.get(got.inbound_id or 0)
    assert fax is not None
    assert fax.state is InboundState.RECEIVED
    assert (fax.inbox, fax.account_id) == ("16505550001", owner.id)
    assert (fax.caller, fax.called, fax.csid) == ("16505550100", DID, "Sender Co")
    assert fax.pages == 3 and fax.resolution == "204x196"
    assert fax.bit_rate and fax.ecm is True
    assert any(("t38" if t38 is T38Mode.REQUEST else "audio") in n for n in fax.notes), fax.notes
    assert_same_pages(doc3, _image(sip_store, fax.blob_key, tmp_path))


def test_a_call_cut_in_page_two_keeps_page_one_as_partial(
    start_receiver: Callable[..., SipReceiver], sip_store: InboundStore, doc3: Path, tmp_path: Path
) -> None:
    rx = start_receiver(t38=T38Mode.OFF, hang_up_after_pages=1, hang_up_delay=4.0)
    sender = SipTransport(SipConfig(proxy=f"127.0.0.1:{rx.port}"))
    sender.send(FaxCall(doc3, DID, "cut-1"), Progress())
    (got,) = rx.wait_for(1, 30)
    fax = sip_store.get(got.inbound_id or 0)
    assert fax is not None
    assert (fax.state, fax.pages) == (InboundState.PARTIAL, 1)
    sent_first = write_tiff(tmp_path / "first.tif", [text_page(11, 900)])
    assert_same_pages(sent_first, _image(sip_store, fax.blob_key, tmp_path))


def test_a_blocked_caller_is_declined_before_answer_by_the_diverted_number(
    start_receiver: Callable[..., SipReceiver], sip_store: InboundStore, tmp_path: Path
) -> None:
    why = sipfar.missing("sipp")
    assert not why, f"{why} (run `make setup-test` as root)"
    accounts = AccountRepo(sip_store.engine)
    owner = accounts.add(
        "+16505550001", email="a@example.com", password_hash="x", now=SystemClock().now()
    )
    inbox = sip_store.inboxes.for_account(owner.id)
    sip_store.inboxes.add_rule(inbox.id, called=DID)
    sip_store.inboxes.add_block(owner.id, "+1 650 555 0666", "junk")
    rx = start_receiver(t38=T38Mode.OFF)
    # To names the PBX extension the call was forwarded to; Diversion the DID first dialled:
    # only routing by the Diversion number reaches the account whose list blocks the caller.
    res = sipfar.run_sipp_uac(
        tmp_path,
        "uac_declined",
        f"127.0.0.1:{rx.port}",
        {"callee": "fax", "caller": "16505550666", "to": "4711", "diversion": DID},
        timeout=10,
    )
    assert res.ok, res.errors + res.messages
    assert "SIP/2.0 603 Decline" in res.messages
    with reading(sip_store.engine) as conn:
        assert conn.execute(select(func.count()).select_from(inbound_faxes)).scalar() == 0
