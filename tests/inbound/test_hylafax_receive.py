"""Receiving through HylaFAX: the RCVFMT and xferfaxlog lines parsed (no server), then a real
private HylaFAX whose answering iaxmodem receives a fax that the poller picks up into the
inbound store: whole, once across polls and restarts, deleted only after the commit."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from faxout.accounts.repo import AccountRepo
from faxout.blobs.local import LocalBlobStore
from faxout.clock import FrozenClock, SystemClock
from faxout.db.engine import make_engine, reading
from faxout.db.migrate import upgrade
from faxout.db.tables import inbound_faxes, inbound_mails
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.model import InboundState, IncomingCall
from faxout.inbound.settings import Inbound
from faxout.inbound.store import InboundStore
from faxout.ops.gateway import build_gateway
from faxout.ops.receivers import Receivers
from faxout.ops.settings import Settings
from faxout.render.tiff import TiffFWriter
from faxout.transmit.hylafax import HfaxdSession, HylaFaxConfig, HylaFaxTransport, job_parameters
from faxout.transmit.hylafax_inbound import (
    RCVFMT,
    HylaFaxReceiver,
    QueuedFax,
    RecvRecord,
    incoming_call,
    keep_whole_pages,
    parse_listing,
    parse_xferlog,
    reception_facts,
)
from faxout.transmit.result import Compression, FaxCall, Outcome
from tests.inbound.faxfiles import fax_tiff
from tests.transmit import hylafax_server as lab_mod
from tests.transmit.pages import read_pages, text_page

# ---------------------------------------------------------------------- parsing, no server

# Recorded from hfaxd 6.0.7 (LIST recvq with our RCVFMT, as administrator) and its xferfaxlog.
DONE_LINE = (
    "fax000000001.tif\t \t1796232268\t3\t14400\t196\t0:00:51\t2-D MMR\t5550100\t"
    "faxout test\tIAXmodem\t"
)
BUSY_LINE = "fax000000002.tif\t*\t1796232300\t1\t14400\t196\t0:00:09\t2-D MMR\t5550100\t\t\t"
XFERLOG = (
    '12/02/26 17:23\tRECV\t\tttyIAXfo13772r\trecvq/fax000000001.tif\t""\tfax\t'
    '"+1.800.555.1212"\t"IAXmodem"\t2220073\t3\t0:00:53\t0:00:53\t""\t"faxout test"\t'
    '"5550100"\t"<NONE>::5550101"\t""\t"00 46 1F 22"\n'
    '12/02/26 17:23\tCALL\t\tttyIAXfo13772r\t\t""\tfax\t"+1.800.555.1212"\t""\t0\t0\t'
    '0:00:56\t0:00:56\t""\t"faxout test"\t"5550100"\t"<NONE>::5550101"\t""\t""\n'
    '12/02/26 17:30\tRECV\t\tttyIAXfo13772r\trecvq/fax000000002.tif\t""\tfax\t'
    '"+1.800.555.1212"\t"<UNSPECIFIED>"\t2220073\t1\t0:00:20\t0:00:20\t'
    '"RSPREC error/got DCN (sender abort)"\t""\t""\t""\t""\t""\n'
)


def test_a_finished_listing_line() -> None:
    fax = parse_listing(DONE_LINE + "\r\n")
    assert fax == QueuedFax(
        name="fax000000001.tif",
        receiving=False,
        mtime=1796232268,
        pages=3,
        bit_rate=14400,
        vres=196,
        seconds=51.0,
        data_format="2-D MMR",
        caller="5550100",
        caller_name="faxout test",
        tsi="IAXmodem",
        error="",
    )
    assert fax.call_ref == "recvq/fax000000001.tif@1796232268"


def test_a_file_being_received_and_lines_that_are_not_ours() -> None:
    busy = parse_listing(BUSY_LINE)
    assert busy is not None and busy.receiving and busy.caller_name == ""
    assert parse_listing("-rw----    3  10             IAXmodem   17:24 fax000000001.tif") is None
    assert parse_listing("seqf\t \t1\t0\t0\t0\t\t\t\t\t\t") is None
    # the error is the last field and may hold tabs of its own
    odd = parse_listing(DONE_LINE + "Failure\tto receive")
    assert odd is not None and odd.error == "Failure\tto receive"
    assert RCVFMT.count("\t") == 11 and "%q" not in RCVFMT


def test_xferfaxlog_records_and_the_facts_they_make() -> None:
    records = parse_xferlog(XFERLOG)
    assert set(records) == {"recvq/fax000000001.tif", "recvq/fax000000002.tif"}
    whole = records["recvq/fax000000001.tif"]
    assert whole == RecvRecord("recvq/fax000000001.tif", "ttyIAXfo13772r", "+1.800.555.1212", "")
    fax = parse_listing(DONE_LINE)
    assert fax is not None
    facts = reception_facts(fax, whole)
    assert facts.complete and facts.pages == 3 and facts.csid == "IAXmodem"
    assert (facts.bit_rate, facts.compression, facts.ecm, facts.line_seconds) == (
        14400,
        "mmr",
        True,
        51.0,
    )
    assert "received on modem ttyIAXfo13772r" in facts.notes
    # no DID: the modem's number; with one: the DID
    assert incoming_call(fax, whole, "").called == "+1.800.555.1212"
    call = incoming_call(fax, whole, "5550101")
    assert (call.transport, call.call_ref, call.caller, call.caller_name, call.called) == (
        "hylafax",
        "recvq/fax000000001.tif@1796232268",
        "5550100",
        "faxout test",
        "5550101",
    )
    broken = reception_facts(fax, records["recvq/fax000000002.tif"])
    assert not broken.complete and broken.t30_text == "RSPREC error/got DCN (sender abort)"
    # no record (the log is not readable): the listing's own error field decides
    assert reception_facts(fax, None).complete
    assert not reception_facts(parse_listing(DONE_LINE + "Call dropped") or fax, None).complete


def _cut_off_page(path: Path) -> Path:
    """``path`` with a last directory that has no strips, as faxgetty leaves a page cut off."""
    data = bytearray(path.read_bytes())
    with Image.open(path) as image:
        image.seek(getattr(image, "n_frames", 1) - 1)
        last = image.tag_v2.offset
    assert last is not None
    link = last + 2 + 12 * int.from_bytes(data[last : last + 2], "little")
    if len(data) % 2:
        data.append(0)
    data[link : link + 4] = len(data).to_bytes(4, "little")
    # what HylaFAX 6.0.7 left of a page 2 cut off: no length, no coding, no strips
    entries = [(254, 2), (256, 1728), (257, 0), (258, 1), (259, 1), (262, 0), (277, 1)]
    data += len(entries).to_bytes(2, "little")
    for tag, value in entries:
        data += struct.pack("<HHII", tag, 4, 1, value)
    data += (0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def test_a_page_cut_off_is_unlinked_from_the_file(tmp_path: Path) -> None:
    path = _cut_off_page(fax_tiff(tmp_path / "cut.tif", 2))
    with pytest.raises((OSError, SyntaxError)):
        read_pages(path)  # a reader that takes every frame (the PDF) fails on it
    before = path.read_bytes()
    assert keep_whole_pages(path) == 2
    after = path.read_bytes()
    assert len(after) == len(before)
    assert sum(a != b for a, b in zip(after, before, strict=True)) <= 4  # one link cleared
    assert len(read_pages(path)) == 2
    assert keep_whole_pages(path) == 2 and path.read_bytes() == after


class _Session:
    """Stands in for hfaxd in ``HylaFaxReceiver._take``: RETR copies ``tiff``."""

    def __init__(self, tiff: Path) -> None:
        self.tiff = tiff
        self.fetched: list[str] = []

    def download(self, path: str, dest: Path) -> None:
        self.fetched.append(path)
        dest.write_bytes(self.tiff.read_bytes())


def test_a_file_waits_for_its_xferfaxlog_record_then_goes_in_without(
    store: InboundStore, clock: FrozenClock, tmp_path: Path
) -> None:
    fax = parse_listing(DONE_LINE)
    assert fax is not None
    session = _Session(fax_tiff(tmp_path / "in.tif", 3))
    receiver = HylaFaxReceiver(HylaFaxConfig(), store, clock)
    offset = fax.mtime - clock.now().timestamp()
    clock.advance(offset + 10)  # 10 s after faxgetty let the file go: its record may follow
    assert receiver._take(session, fax, {}) is None  # type: ignore[arg-type]
    assert session.fetched == []
    clock.advance(25)
    stored = receiver._take(session, fax, {})  # type: ignore[arg-type]
    assert stored is not None and stored.state is InboundState.RECEIVED
    assert session.fetched == ["recvq/fax000000001.tif"]
    # the log not readable at all (no ADMIN): no wait, the listing's facts only
    fresh = parse_listing(BUSY_LINE.replace("\t*\t", "\t \t"))
    assert fresh is not None
    assert receiver._take(session, fresh, None) is not None  # type: ignore[arg-type]


# ------------------------------------------------------------------------ the real HylaFAX


@dataclass
class Sent:
    """The fax the module's lab received, and what polls saw while it came in."""

    document: Path
    name: str = ""
    polls_while_receiving: list[int] = field(default_factory=list)


def _store(engine: Engine, root: Path, clock: FrozenClock) -> InboundStore:
    return InboundStore(
        engine,
        LocalBlobStore(root / "documents", root / "spool-up"),
        InboxRepo(engine, clock),
        Inbound(),
        root / "inbound",
        clock=clock,
        receiver="hylafax@test",
    )


def _config(lab: lab_mod.HylaFaxLab, **extra: object) -> HylaFaxConfig:
    values: dict[str, object] = {
        "port": lab.port,
        "user": lab_mod.USER,
        "password": SecretStr(lab_mod.PASSWORD),
        "admin_password": SecretStr(lab_mod.ADMIN_PASSWORD),
        "modem": lab.tx,
        "poll_interval": 0.5,
        "job_timeout": 300,
        "receive_did_field": 4,  # Debian's iaxmodem config: NMBR, NAME, ANID, NDID
    }
    values.update(extra)
    return HylaFaxConfig.model_validate(values)


def _listing(config: HylaFaxConfig) -> list[QueuedFax]:
    session = HfaxdSession(config)
    try:
        session.command(f"ADMIN {config.admin_password.get_secret_value()}")
        session.command(f'RCVFMT "{RCVFMT}"')
        return [q for q in map(parse_listing, session.listing("LIST recvq")) if q]
    finally:
        session.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab_mod.HylaFaxLab]:
    why_not = lab_mod.missing()
    assert not why_not, f"{why_not} (run `make setup-test` as root)"
    running = lab_mod.start_lab(tmp_path_factory.mktemp("hylafax"), modems=True)
    try:
        lab_mod.enable_admin(running)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def sent(lab: lab_mod.HylaFaxLab, tmp_path_factory: pytest.TempPathFactory) -> Sent:
    """A two-page fax sent from one iaxmodem to the other, polled for while it arrives."""
    root = tmp_path_factory.mktemp("sent")
    # the inbound test pages, written as TIFF-F so that HylaFAX sends them as they are
    source = fax_tiff(root / "pages.tif", 2, height=1100)
    document = root / "document.tif"
    with TiffFWriter(document, lpi=196, compression=Compression.MMR) as writer:
        for page in read_pages(source):
            writer.add_page(~page)
    engine = make_engine(f"sqlite:///{root / 'poll.db'}")
    upgrade(engine)
    store = _store(engine, root, FrozenClock())
    config = _config(lab)
    poller = HylaFaxReceiver(config, store, SystemClock())
    result: list[Outcome] = []
    call = FaxCall(document, "5550101", "hylafax-receive-1")
    thread = threading.Thread(
        target=lambda: result.append(HylaFaxTransport(config).send(call, lambda _: None).outcome)
    )
    record = Sent(document)
    thread.start()
    try:
        while thread.is_alive():
            if any(q.receiving for q in _listing(config)):
                stored = len(poller.poll())
                # busy before and after: busy throughout (a file never goes back to busy)
                if any(q.receiving for q in _listing(config)):
                    record.polls_while_receiving.append(stored)
            time.sleep(0.5)
    finally:
        thread.join()
        engine.dispose()
    assert result == [Outcome.OK], lab.log_tail()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = [q for q in _listing(config) if not q.receiving]
        if done:
            record.name = done[0].name
            break
        time.sleep(0.5)
    assert record.name, "HylaFAX listed no finished fax"
    return record


def _rows(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(inbound_faxes)).scalar_one())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_fax_still_being_received_is_not_picked_up(sent: Sent) -> None:
    assert sent.polls_while_receiving, "no poll ran while HylaFAX was receiving"
    assert set(sent.polls_while_receiving) == {0}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_received_fax_is_stored_whole_once_across_polls_and_restarts(
    lab: lab_mod.HylaFaxLab, sent: Sent, store: InboundStore, blobs: LocalBlobStore, engine: Engine
) -> None:
    config = _config(lab)
    first = HylaFaxReceiver(config, store, SystemClock()).poll()
    assert len(first) == 1
    fax = first[0]
    assert fax.state is InboundState.RECEIVED, fax
    assert (fax.transport, fax.pages, fax.csid) == ("hylafax", 2, "IAXmodem")  # tx's TSI
    assert (fax.caller, fax.caller_name, fax.called) == ("5550100", "faxout test", "5550101")
    assert (fax.bit_rate, fax.compression, fax.ecm) == (14400, "mmr", True)
    assert fax.call_ref.startswith(f"recvq/{sent.name}@")
    assert fax.blob_key is not None
    got = lab.workdir / f"stored-{engine.dialect.name}.tif"
    with blobs.open(fax.blob_key) as src:
        got.write_bytes(src.read())
    pages, stored = read_pages(sent.document), read_pages(got)
    assert len(stored) == len(pages) == 2
    for n, (a, b) in enumerate(zip(pages, stored, strict=True), start=1):
        assert a.shape == b.shape, f"page {n}: {a.shape} != {b.shape}"
        assert int(np.count_nonzero(a != b)) == 0, f"page {n} differs"
    # a second pass, and a restarted poller, store nothing again
    assert HylaFaxReceiver(config, store, SystemClock()).poll() == []
    restarted = _store(engine, lab.workdir / f"restart-{engine.dialect.name}", FrozenClock())
    assert HylaFaxReceiver(config, restarted, SystemClock()).poll() == []
    assert _rows(engine) == 1
    assert sent.name in {q.name for q in _listing(config)}, "kept without receive_delete"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_dialled_number_routes_the_fax_to_an_account(
    lab: lab_mod.HylaFaxLab,
    sent: Sent,
    store: InboundStore,
    inboxes: InboxRepo,
    accounts: AccountRepo,
    clock: FrozenClock,
) -> None:
    account = accounts.add(
        "+16505550001", email="alice@example.com", password_hash="x", now=clock.now()
    )
    alice = inboxes.for_account(account.id)
    inboxes.add_rule(alice.id, called="5550101")  # the DID iaxmodem passes on (NDID)
    (fax,) = HylaFaxReceiver(_config(lab), store, SystemClock()).poll()
    assert (fax.called, fax.inbox, fax.account_id) == ("5550101", alice.name, account.id)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_without_a_did_the_modems_number_routes_the_fax(
    lab: lab_mod.HylaFaxLab, sent: Sent, store: InboundStore, inboxes: InboxRepo
) -> None:
    desk = inboxes.ensure("fax-desk")
    inboxes.add_rule(desk.id, called="+1 800 555 1212")  # the modem's FAXNumber
    config = _config(lab, receive_did_field=0)
    (fax,) = HylaFaxReceiver(config, store, SystemClock()).poll()
    assert (fax.called, fax.inbox) == ("+1.800.555.1212", "fax-desk")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_serve_starts_the_poller_when_asked(
    lab: lab_mod.HylaFaxLab, sent: Sent, tmp_path: Path
) -> None:
    hylafax = _config(lab, receive=True, receive_poll_interval=0.2).model_dump()
    hylafax["password"] = lab_mod.PASSWORD
    hylafax["admin_password"] = lab_mod.ADMIN_PASSWORD
    settings = Settings(data_dir=tmp_path / "data", transmit={"hylafax": hylafax})
    gw = build_gateway(settings)
    try:
        upgrade(gw.engine)
        finals: list[int] = []
        receivers = Receivers(gw, on_final=lambda fax: finals.append(fax.id))
        receivers.start()
        try:
            deadline = time.monotonic() + 30
            while not finals and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            receivers.stop()
        assert receivers.running == []
        with reading(gw.engine) as conn:
            rows = conn.execute(select(inbound_faxes.c.id, inbound_faxes.c.call_ref)).all()
            mails = conn.execute(select(inbound_mails.c.inbound_id)).scalars().all()
        assert [r.id for r in rows] == finals and len(finals) == 1
        assert rows[0].call_ref.startswith(f"recvq/{sent.name}@")
        assert mails == finals  # fax-to-email queued with the fax
    finally:
        gw.engine.dispose()


class _CrashBeforeDelete(HylaFaxReceiver):
    """A poller that dies between the commit and DELE."""

    def _remove(self, session: HfaxdSession, fax: QueuedFax) -> None:
        raise RuntimeError("killed before DELE")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_pickup_killed_inside_ingest_is_finished_from_hylafax_again(
    lab: lab_mod.HylaFaxLab, sent: Sent, store: InboundStore, engine: Engine
) -> None:
    config = _config(lab, receive_delete=True)
    (queued,) = [q for q in _listing(config) if q.name == sent.name]
    # killed after the row was committed, with the copy barely begun
    reception = store.begin(IncomingCall("hylafax", queued.call_ref, "5550100", "", "5550101"))
    assert reception is not None
    reception.path.write_bytes(b"II*\0")
    poller = HylaFaxReceiver(config, store, SystemClock())
    (fax,) = poller.recover()
    assert fax.id == reception.inbound_id
    assert (fax.state, fax.pages, fax.csid) == (InboundState.RECEIVED, 2, "IAXmodem")
    assert poller.recover() == []
    # the poll finds it stored; its file stays for the next test, whose poller deletes it
    with pytest.raises(RuntimeError, match="killed before DELE"):
        _CrashBeforeDelete(config, store, SystemClock()).poll()
    assert _rows(engine) == 1


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # it deletes the module's fax
def test_the_queue_file_is_deleted_only_after_the_commit(
    lab: lab_mod.HylaFaxLab, sent: Sent, store: InboundStore, engine: Engine
) -> None:
    config = _config(lab, receive_delete=True)
    with pytest.raises(RuntimeError, match="killed before DELE"):
        _CrashBeforeDelete(config, store, SystemClock()).poll()
    assert _rows(engine) == 1
    assert sent.name in {q.name for q in _listing(config)}, "deleted before it was stored"
    assert HylaFaxReceiver(config, store, SystemClock()).poll() == []
    assert _rows(engine) == 1
    assert sent.name not in {q.name for q in _listing(config)}
    assert not (lab.spool / "recvq" / sent.name).exists()


def _text_pages(root: Path, pages: int) -> Path:
    """``pages`` pages of text as TIFF-F: several seconds each on the line."""
    document = root / f"text-{pages}.tif"
    with TiffFWriter(document, lpi=196, compression=Compression.MMR) as writer:
        for n in range(1, pages + 1):
            writer.add_page(~np.array(text_page(n), dtype=bool))
    return document


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # it breaks the sending modem
def test_a_reception_broken_off_is_kept_as_partial(
    lab: lab_mod.HylaFaxLab, sent: Sent, store: InboundStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    config = _config(lab)
    document = _text_pages(tmp_path, 4)
    before = {q.name for q in _listing(config)}
    # submitted without following it: its sender is stopped half-way
    session = HfaxdSession(config)
    try:
        name = session.upload(document)
        jobid = session.new_job()
        call = FaxCall(document, "5550101", "hylafax-receive-broken")
        session.submit(job_parameters(call, "fine", config), name, jobid)
    finally:
        session.close()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        busy = [q for q in _listing(config) if q.receiving and q.pages >= 1]
        if busy:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"page 1 never arrived: {lab.log_tail()}")
    # the line drops in the middle of the call: the sending modem dies without a hangup
    modem = lab.procs.pop(f"iaxmodem-{lab.tx}")
    modem.kill()
    modem.wait(10)
    while time.monotonic() < deadline:
        done = [q for q in _listing(config) if q.name not in before and not q.receiving]
        if done:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the broken reception never ended")
    stored = {f.call_ref: f for f in HylaFaxReceiver(config, store, SystemClock()).poll()}
    fax = stored[done[0].call_ref]
    assert fax.state is InboundState.PARTIAL, fax
    assert fax.t30_text, "HylaFAX's error is kept"
    assert 1 <= fax.pages < 4
    assert fax.blob_key is not None
    got = tmp_path / "partial.tif"
    with blobs.open(fax.blob_key) as src:
        got.write_bytes(src.read())
    kept, sent_pages = read_pages(got), read_pages(document)
    assert len(kept) == fax.pages
    for n, (a, b) in enumerate(zip(sent_pages, kept, strict=False), start=1):
        assert int(np.count_nonzero(a != b)) == 0, f"page {n} differs"
