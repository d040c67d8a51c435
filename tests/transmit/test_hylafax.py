"""The HylaFAX transport: a fake hfaxd for the protocol and the outcome mapping, then a real
private HylaFAX with two iaxmodems calling each other over IAX2 on loopback."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from faxout.clock import FrozenClock
from faxout.errors import TransportError
from faxout.render.tiff import TiffFWriter
from faxout.transmit.hylafax import (
    HylaFaxConfig,
    HylaFaxTransport,
    JobStatus,
    check_hylafax,
    classify,
    job_parameters,
)
from faxout.transmit.result import CallProgress, Compression, FaxCall, Modem, Outcome
from tests.transmit import hylafax_server as lab_mod
from tests.transmit.pages import read_pages, text_page

pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------------- fake hfaxd

# JPARM replies of finished jobs. "ok" and "no answer" were recorded from the real HylaFAX
# 6.0.7 + iaxmodem runs below; the others use HylaFAX 6.0's status texts for those dial results.
DONE_OK = {"STATE": "DONE", "STATUS": "", "STATUSCODE": "000", "NPAGES": "2", "TOTPAGES": "2"}
NO_ANSWER = {
    "STATE": "FAILED",
    "STATUS": "No answer from remote; too many attempts to dial",
    "STATUSCODE": "333",
    "NPAGES": "0",
    "TOTPAGES": "2",
    "TOTDIALS": "1",
}


class FakeHfaxd(socketserver.ThreadingTCPServer):
    """Speaks just enough of the HylaFAX client protocol; each ``JOB n`` moves on one snapshot."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, snapshots: list[dict[str, str]], **opts: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.snapshots = snapshots
        self.opts = opts
        self.commands: list[str] = []
        self.uploads: list[bytes] = []
        self.polls = 0
        self.submits = 0


class _Handler(socketserver.StreamRequestHandler):
    server: FakeHfaxd

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        srv = self.server
        self.reply("220 fake server (HylaFAX (tm) Version 6.0.7) ready.")
        data_sock: socket.socket | None = None
        snap: dict[str, str] = {}
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().strip()
            srv.commands.append(line)
            verb, _, arg = line.partition(" ")
            if verb == "USER":
                self.reply("331 Password required for faxout.")
            elif verb == "PASS":
                if arg == srv.opts.get("password", "pw"):
                    self.reply("230 User faxout logged in.")
                else:
                    self.reply("530 Login incorrect.")
            elif verb == "PASV":
                data_sock = socket.create_server(("127.0.0.1", 0))
                port = data_sock.getsockname()[1]
                self.reply(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
            elif verb == "STOT" and data_sock is not None:
                self.reply("150 FILE: /tmp/doc9.tif (Opening new data connection).")
                conn, _ = data_sock.accept()
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                conn.close()
                data_sock.close()
                srv.uploads.append(b"".join(chunks))
                self.reply("226 Transfer complete (FILE: /tmp/doc9.tif).")
            elif verb == "JNEW":
                self.reply("200 New job created: jobid: 7 groupid: 7.")
            elif verb == "JOB" and arg == "DEFAULT":
                self.reply("200 Current job: (default).")
            elif verb == "JOB":
                if srv.opts.get("drop_on_poll"):
                    return
                snap = srv.snapshots[min(srv.polls, len(srv.snapshots) - 1)]
                srv.polls += 1
                self.reply("200 Current job: jobid: 7 groupid: 7.")
            elif verb == "JPARM" and " " in arg:
                name = arg.split(" ", 1)[0]
                self.reply(f"213 {name} set.")
            elif verb == "JPARM":
                if arg not in snap:
                    self.reply(f"500 Cannot access job {arg.lower()}.")
                elif snap[arg] == "!moving":
                    self.reply("500 Cannot access job state; job deleted by another party.")
                    snap = {**snap, arg: "ACTIVE"}
                else:
                    self.reply(f"213 {snap[arg]}")
            elif verb == "JSUBM":
                srv.submits += 1
                if srv.submits <= srv.opts.get("race", 0):
                    self.reply("504 Cannot submit job 7; null or missing DIALSTRING parameter.")
                else:
                    self.reply("200 Job 7 submitted.")
            elif verb == "QUIT":
                self.reply("221 Goodbye.")
                return
            else:  # TYPE, FORM, NOOP, JKILL, MODE ...
                self.reply(f"200 {verb} command successful.")


@pytest.fixture
def fake() -> Iterator[Any]:
    servers: list[FakeHfaxd] = []

    def make(snapshots: list[dict[str, str]], **opts: Any) -> FakeHfaxd:
        srv = FakeHfaxd(snapshots, **opts)
        threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def config_for(srv: FakeHfaxd, **extra: Any) -> HylaFaxConfig:
    port = srv.server_address[1]
    return HylaFaxConfig(
        port=port, user="faxout", password=SecretStr("pw"), poll_interval=0.01, **extra
    )


def test_protocol_flow_and_ok(fake: Any, two_pages: Path) -> None:
    srv = fake([{"STATE": "SUSPENDED"}, {"STATE": "ACTIVE", "NPAGES": "1"}, DONE_OK])
    events: list[CallProgress] = []
    call = FaxCall(two_pages, "+1 555 0101", "att-42", ident="+1 555 0100")
    result = HylaFaxTransport(config_for(srv, modem="ttyIAX0")).send(call, events.append)
    assert result.outcome is Outcome.OK and result.success
    assert (result.pages_in_document, result.pages_confirmed) == (2, 2)
    assert srv.uploads == [two_pages.read_bytes()]
    cmds = srv.commands
    for expected in (
        "USER faxout",
        "FORM TIFF",
        "STOT",
        "JOB DEFAULT",
        "JNEW",
        "JPARM MAXDIALS 1",
        "JPARM MAXTRIES 1",
        "JPARM NOTIFY none",
        'JPARM DIALSTRING "+1 555 0101"',
        'JPARM EXTERNAL "+1 555 0101"',
        'JPARM JOBINFO "att-42"',
        'JPARM TSI "+1 555 0100"',
        'JPARM TAGLINE ""',  # the pages carry faxout's header: HylaFAX adds none
        "JPARM USETAGLINE YES",
        'JPARM MODEM "ttyIAX0"',
        "JPARM DOCUMENT /tmp/doc9.tif",
        "JSUBM",
        "JOB 7",
    ):
        assert expected in cmds, expected
    assert cmds.index("JPARM DOCUMENT /tmp/doc9.tif") < cmds.index("JSUBM")
    # hfaxd tells pages done: page 2 is under way once page 1 is, the last has no next.
    assert [e.stage for e in events] == ["dialing", "page", "sending", "page", "hangup"]
    assert [e.page for e in events if e.stage in ("page", "sending")] == [1, 2, 2]


@pytest.mark.parametrize(
    ("final", "outcome", "confirmed"),
    [
        (NO_ANSWER, Outcome.NO_ANSWER, 0),
        ({"STATE": "FAILED", "STATUS": "Busy signal detected", "TOTPAGES": "2"}, Outcome.BUSY, 0),
        (
            {"STATE": "FAILED", "STATUS": "No carrier detected", "TOTPAGES": "2"},
            Outcome.NO_ANSWER,
            0,
        ),
        (
            {"STATE": "FAILED", "STATUS": "No answer (T.30 T1 timeout)", "TOTPAGES": "2"},
            Outcome.NOT_FAX,
            0,
        ),
        (
            {"STATE": "FAILED", "STATUS": "Data connection established (wanted fax)"},
            Outcome.NOT_FAX,
            0,
        ),
        (
            {"STATE": "FAILED", "STATUS": "Remote has no T.4 receiver capability"},
            Outcome.REJECTED,
            0,
        ),
        (
            {
                "STATE": "FAILED",
                "STATUS": "No response to MPS repeated 3 tries",
                "STATUSCODE": "105",
                "NPAGES": "1",
                "TOTPAGES": "2",
            },
            Outcome.PARTIAL,
            1,
        ),
        (
            {"STATE": "FAILED", "STATUS": "Failure to train remote modem", "TOTPAGES": "2"},
            Outcome.FAILED,
            0,
        ),
    ],
)
def test_outcome_mapping(
    fake: Any, two_pages: Path, final: dict[str, str], outcome: Outcome, confirmed: int
) -> None:
    srv = fake([{"STATE": "PENDING"}, {"STATE": "ACTIVE"}, final])
    result = HylaFaxTransport(config_for(srv)).send(
        FaxCall(two_pages, "5550101", "att-1"), lambda _: None
    )
    assert result.outcome is outcome
    assert result.pages_confirmed == confirmed
    assert not result.success
    assert final["STATUS"] in result.t30_text
    assert "hylafax job 7 FAILED" in result.notes[0]


def test_classify_rules() -> None:
    assert classify(JobStatus(1, "DONE", npages=2, totpages=2)) is Outcome.OK
    assert classify(JobStatus(1, "DONE", npages=1, totpages=2)) is Outcome.PARTIAL
    # pages went through: whatever the text, it is partial
    assert classify(JobStatus(1, "FAILED", "Busy", npages=1, totpages=3)) is Outcome.PARTIAL
    assert classify(JobStatus(1, "FAILED", "something new")) is Outcome.FAILED


def test_job_parameters() -> None:
    cfg = HylaFaxConfig(job_timeout=2 * 86400 + 3 * 3600 + 61)
    call = FaxCall(
        Path("x.tif"),
        '555"0101\n',
        "id-1",
        modems=(Modem.V29, Modem.V27TER),
        ecm=False,
        compressions=(Compression.MH, Compression.MMR),
    )
    params = job_parameters(call, "standard", cfg)
    assert 'DIALSTRING "5550101"' in params  # quotes and control characters dropped
    assert "LASTTIME 020302" in params
    assert "VRES 98" in params and "USEECM NO" in params
    assert "DATAFORMAT g32d" in params  # MMR needs ECM
    assert "BEGBR 9600" in params
    assert 'TAGLINE ""' in params
    assert not any(p.startswith(("TSI", "MODEM")) for p in params)


def test_submit_race_is_retried(fake: Any, two_pages: Path) -> None:
    srv = fake([DONE_OK], race=1)
    result = HylaFaxTransport(config_for(srv)).send(
        FaxCall(two_pages, "5550101", "a"), lambda _: None
    )
    assert result.outcome is Outcome.OK
    assert srv.commands.count("JSUBM") == 2
    assert srv.commands.count('JPARM DIALSTRING "5550101"') == 2


def test_transient_state_error_is_retried(fake: Any, two_pages: Path) -> None:
    srv = fake([{"STATE": "!moving"}, DONE_OK])
    result = HylaFaxTransport(config_for(srv)).send(
        FaxCall(two_pages, "5550101", "a"), lambda _: None
    )
    assert result.outcome is Outcome.OK


def test_lost_connection_is_a_transport_error(fake: Any, two_pages: Path) -> None:
    srv = fake([DONE_OK], drop_on_poll=True)
    with pytest.raises(TransportError, match="JOB 7"):
        HylaFaxTransport(config_for(srv)).send(FaxCall(two_pages, "5550101", "a"), lambda _: None)


def test_never_dialled_is_a_transport_error(fake: Any, two_pages: Path) -> None:
    srv = fake([{"STATE": "FAILED", "STATUS": "Kill time expired", "TOTPAGES": "2"}])
    with pytest.raises(TransportError, match="never dialled"):
        HylaFaxTransport(config_for(srv)).send(FaxCall(two_pages, "5550101", "a"), lambda _: None)


class _Ticking(FrozenClock):
    """Each reading is a thousand seconds on: the job never finishes in time."""

    def __init__(self, ticks: Iterator[int]) -> None:
        super().__init__()
        self._ticks = ticks

    def monotonic(self) -> float:
        return float(next(self._ticks))


def test_deadline_kills_the_job(fake: Any, two_pages: Path) -> None:
    srv = fake([{"STATE": "PENDING"}])
    ticks = iter(range(0, 10_000, 1000))
    transport = HylaFaxTransport(config_for(srv, job_timeout=60), clock=_Ticking(ticks))
    with pytest.raises(TransportError, match="did not finish"):
        transport.send(FaxCall(two_pages, "5550101", "a"), lambda _: None)
    assert "JKILL" in srv.commands


def test_refused_document_is_an_outcome(fake: Any, tmp_path: Path) -> None:
    srv = fake([DONE_OK])
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    result = HylaFaxTransport(config_for(srv)).send(FaxCall(bad, "1", "a"), lambda _: None)
    assert result.outcome is Outcome.FAILED and "document refused" in result.t30_text
    assert "STOT" not in srv.commands


def test_check_hylafax(fake: Any) -> None:
    srv = fake([DONE_OK])
    assert check_hylafax(config_for(srv)) is None
    wrong = config_for(srv).model_copy(update={"password": SecretStr("nope")})
    reason = check_hylafax(wrong)
    assert reason is not None and "530" in reason
    closed = HylaFaxConfig(port=lab_mod.free_port(), connect_timeout=2)
    reason = check_hylafax(closed)
    assert reason is not None and "login failed" in reason


# ------------------------------------------------------------------------ the real HylaFAX

_WHY_NOT = lab_mod.missing()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab_mod.HylaFaxLab]:
    # `make test` installs the packages and CI runs as root: missing means a broken set-up.
    assert not _WHY_NOT, f"{_WHY_NOT} (run `make setup-test` as root)"
    running = lab_mod.start_lab(tmp_path_factory.mktemp("hylafax"), modems=True)
    try:
        yield running
    finally:
        running.stop()


def lab_config(lab: lab_mod.HylaFaxLab) -> HylaFaxConfig:
    return HylaFaxConfig(
        port=lab.port,
        user=lab_mod.USER,
        password=SecretStr(lab_mod.PASSWORD),
        modem=lab.tx,
        poll_interval=0.5,
        job_timeout=300,
    )


@pytest.fixture
def tiff_f(tmp_path: Path) -> Path:
    """Two pages as the renderer writes them (TIFF-F: MinIsWhite, one strip a page, G4).

    HylaFAX sends such a file as it is. Pillow's TIFFs (MinIsBlack, several strips) would be
    re-imaged through PostScript by HylaFAX's tiff2fax, padded to the page length.
    """
    path = tmp_path / "two-f.tif"
    with TiffFWriter(path, lpi=196, compression=Compression.MMR) as writer:
        for n in (1, 2):
            writer.add_page(~np.array(text_page(n), dtype=bool))
    return path


@pytest.mark.timeout(240)
def test_real_fax_through_hylafax_and_iaxmodem(lab: lab_mod.HylaFaxLab, tiff_f: Path) -> None:
    two_pages = tiff_f
    assert check_hylafax(lab_config(lab)) is None
    events: list[CallProgress] = []
    before = set(lab.received())
    call = FaxCall(two_pages, "5550101", "hylafax-real-1", ident="+1 555 0100")
    result = HylaFaxTransport(lab_config(lab)).send(call, events.append)
    assert result.outcome is Outcome.OK, (result, lab.log_tail())
    assert result.success and result.pages_confirmed == 2
    assert events[0].stage == "dialing" and events[-1].stage == "hangup"
    assert [e.page for e in events if e.stage == "page"] == [1, 2]
    new = sorted(set(lab.received()) - before)
    assert len(new) == 1
    # ECM (on by default) delivers the T.6 pages exactly: compare the decoded bitmaps.
    sent, got = read_pages(two_pages), read_pages(new[0])
    assert len(got) == len(sent) == 2
    for n, (a, b) in enumerate(zip(sent, got, strict=True), start=1):
        assert a.shape == b.shape, f"page {n}: {a.shape} != {b.shape}"
        assert int(np.count_nonzero(a != b)) == 0, f"page {n} differs"


@pytest.mark.timeout(240)
def test_real_no_answer(lab: lab_mod.HylaFaxLab, two_pages: Path) -> None:
    lab.stop_answering()  # the receiving modem rings, nobody picks up
    result = HylaFaxTransport(lab_config(lab)).send(
        FaxCall(two_pages, "5550102", "hylafax-real-2"), lambda _: None
    )
    assert result.outcome is Outcome.NO_ANSWER, (result, lab.log_tail())
    assert result.pages_sent == 0 and "No answer" in result.t30_text
