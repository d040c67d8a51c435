"""``hylafax``: send through a HylaFAX server, as a client of its protocol (hfaxd, TCP 4559).

One HylaFAX job per attempt: the document is uploaded (``STOT``), a job is created with
``MAXDIALS 1``, ``MAXTRIES 1`` and ``NOTIFY none`` (retries stay ours), our call id goes into
``JOBINFO``, and the job is polled (``JOB n`` + ``JPARM STATE/STATUS/NPAGES/…``) until it is
``DONE`` or ``FAILED``. HylaFAX's status text is then mapped onto our outcomes (see
``classify``). No Python library speaks this protocol; it is FTP-like, so ``ftplib`` carries it.
Every socket or protocol failure leaves this module as ``faxout.errors.TransportError``.
"""

from __future__ import annotations

import ftplib
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from faxout.clock import Clock, SystemClock
from faxout.errors import TransportError
from faxout.transmit.preflight import checked, refused
from faxout.transmit.result import (
    CallProgress,
    CallResult,
    Compression,
    FaxCall,
    Modem,
    Outcome,
    PageResult,
)
from faxout.transmit.settings import HylaFaxConfig
from faxout.transmit.transport import ProgressSink

# ftplib raises these (plus OSError and EOFError) for everything that goes wrong on the wire.
_WIRE_ERRORS = (OSError, EOFError, ftplib.Error)


@dataclass(frozen=True)
class JobStatus:
    """What hfaxd tells about one job (``JPARM`` queries; None when the server has no answer)."""

    jobid: int
    state: str
    status: str = ""
    statuscode: str | None = None
    npages: int = 0
    totpages: int = 0
    ndials: int = 0
    totdials: int = 0
    ntries: int = 0
    tottries: int = 0
    commid: str | None = None

    @property
    def finished(self) -> bool:
        """True once HylaFAX is done with the job, either way."""
        return self.state in ("DONE", "FAILED")


# Dial results (HylaFAX's CallStatus texts, 6.0) by outcome; matched case-insensitively, first
# match wins (so the T.30 "No answer (T.30 T1 timeout)" is not a fax, not no answer).
# "No carrier detected" is what a modem says when nothing answered within its
# carrier timeout (S7) as often as after a voice answer, so it counts as no answer (retried).
_STATUS_RULES: tuple[tuple[Outcome, tuple[str, ...]], ...] = (
    (Outcome.BUSY, ("busy signal", "busy")),
    (
        Outcome.NOT_FAX,
        (
            "t.30 t1 timeout",
            "data connection",
            "voice connection",
            "wanted fax",
            "no response to dis",
            "remote is not a fax",
        ),
    ),
    (
        Outcome.REJECTED,
        (
            "no t.4 receiver capability",
            "no receiver capability",
            "remote fax cannot receive",
            "not capable",
            "does not support",
            "invalid number",
            "unknown number",
            "rejected",
        ),
    ),
    (
        Outcome.NO_ANSWER,
        ("no answer from remote", "no carrier detected", "no answer", "ring timeout"),
    ),
)
# Failures where no call happened at all: the server (not the line) is the problem.
_SERVER_PROBLEMS = ("no local dialtone", "kill time expired", "modem not ready", "blocked")


def classify(job: JobStatus) -> Outcome:
    """Our outcome for a finished HylaFAX job.

    ``DONE`` with every page sent is ``ok``. Otherwise, before any page went through, the
    status text decides (busy, no answer, not a fax, rejected); once pages went through, the
    call failed part-way (``partial``); anything else is ``failed``.
    """
    pages_all = job.totpages > 0 and job.npages >= job.totpages
    if job.state == "DONE" and pages_all:
        return Outcome.OK
    if job.npages > 0:
        return Outcome.PARTIAL
    text = job.status.lower()
    for outcome, needles in _STATUS_RULES:
        if any(n in text for n in needles):
            return outcome
    return Outcome.FAILED


def _clean(value: str, limit: int = 100) -> str:
    """A JPARM string argument: printable ASCII, no quotes, bounded."""
    kept = "".join(c for c in value if 32 <= ord(c) < 127 and c != '"')
    return kept[:limit]


_BIT_RATES = {Modem.V17: 14400, Modem.V29: 9600, Modem.V27TER: 4800}
_DATA_FORMATS = {Compression.MH: "g31d", Compression.MR: "g32d", Compression.MMR: "g4"}
_VRES = {"standard": 98, "fine": 196, "superfine": 391}
_FILE_RE = re.compile(r"FILE:\s*(\S+?)\)?\.?\s*$")
_JOBID_RE = re.compile(r"jobid:\s*(\d+)")
_RACE_RE = re.compile(r"null or missing \w+ parameter", re.I)


def job_parameters(call: FaxCall, resolution: str | None, config: HylaFaxConfig) -> list[str]:
    """The ``JPARM`` settings of one attempt's job, in order (without ``DOCUMENT``)."""
    number = _clean(call.number, 60)
    minutes = max(1, math.ceil(config.job_timeout / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    params = [
        f'FROMUSER "{_clean(config.from_user, 60)}"',
        "SENDTIME NOW",
        f"LASTTIME {days:02d}{hours:02d}{mins:02d}",
        "MAXDIALS 1",
        "MAXTRIES 1",
        "NOTIFY none",
        "SCHEDPRI 127",
        f'DIALSTRING "{number}"',
        f'EXTERNAL "{number}"',
        f'JOBINFO "{_clean(call.call_id)}"',
        f"VRES {_VRES.get(resolution or 'fine', 196)}",
        f"USEECM {'YES' if call.ecm else 'NO'}",
        "PAGECHOP none",
    ]
    if resolution == "superfine":
        params.append("USEXVRES YES")
    if call.compressions:
        best = max(call.compressions, key=list(Compression).index)
        if best is Compression.MMR and not call.ecm:
            best = Compression.MR  # T.6 needs ECM
        params.append(f"DATAFORMAT {_DATA_FORMATS[best]}")
    fastest = max((_BIT_RATES[m] for m in call.modems), default=14400)
    if fastest < 14400:  # only cap the rate; otherwise leave HylaFAX's own negotiation alone
        params.append(f"BEGBR {fastest}")
    if call.ident:
        params.append(f'TSI "{_clean(call.ident, 20)}"')
    # The pages carry faxout's header in their band already: an empty TAGLINE of our own,
    # since USETAGLINE NO means "the modem's TagLineFormat", which would image HylaFAX's
    # default header over ours.
    params += ['TAGLINE ""', "USETAGLINE YES"]
    if config.modem:
        params.append(f'MODEM "{_clean(config.modem, 60)}"')
    return params


class HfaxdSession:
    """One logged-in hfaxd control connection. Raises ``TransportError`` for every failure."""

    def __init__(self, config: HylaFaxConfig) -> None:
        self.config = config
        # hfaxd speaks this FTP dialect only, without TLS: keep it on localhost or a private link
        self._ftp = ftplib.FTP(timeout=config.connect_timeout)  # noqa: S321
        try:
            self._ftp.connect(config.host, config.port, timeout=config.connect_timeout)
            self._ftp.login(config.user, config.password.get_secret_value())
            if self._ftp.sock is not None:
                self._ftp.sock.settimeout(config.command_timeout)
        except _WIRE_ERRORS as exc:
            self.close()
            raise self._error("login", exc) from exc

    def _error(self, what: str, exc: BaseException) -> TransportError:
        where = f"{self.config.host}:{self.config.port}"
        detail = str(exc).strip() or type(exc).__name__
        return TransportError(f"hfaxd {where}: {what} failed: {detail}")

    def close(self) -> None:
        """QUIT politely, then drop the connection."""
        if self._ftp.sock is None:
            return
        try:
            self._ftp.quit()
        except _WIRE_ERRORS:
            self._ftp.close()

    def command(self, line: str) -> str:
        """Send one command; return its 2xx reply, else raise ``TransportError``."""
        try:
            reply = self._ftp.sendcmd(line)
        except _WIRE_ERRORS as exc:
            raise self._error(line.split(" ", 1)[0], exc) from exc
        if not reply.startswith("2"):
            raise TransportError(f"hfaxd: {line.split(' ', 1)[0]}: unexpected reply {reply!r}")
        return reply

    def query(self, name: str) -> str | None:
        """``JPARM name`` as a value; None when the server refuses the query (5xx)."""
        try:
            reply = self._ftp.sendcmd(f"JPARM {name}")
        except ftplib.error_perm:
            return None
        except _WIRE_ERRORS as exc:
            raise self._error(f"JPARM {name}", exc) from exc
        lines = reply.splitlines()
        return lines[-1][4:].strip() if lines and lines[-1][:3] == "213" else None

    def upload(self, path: Path) -> str:
        """``STOT`` the file; return the server's name for it (for ``JPARM DOCUMENT``)."""
        try:
            self._ftp.sendcmd("FORM TIFF")
            with path.open("rb") as fh:
                reply = self._ftp.storbinary("STOT", fh)
        except _WIRE_ERRORS as exc:
            raise self._error("upload (STOT)", exc) from exc
        match = _FILE_RE.search(reply)
        if not match:
            raise TransportError(f"hfaxd: STOT reply names no file: {reply!r}")
        return match.group(1)

    def new_job(self) -> int:
        """``JOB DEFAULT`` + ``JNEW``: a fresh job (and group); its id."""
        self.command("JOB DEFAULT")
        reply = self.command("JNEW")
        match = _JOBID_RE.search(reply)
        if not match:
            raise TransportError(f"hfaxd: JNEW reply names no job id: {reply!r}")
        return int(match.group(1))

    def submit(self, params: list[str], document: str, jobid: int) -> None:
        """Set the job's parameters, attach the document and ``JSUBM`` it.

        hfaxd 6.0.7 sometimes answers JSUBM with "504 … null or missing X parameter" although
        the JPARM was acknowledged (it re-read the job file); the parameters are then set again.
        """
        for attempt in range(3):
            for param in params:
                self.command(f"JPARM {param}")
            if attempt == 0:
                self.command(f"JPARM DOCUMENT {document}")
            try:
                self._ftp.sendcmd("JSUBM")
                return
            except ftplib.error_perm as exc:
                if not _RACE_RE.search(str(exc)) or attempt == 2:
                    raise self._error(f"JSUBM of job {jobid}", exc) from exc
            except _WIRE_ERRORS as exc:
                raise self._error(f"JSUBM of job {jobid}", exc) from exc

    def job_status(self, jobid: int) -> JobStatus:
        """The job's state and counters (``JOB n`` + ``JPARM …``)."""
        for attempt in range(5):
            try:
                self._ftp.sendcmd(f"JOB {jobid}")
            except ftplib.error_perm as exc:
                raise self._error(f"JOB {jobid}", exc) from exc
            except _WIRE_ERRORS as exc:
                raise self._error(f"JOB {jobid}", exc) from exc
            state = self.query("STATE")
            if state is not None:
                break
            # "500 Cannot access job state; job deleted by another party": the job is moving
            # from sendq to doneq. Select it again.
            time.sleep(0.05 * (attempt + 1))
        else:
            raise TransportError(f"hfaxd: job {jobid} has no readable state")

        def number(name: str) -> int:
            value = self.query(name)
            try:
                return int(value) if value else 0
            except ValueError:
                return 0

        return JobStatus(
            jobid=jobid,
            state=state.upper(),
            status=self.query("STATUS") or "",
            statuscode=self.query("STATUSCODE"),
            npages=number("NPAGES"),
            totpages=number("TOTPAGES"),
            ndials=number("NDIALS"),
            totdials=number("TOTDIALS"),
            ntries=number("NTRIES"),
            tottries=number("TOTTRIES"),
            commid=self.query("COMMID"),
        )

    def kill(self, jobid: int) -> None:
        """``JKILL`` the job, ignoring a refusal (it may have finished meanwhile)."""
        try:
            self._ftp.sendcmd(f"JOB {jobid}")
            self._ftp.sendcmd("JKILL")
        except _WIRE_ERRORS:
            pass

    # -- the received queue (faxout.transmit.hylafax_inbound) -----------------------------

    def listing(self, command: str) -> list[str]:
        """The lines of a listing (``LIST recvq``), each without its line end."""
        lines: list[str] = []
        try:
            self._ftp.retrlines(command, lines.append)
        except _WIRE_ERRORS as exc:
            raise self._error(command, exc) from exc
        return lines

    def download(self, path: str, dest: Path) -> None:
        """``RETR path`` (binary) into the file ``dest``."""
        try:
            self._ftp.sendcmd("TYPE I")
            with dest.open("wb") as fh:
                self._ftp.retrbinary(f"RETR {path}", fh.write)
        except _WIRE_ERRORS as exc:
            raise self._error(f"RETR {path}", exc) from exc

    def delete(self, path: str) -> None:
        """``DELE path`` on the server."""
        self.command(f"DELE {path}")


@contextmanager
def _session(config: HylaFaxConfig) -> Iterator[HfaxdSession]:
    session = HfaxdSession(config)
    try:
        yield session
    finally:
        session.close()


def check_hylafax(config: HylaFaxConfig) -> str | None:
    """For ``faxout check``: None when an hfaxd login works, else why not."""
    try:
        with _session(config) as session:
            session.command("NOOP")
    except TransportError as exc:
        return str(exc)
    return None


class HylaFaxTransport:
    """The ``FaxTransport`` through a HylaFAX server. Thread-safe: each call is its own
    connection and its own HylaFAX job."""

    def __init__(
        self,
        config: HylaFaxConfig,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self._clock: Clock = clock or SystemClock()

    def send(self, call: FaxCall, progress: ProgressSink) -> CallResult:
        """Submit one HylaFAX job for ``call`` and follow it to its end."""
        start = self._clock.monotonic()
        check = checked(call)
        if not check.ok:
            return refused(check)
        params = job_parameters(call, check.resolution, self.config)
        with _session(self.config) as session:
            document = session.upload(call.document)
            jobid = session.new_job()
            session.submit(params, document, jobid)
            return self._follow(session, call, jobid, check.pages, start, progress)

    def _follow(
        self,
        session: HfaxdSession,
        call: FaxCall,
        jobid: int,
        pages: int,
        start: float,
        progress: ProgressSink,
    ) -> CallResult:
        deadline = start + self.config.job_timeout + 60.0
        active_at: float | None = None
        reported = 0
        while True:
            job = session.job_status(jobid)
            now = self._clock.monotonic()
            if active_at is None and (job.state == "ACTIVE" or job.finished):
                active_at = now
                progress(CallProgress("dialing", 0.0, pages=pages, detail=call.number))
            line = now - active_at if active_at is not None else 0.0
            while reported < job.npages:
                reported += 1
                progress(CallProgress("page", line, page=reported, pages=pages, verdict="MCF"))
                if reported < pages and not job.finished:
                    # hfaxd tells pages done, not the page on the line: the next one is
                    # under way once the last is confirmed (the first shows as dialling).
                    progress(CallProgress("sending", line, page=reported + 1, pages=pages))
            if job.finished:
                return self._result(job, pages, line, now - start, progress)
            if now >= deadline:
                session.kill(jobid)
                raise TransportError(
                    f"HylaFAX job {jobid} ({call.call_id}) did not finish within "
                    f"{self.config.job_timeout:.0f} s (state {job.state}); killed"
                )
            self._clock.sleep(self.config.poll_interval)

    def _result(
        self, job: JobStatus, pages: int, line: float, wall: float, progress: ProgressSink
    ) -> CallResult:
        text = job.status or ("sent" if job.state == "DONE" else "failed")
        lowered = text.lower()
        never_dialled = job.state == "FAILED" and job.totdials == 0 and job.npages == 0
        if never_dialled and any(p in lowered for p in _SERVER_PROBLEMS):
            raise TransportError(f"HylaFAX job {job.jobid} never dialled: {text}")
        outcome = classify(job)
        total = job.totpages or pages
        code = f" (E{job.statuscode})" if job.statuscode and job.statuscode.strip("0") else ""
        progress(CallProgress("hangup", line, detail=text))
        return CallResult(
            outcome=outcome,
            t30_code=0 if outcome is Outcome.OK else None,
            t30_text=f"{text}{code}" if outcome is not Outcome.OK else "OK",
            pages_in_document=total,
            pages_sent=job.npages,
            pages_confirmed=job.npages,
            pages=tuple(PageResult(n, "MCF") for n in range(1, job.npages + 1)),
            line_seconds=round(line, 3),
            wall_seconds=round(wall, 4),
            notes=(
                f"hylafax job {job.jobid} {job.state}, dials {job.totdials}, "
                f"tries {job.tottries}, commid {job.commid or '-'}",
            ),
        )
