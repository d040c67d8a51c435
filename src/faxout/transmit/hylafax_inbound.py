"""Receiving through HylaFAX: its received queue (``recvq``), picked up through hfaxd into the
inbound store, as HylaFAX's own ``faxrcvd`` would see each fax (docs/inbound.md, "HylaFAX").

One pass (``HylaFaxReceiver.poll``):

1. ``LIST recvq`` with our ``RCVFMT`` (tab-separated, the free text last). A file HylaFAX is
   still writing is listed with ``*`` (faxgetty holds its lock until the document is over):
   it is skipped, as is every file whose fax is stored already (its ``call_ref``).
2. ``log/xferfaxlog`` (an administrator may read it) gives each file's ``RECV`` record: the
   modem, the modem's number and the error, if any. hfaxd's own ``%e`` is empty in 6.0.7, so
   this record is what tells a broken reception (``partial``) from a whole one. faxgetty writes
   it just after releasing the file: a file without a record waits a pass (at most
   ``_LOG_SETTLE`` seconds), unless the log cannot be read at all.
3. ``RETR`` into a private temporary file, then ``InboundStore.ingest``: durable (the image in
   the document store, the row committed) when it returns.
4. Only then, and only with ``receive_delete``, ``DELE``. A crash before it leaves the file,
   the next pass lists it again, finds its fax stored, and deletes it then. A file whose
   stored fax holds fewer pages than HylaFAX counted is never deleted (a warning says so).

A poller killed inside ``ingest`` leaves its row ``receiving``: ``recover`` (at start, before
``InboundStore.recover``) finishes it from HylaFAX's file again, whole.

**Identity.** ``call_ref`` is ``recvq/<file>@<mtime>``: HylaFAX reuses a name only after the
file was removed, and the new file has a new modification time, so a reused name is a new
fax; the same file seen again, by this process or the next, is the same fax, stored once.
"""

from __future__ import annotations

import logging
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from faxout.clock import Clock
from faxout.db.engine import reading
from faxout.db.tables import inbound_faxes
from faxout.errors import TransportError
from faxout.files import make_private
from faxout.inbound.image import read_pages
from faxout.inbound.model import InboundFax, InboundState, IncomingCall, ReceptionFacts
from faxout.inbound.store import InboundStore
from faxout.periodic import Periodic
from faxout.transmit.hylafax import HfaxdSession
from faxout.transmit.settings import HylaFaxConfig

log = logging.getLogger("faxout.inbound")

TRANSPORT = "hylafax"
# file, being received, mtime (time_t), pages, bit rate, vertical res, time receiving, data
# format, CIDNumber, CIDName, TSI, error. No %q: it crashes hfaxd 6.0.7's listing.
RCVFMT = "\t".join(("%f", "%z", "%Z", "%p", "%b", "%r", "%h", "%d", "%j", "%i", "%s", "%e"))
XFERLOG = "log/xferfaxlog"
_LOG_SETTLE = 30.0  # seconds a finished file may wait for its xferfaxlog record
_COMPRESSIONS = {"1-D MH": "mh", "2-D MR": "mr", "2-D MMR": "mmr"}
_UNSET = ("", "<NONE>", "<UNSPECIFIED>", "<unknown>")
_IMAGE_DESCRIPTION = 270


@dataclass(frozen=True)
class QueuedFax:
    """One line of our ``RCVFMT`` listing of ``recvq``."""

    name: str
    receiving: bool
    mtime: int
    pages: int
    bit_rate: int | None
    vres: int | None
    seconds: float | None
    data_format: str
    caller: str
    caller_name: str
    tsi: str
    error: str

    @property
    def path(self) -> str:
        """The file as hfaxd names it."""
        return f"recvq/{self.name}"

    @property
    def call_ref(self) -> str:
        """The fax's identity in the inbound store (see the module's docstring)."""
        return f"{self.path}@{self.mtime}"


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _duration(text: str) -> float | None:
    """``H:MM:SS`` (or ``MM:SS``) as seconds."""
    parts = text.strip().split(":")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return float(seconds)


def _text(value: str) -> str:
    value = value.strip()
    return "" if value in _UNSET else value


def parse_listing(line: str) -> QueuedFax | None:
    """A ``LIST recvq`` line in ``RCVFMT``; None for a line that is not one (hfaxd lists a
    file it cannot read as a fax in the plain ``ls`` form)."""
    fields = line.rstrip("\r\n").split("\t", 11)
    if len(fields) != 12 or not fields[0].startswith("fax"):
        return None
    name, busy, mtime, pages, rate, vres, took, fmt, number, cname, tsi, error = fields
    stamp = _int(mtime)
    if stamp is None or "/" in name:
        return None
    return QueuedFax(
        name=name,
        receiving=busy.strip() == "*",
        mtime=stamp,
        pages=_int(pages) or 0,
        bit_rate=_int(rate) or None,
        vres=_int(vres) or None,
        seconds=_duration(took),
        data_format=fmt.strip(),
        caller=_text(number),
        caller_name=_text(cname),
        tsi=_text(tsi),
        error=error.strip(),
    )


@dataclass(frozen=True)
class RecvRecord:
    """A ``RECV`` line of HylaFAX's ``xferfaxlog``: the modem, its number, the error."""

    qfile: str
    device: str
    local_number: str
    reason: str


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def parse_xferlog(text: str) -> dict[str, RecvRecord]:
    """The last ``RECV`` record of each queue file (``recvq/fax….tif``) in ``text``."""
    records: dict[str, RecvRecord] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        # date, RECV, commid, device, qfile, jobtag, user, local number, TSI, params, pages,
        # job time, connect time, reason, CIDName, CIDNumber, call id, owner, DCS
        if len(fields) < 14 or fields[1] != "RECV" or not fields[4]:
            continue
        qfile = fields[4].strip()
        records[qfile] = RecvRecord(
            qfile=qfile,
            device=fields[3].strip(),
            local_number=_unquote(fields[7]),
            reason=_unquote(fields[13]),
        )
    return records


def callid_field(tiff: Path, index: int) -> str:
    """Line ``index`` of the first page's ImageDescription (faxgetty writes the TSI, then one
    line per CallIDPattern); '' when absent or unset."""
    if index <= 0:
        return ""
    try:
        with Image.open(tiff) as image:
            tags = getattr(image, "tag_v2", {})
            description = tags.get(_IMAGE_DESCRIPTION, "")
    except (UnidentifiedImageError, OSError):
        return ""
    lines = str(description).split("\n")
    return _text(lines[index]) if index < len(lines) else ""


def keep_whole_pages(path: Path) -> int:
    """Unlink the TIFF directories after the last page that decodes; the page count kept.

    faxgetty writes a page's directory before its data: a reception broken off mid-page leaves
    a last directory without strips, and a reader that takes every frame (the PDF) fails on
    it. The chain is cut after the last whole page, in place; no image byte changes.
    """
    good = len(read_pages(path))
    if good == 0:
        return 0
    with path.open("r+b") as fh:
        head = fh.read(8)
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            return good
        order = "<" if head[:2] == b"II" else ">"
        magic, offset = struct.unpack(order + "HI", head[2:8])
        if magic != 42:  # BigTIFF: HylaFAX does not write it
            return good
        for number in range(1, good + 1):
            fh.seek(offset)
            raw = fh.read(2)
            if len(raw) < 2:
                break
            (entries,) = struct.unpack(order + "H", raw)
            link = offset + 2 + 12 * entries
            fh.seek(link)
            raw = fh.read(4)
            if len(raw) < 4:
                break
            (offset,) = struct.unpack(order + "I", raw)
            if number == good and offset:
                fh.seek(link)
                fh.write(struct.pack(order + "I", 0))
                log.info("hylafax: %s: dropped what followed page %d (cut off)", path, good)
            if not offset:
                break
    return good


def incoming_call(fax: QueuedFax, record: RecvRecord | None, did: str) -> IncomingCall:
    """The call as routing sees it: the DID, else the modem's number, else its device."""
    called = did or (record.local_number if record else "") or (record.device if record else "")
    return IncomingCall(TRANSPORT, fax.call_ref, fax.caller, fax.caller_name, called)


def reception_facts(fax: QueuedFax, record: RecvRecord | None) -> ReceptionFacts:
    """What HylaFAX says of the reception; an error (either source) makes it partial."""
    error = fax.error or (record.reason if record else "")
    compression = _COMPRESSIONS.get(fax.data_format)
    notes = [f"HylaFAX {fax.path}"]
    if record and record.device:
        notes.append(f"received on modem {record.device}")
    return ReceptionFacts(
        pages=fax.pages,
        complete=not error,
        csid=fax.tsi,
        bit_rate=fax.bit_rate,
        ecm=True if compression == "mmr" else None,  # T.6 runs over ECM only
        compression=compression,
        line_seconds=fax.seconds,
        t30_text=error,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class _Stored:
    inbound_id: int
    state: str
    pages: int


class HylaFaxReceiver:
    """Polls HylaFAX's received queue into ``store`` (``start``/``close``, or ``poll``)."""

    def __init__(self, config: HylaFaxConfig, store: InboundStore, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._loop: Periodic | None = None
        self._warned: set[str] = set()  # files kept for missing pages: said once

    # -- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Poll every ``receive_poll_interval`` seconds on a thread of its own."""
        if not self.config.admin_password.get_secret_value():
            log.warning(
                "hylafax: no transmit.hylafax.admin_password: hfaxd lists only the received "
                "faxes everyone may read (HylaFAX's RecvFileMode is 0600 by default, so none)"
            )
        self._loop = Periodic(
            "hylafax-receive", self._step, self.config.receive_poll_interval, self._failed
        )
        self._loop.start()

    def close(self) -> None:
        """Stop polling (after the pass in progress)."""
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def _step(self) -> None:
        self.poll()

    def _failed(self, exc: Exception) -> None:
        log.warning(
            "hylafax: could not look at the received queue on %s:%d: %s (check "
            "transmit.hylafax: host, user, password, admin_password); trying again",
            self.config.host,
            self.config.port,
            exc,
        )

    # -- one pass ---------------------------------------------------------------------------

    def _open(self) -> tuple[HfaxdSession, list[QueuedFax]]:
        """A session (ADMIN when configured, our RCVFMT) and its listing of ``recvq``."""
        session = HfaxdSession(self.config)
        try:
            secret = self.config.admin_password.get_secret_value()
            if secret:
                session.command(f"ADMIN {secret}")
            session.command(f'RCVFMT "{RCVFMT}"')
            queued = [q for q in map(parse_listing, session.listing("LIST recvq")) if q]
        except BaseException:
            session.close()
            raise
        return session, queued

    def poll(self) -> list[InboundFax]:
        """One look at the queue: store every finished fax not stored yet, delete what is
        stored (with ``receive_delete``). The faxes stored by this pass."""
        session, queued = self._open()
        try:
            finished = [q for q in queued if not q.receiving]
            stored = self._stored(q.call_ref for q in finished)
            records: dict[str, RecvRecord] | None = None
            new: list[InboundFax] = []
            for fax in finished:
                known = stored.get(fax.call_ref)
                if known is None:
                    if records is None:
                        records = self._records(session)
                    try:
                        fax_row = self._take(session, fax, records)
                    except TransportError as exc:  # this file only: the others go on
                        log.warning("hylafax: %s not picked up: %s", fax.path, exc)
                        continue
                    if fax_row is None:
                        continue  # waits for its xferfaxlog record
                    new.append(fax_row)
                    known = _Stored(fax_row.id, fax_row.state.value, fax_row.pages)
                self._done_with(session, fax, known)
            return new
        finally:
            session.close()

    def recover(self) -> list[InboundFax]:
        """Finish the ingests a poller on this host was killed in (rows still ``receiving``)
        from HylaFAX's file again, whole. A row whose file is gone is left to
        ``InboundStore.recover`` (partial, with the pages copied before the kill)."""
        c = inbound_faxes.c
        with reading(self.store.engine) as conn:
            rows = conn.execute(
                select(c.id, c.call_ref, c.spool_path)
                .where(
                    c.transport == TRANSPORT,
                    c.state == InboundState.RECEIVING.value,
                    c.receiver == self.store.receiver,
                )
                .order_by(c.id)
            ).all()
        if not rows:
            return []
        session, queued = self._open()
        try:
            listed = {q.call_ref: q for q in queued if not q.receiving}
            records = self._records(session)
            done = []
            for row in rows:
                fax = listed.get(row.call_ref)
                if fax is None:
                    continue
                path = Path(row.spool_path or self.store.spool / f"{row.id}.tif")
                session.download(fax.path, path)
                make_private(path)
                keep_whole_pages(path)
                record = records.get(fax.path) if records is not None else None
                finished = self.store.finish(row.id, path, reception_facts(fax, record))
                log.warning(
                    "hylafax: finished inbound fax %d from %s again (its poller was stopped)",
                    finished.id,
                    fax.path,
                    extra={"inbound_id": finished.id, "call_id": fax.call_ref},
                )
                done.append(finished)
            return done
        finally:
            session.close()

    def _stored(self, refs: Iterable[str]) -> dict[str, _Stored]:
        wanted = list(refs)
        found: dict[str, _Stored] = {}
        c = inbound_faxes.c
        with reading(self.store.engine) as conn:
            for start in range(0, len(wanted), 500):  # a kept queue grows: bounded IN lists
                rows = conn.execute(
                    select(c.call_ref, c.id, c.state, c.pages).where(
                        c.transport == TRANSPORT, c.call_ref.in_(wanted[start : start + 500])
                    )
                ).all()
                found.update({r.call_ref: _Stored(r.id, r.state, r.pages) for r in rows})
        return found

    def _records(self, session: HfaxdSession) -> dict[str, RecvRecord] | None:
        """The xferfaxlog's RECV records; None when the log cannot be read (no admin)."""
        with tempfile.TemporaryDirectory(dir=self.store.spool) as tmp:
            dest = Path(tmp) / "xferfaxlog"
            try:
                session.download(XFERLOG, dest)
            except TransportError as exc:
                log.info("hylafax: %s not readable (%s): no modem or error per fax", XFERLOG, exc)
                return None
            return parse_xferlog(dest.read_text(errors="replace"))

    def _take(
        self, session: HfaxdSession, fax: QueuedFax, records: dict[str, RecvRecord] | None
    ) -> InboundFax | None:
        record = records.get(fax.path) if records is not None else None
        age = self.clock.now().timestamp() - fax.mtime
        if records is not None and record is None and age < _LOG_SETTLE:
            return None
        with tempfile.TemporaryDirectory(dir=self.store.spool) as tmp:
            copy = Path(tmp) / fax.name
            session.download(fax.path, copy)
            keep_whole_pages(copy)
            did = callid_field(copy, self.config.receive_did_field)
            call = incoming_call(fax, record, did)
            stored = self.store.ingest(call, copy, reception_facts(fax, record))
        if stored is None:  # stored meanwhile, by another poller
            again = self._stored([fax.call_ref]).get(fax.call_ref)
            if again is None:
                raise TransportError(f"hylafax: {fax.call_ref} was neither stored nor new")
            fax_row = self.store.get(again.inbound_id)
            assert fax_row is not None
            return fax_row
        log.info(
            "hylafax: %s stored as inbound fax %d (%s, %d page(s))",
            fax.path,
            stored.id,
            stored.state.value,
            stored.pages,
            extra={"inbound_id": stored.id, "call_id": fax.call_ref},
        )
        return stored

    def _done_with(self, session: HfaxdSession, fax: QueuedFax, known: _Stored) -> None:
        """Delete the queue file of a stored fax, when asked and when nothing is missing."""
        if not self.config.receive_delete or known.state == InboundState.RECEIVING.value:
            return
        if known.pages < fax.pages:
            if fax.call_ref in self._warned:
                return
            self._warned.add(fax.call_ref)
            log.warning(
                "hylafax: %s kept: inbound fax %d holds %d of its %d page(s)",
                fax.path,
                known.inbound_id,
                known.pages,
                fax.pages,
                extra={"inbound_id": known.inbound_id, "call_id": fax.call_ref},
            )
            return
        self._remove(session, fax)
        log.info(
            "hylafax: deleted %s (inbound fax %d)",
            fax.path,
            known.inbound_id,
            extra={"inbound_id": known.inbound_id, "call_id": fax.call_ref},
        )

    def _remove(self, session: HfaxdSession, fax: QueuedFax) -> None:
        session.delete(fax.path)
