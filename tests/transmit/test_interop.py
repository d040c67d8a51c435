"""The interoperability matrix: faxout's own T.30 (spandsp) against T.30 stacks that are not
ours — HylaFAX's Class 1 driver and efax — each on an iaxmodem that our IAX2 peer
(``iax2peer.py``) calls or answers. Every far end is started by its test, in the test's own
directory, on free ports; each fax is three pages, checked page by page.

The SIP G.711/T.38 faxout↔faxout cells and the HylaFAX transport end to end have their own
tests (``test_sipfar.py``, ``tests/transmit/sip/``, ``test_hylafax.py``,
``tests/inbound/test_sip_inbound.py``); ``docs/interop.md`` shows the whole matrix.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from faxout.blobs.local import LocalBlobStore
from faxout.clock import FrozenClock
from faxout.db.engine import make_engine
from faxout.db.migrate import upgrade
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.model import InboundFax, InboundState
from faxout.inbound.settings import Inbound
from faxout.inbound.store import InboundStore
from faxout.render.tiff import TiffFWriter
from faxout.transmit.result import Compression, FaxCall, Outcome
from tests.transmit import efax_peer
from tests.transmit import hylafax_server as lab_mod
from tests.transmit.iax2peer import Iax2Call
from tests.transmit.iaxfaxout import faxout_receive, faxout_send
from tests.transmit.pages import read_pages, text_page, write_tiff

pytestmark = pytest.mark.slow

PAGES = 3
ROWS = 1000  # about 13 cm at 196 lpi: three pages take well under a minute at 14 400 bit/s
CALL_LIMIT = 240.0  # wall seconds a three-page call may take before the bridge gives up
_WHY_NOT = lab_mod.missing()

Page = npt.NDArray[np.bool_]


@pytest.fixture(autouse=True)
def _tools() -> None:
    # `make test` installs them (deps/apt-test.txt) and runs as root: missing is a broken set-up.
    assert not _WHY_NOT, f"{_WHY_NOT} (run `make setup-test` as root)"
    assert Path(efax_peer.EFAX).exists(), "efax not installed (apt: efax; `make setup-test`)"


@pytest.fixture
def images() -> list[Page]:
    """The three pages every cell sends, True = white."""
    return [np.array(text_page(40 + n, ROWS), dtype=bool) for n in range(PAGES)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[InboundStore]:
    """faxout's inbound store on a fresh SQLite database, as the gateway builds it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'faxout.db'}")
    upgrade(engine)
    clock = FrozenClock()
    blobs = LocalBlobStore(tmp_path / "documents", tmp_path / "spool-up")
    yield InboundStore(
        engine,
        blobs,
        InboxRepo(engine, clock),
        Inbound(),
        tmp_path / "inbound",
        clock=clock,
        receiver="interop@test",
    )
    engine.dispose()


@pytest.fixture
def iax() -> Iterator[Iax2Call]:
    call = Iax2Call()
    yield call
    call.close()


# ------------------------------------------------------------------------------ page checks


def offset_match(sent: Page, got: Page) -> tuple[int, float]:
    """The rows ``got`` is shifted down by (efax adds blank rows on top for its header, HylaFAX
    images a tag line there) and the share of the sent page's black pixels that differ below
    the top band, at the best shift."""
    band = 64  # rows at the top a sender may write its header into
    best = (0, 1.0)
    black = max(int(np.count_nonzero(~sent[band:])), 1)
    for shift in range(0, 80):
        rows = min(len(sent), len(got) - shift)
        if rows <= band:
            break
        diff = int(np.count_nonzero(sent[band:rows] != got[band + shift : rows + shift]))
        share = diff / black
        if share < best[1]:
            best = (shift, share)
    return best


def assert_pages_match(sent: list[Page], got: list[Page], exact: bool) -> None:
    """As many pages as sent, each the same width; pixel for pixel when ``exact`` (ECM), else
    the same image once the sender's header band is set aside (under 1 % of black pixels off,
    a line error would cost far more)."""
    assert len(got) == len(sent), f"{len(got)} pages arrived of {len(sent)}"
    for n, (a, b) in enumerate(zip(sent, got, strict=True), start=1):
        assert a.shape[1] == b.shape[1], f"page {n}: width {b.shape[1]} != {a.shape[1]}"
        if exact:
            assert a.shape == b.shape, f"page {n}: {b.shape} != {a.shape}"
            assert int(np.count_nonzero(a != b)) == 0, f"page {n} differs"
            continue
        assert len(b) >= len(a) - 2, f"page {n}: {len(b)} rows of {len(a)}"
        shift, share = offset_match(a, b)
        assert share < 0.01, f"page {n}: {share:.2%} of black pixels differ (shift {shift})"


def stored_pages(store: InboundStore, fax: InboundFax, workdir: Path) -> list[Page]:
    """The pages of a received fax as faxout's document store keeps them."""
    out = workdir / f"stored-{fax.id}.tif"
    with store.blobs.open(fax.blob_key or "") as src:
        out.write_bytes(src.read())
    return read_pages(out)


def wait_for(what: str, ok: object, timeout: float) -> None:
    """Poll ``ok()`` every 0.2 s until true (files a far end writes after its call)."""
    deadline = time.monotonic() + timeout
    while not ok():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


# ------------------------------------------------------------------------------ HylaFAX


@pytest.mark.timeout(420)
def test_faxout_sends_to_hylafax(iax: Iax2Call, images: list[Page], tmp_path: Path) -> None:
    doc = write_tiff(tmp_path / "doc.tif", [_image(p) for p in images])
    lab, modem = lab_mod.start_peer_lab(tmp_path / "hylafax", iax.port)
    try:
        fax = FaxCall(doc, "5550101", "interop-hylafax-rx", ident="+1 555 0170")
        result = faxout_send(iax, ("127.0.0.1", modem.port), fax, CALL_LIMIT)
        assert result.outcome is Outcome.OK, (result, lab.log_tail())
        assert (result.pages_sent, result.pages_confirmed) == (PAGES, PAGES)
        assert (result.bit_rate, result.ecm) == (14400, True), result
        wait_for("HylaFAX to file the fax", lambda: lab.received(), 30)
        got = read_pages(lab.received()[0])
    finally:
        lab.stop()
    assert_pages_match(images, got, exact=True)  # ECM: the pages arrive bit for bit


@pytest.mark.timeout(420)
def test_hylafax_sends_to_faxout(
    iax: Iax2Call, images: list[Page], store: InboundStore, tmp_path: Path
) -> None:
    # TIFF-F as the renderer writes it: HylaFAX sends it as it is (no re-imaging).
    doc = tmp_path / "doc-f.tif"
    with TiffFWriter(doc, lpi=196, compression=Compression.MMR) as writer:
        for page in images:
            writer.add_page(~page)
    lab, _modem = lab_mod.start_peer_lab(tmp_path / "hylafax", iax.port)
    try:
        sendfax = lab_mod.binary("sendfax") or "sendfax"
        argv = [sendfax, "-h", lab.address, "-n", "-m", "-t", "1", "-d", "5550102", str(doc)]
        submitted = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, check=False, env=lab_mod.ENV
        )
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        fax = faxout_receive(iax, store, wait=90, limit=CALL_LIMIT)
    finally:
        log = lab.log_tail()
        lab.stop()
    assert isinstance(fax, InboundFax)
    assert (fax.state, fax.pages) == (InboundState.RECEIVED, PAGES), (fax, log)
    assert (fax.bit_rate, fax.ecm) == (14400, True), fax
    assert_pages_match(images, stored_pages(store, fax, tmp_path), exact=False)


# ------------------------------------------------------------------------------ efax


@pytest.mark.timeout(420)
def test_faxout_sends_to_efax(iax: Iax2Call, images: list[Page], tmp_path: Path) -> None:
    doc = write_tiff(tmp_path / "doc.tif", [_image(p) for p in images])
    modem = lab_mod.start_iaxmodem(tmp_path, "e", iax.port)
    efax = efax_peer.receive(modem, tmp_path / "efax")
    try:
        fax = FaxCall(doc, "5550103", "interop-efax-rx", ident="+1 555 0170")
        result = faxout_send(iax, ("127.0.0.1", modem.port), fax, CALL_LIMIT)
        assert efax.wait(60) == 0, efax.log_tail()
    finally:
        efax.stop()
        modem.stop()
    assert result.outcome is Outcome.OK, (result, efax.log_tail())
    assert (result.pages_sent, result.pages_confirmed) == (PAGES, PAGES)
    assert (result.bit_rate, result.ecm, result.compression) == (14400, False, Compression.MH)
    assert_pages_match(images, [read_pages(p)[0] for p in efax.pages()], exact=False)


@pytest.mark.timeout(420)
def test_efax_sends_to_faxout(
    iax: Iax2Call, images: list[Page], store: InboundStore, tmp_path: Path
) -> None:
    pages = efax_peer.g3_pages(images, tmp_path / "send", lpi=196)
    modem = lab_mod.start_iaxmodem(tmp_path, "f", iax.port)
    efax = efax_peer.send(modem, tmp_path / "efax", "5550104", pages)
    try:
        fax = faxout_receive(iax, store, wait=60, limit=CALL_LIMIT)
        assert efax.wait(60) == 0, efax.log_tail()
    finally:
        efax.stop()
        modem.stop()
    assert isinstance(fax, InboundFax)
    assert (fax.state, fax.pages) == (InboundState.RECEIVED, PAGES), (fax, efax.log_tail())
    assert (fax.bit_rate, fax.ecm, fax.compression) == (14400, False, "mh"), fax
    assert fax.csid == efax_peer.IDENT
    assert_pages_match(images, stored_pages(store, fax, tmp_path), exact=False)


def _image(page: Page) -> Image.Image:
    return Image.fromarray(page)
