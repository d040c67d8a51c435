"""The inbound store: every incoming call becomes a durable row, every received page a durable
byte on disk, and every finished reception a stored image in its inbox.

**What "durable" means here** (docs/inbound.md):

- When a call is answered (``begin``) its row is committed in state ``receiving`` before the
  first T.30 frame: a receiver that dies later still leaves a trace that ``recover`` finishes.
- ``Reception.page_done`` runs in spandsp's phase D handler, after the page was written to the
  spool file and *before* the confirmation (MCF) goes back to the sender: the file is fsynced
  and the page count committed first, so a page the sender was told arrived is on disk.
- ``Reception.finish`` streams the file into the blob store (durable at ``commit``), then
  commits the final row, then removes the spool file. A crash between two of these steps
  leaves the spool file and the ``receiving`` row, and ``recover`` does the rest again: the
  blob store is content-addressed, so storing the same image twice stores it once.
- ``(transport, call_ref)`` is unique: the same call or queue file seen twice is one fax.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, or_, select, update

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.engine import reading, transaction
from faxout.db.insertnew import insert_new
from faxout.db.tables import inbound_faxes, inbound_mails
from faxout.files import make_private, private_dir
from faxout.inbound.faxes import load_fax
from faxout.inbound.image import read_pages
from faxout.inbound.inboxes import Inbox, InboxRepo
from faxout.inbound.model import InboundFax, InboundState, IncomingCall, ReceptionFacts
from faxout.inbound.routing import Block, blocking, choose
from faxout.inbound.settings import Inbound
from faxout.jobs.events import Event, emit_for_inbound

log = logging.getLogger("faxout.inbound")

FinalHook = Callable[[InboundFax], None]
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Accept:
    """Answer the call: it goes (for now) to ``inbox``."""

    inbox: Inbox


@dataclass(frozen=True)
class Refuse:
    """Do not answer (SIP 603 Decline): ``block`` refuses this caller."""

    inbox: Inbox
    block: Block


def receiver_name(transport: str) -> str:
    """The name a receiver on this host writes in its rows (``sip@host``): a restarted
    receiver recovers the rows its predecessor left."""
    return f"{transport}@{socket.gethostname()}"[:100]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Reception:
    """One call being received: created by ``InboundStore.begin``."""

    def __init__(self, store: InboundStore, inbound_id: int, inbox: Inbox, path: Path) -> None:
        self.store = store
        self.inbound_id = inbound_id
        self.inbox = inbox
        self.path = path  # where the transport writes the TIFF (spandsp's rx_file)
        self._synced_dir = False

    def page_done(self, pages: int) -> None:
        """Page ``pages`` is in the file: make it durable before the sender hears MCF."""
        if self.path.exists():
            _fsync(self.path)
            if not self._synced_dir:
                _fsync(self.path.parent)  # the file's name, written once
                self._synced_dir = True
        now = self.store.clock.now()
        with transaction(self.store.engine) as conn:
            conn.execute(
                update(inbound_faxes)
                .where(inbound_faxes.c.id == self.inbound_id)
                .values(pages=pages, updated_at=now)
            )

    def finish(self, facts: ReceptionFacts) -> InboundFax:
        """The call is over: store the image and the facts, and mark the fax final."""
        return self.store.finish(self.inbound_id, self.path, facts)


class InboundStore:
    """Screens, begins, finishes and recovers receptions; safe in several processes."""

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        inboxes: InboxRepo,
        settings: Inbound,
        spool: Path,
        *,
        clock: Clock,
        receiver: str,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.inboxes = inboxes
        self.settings = settings
        self.spool = private_dir(spool)
        self.clock = clock
        self.receiver = receiver[:100]
        self.hooks: list[FinalHook] = []
        self._default_email = tuple(
            dict.fromkeys(a.strip() for a in settings.default_email.split(",") if a.strip())
        )

    # -- routing ----------------------------------------------------------------------------

    def default_inbox(self) -> Inbox:
        """The shared inbox of faxes no rule claims (made on first use). When
        ``inbound.default_email`` is set it is that inbox's addresses: a setting changed later
        reaches the inbox made earlier."""
        inbox = self.inboxes.ensure(self.settings.default_inbox, None, self.settings.default_email)
        wanted = self._default_email
        if wanted and inbox.email != wanted:
            inbox = self.inboxes.configure(inbox.id, email=wanted)
        return inbox

    def route(self, call: IncomingCall, csid: str | None) -> Inbox:
        """The inbox a call goes to (``csid`` None: still ringing)."""
        rule = choose(self.inboxes.rules(), call.called, call.caller, csid)
        if rule is not None:
            inbox = self.inboxes.get(rule.inbox_id)
            if inbox is not None:
                return inbox
        return self.inboxes.for_number(call.called) or self.default_inbox()

    def screen(self, call: IncomingCall) -> Accept | Refuse:
        """Whether to answer a ringing call: refused when its inbox's account (or everyone)
        blocks the caller."""
        inbox = self.route(call, None)
        block = blocking(self.inboxes.blocks(), call.caller, inbox.account_id)
        if block is not None:
            log.info(
                "refused a call from %s to %s: blocked (block %d%s)",
                call.caller or "a withheld number",
                call.called or "?",
                block.id,
                f", {block.note}" if block.note else "",
                extra={"fields": {"call_id": call.call_ref}},
            )
            return Refuse(inbox, block)
        return Accept(inbox)

    # -- receiving --------------------------------------------------------------------------

    def begin(self, call: IncomingCall, inbox: Inbox | None = None) -> Reception | None:
        """Commit the call's row (``receiving``) and name the spool file the transport writes;
        None when this call was stored already (the same ``call_ref`` again)."""
        inbox = inbox or self.route(call, None)
        now = self.clock.now()
        values = {
            "inbox_id": inbox.id,
            "transport": call.transport[:40],
            "call_ref": call.call_ref[:200],
            "state": InboundState.RECEIVING.value,
            "caller": call.caller[:64],
            "caller_name": call.caller_name[:200],
            "called": call.called[:64],
            "receiver": self.receiver,
            "started_at": now,
            "updated_at": now,
        }
        with transaction(self.engine) as conn:
            new_id = insert_new(conn, inbound_faxes, values)
            if new_id is not None:
                path = self.spool / f"{new_id}.tif"
                conn.execute(
                    update(inbound_faxes)
                    .where(inbound_faxes.c.id == new_id)
                    .values(spool_path=str(path))
                )
        if new_id is None:
            log.info(
                "%s call %s was stored already",
                call.transport,
                call.call_ref,
                extra={"fields": {"call_id": call.call_ref}},
            )
            return None
        path.unlink(missing_ok=True)  # a leftover of a database that was reset
        return Reception(self, new_id, inbox, path)

    def ingest(self, call: IncomingCall, tiff: Path, facts: ReceptionFacts) -> InboundFax | None:
        """Store a fax another program received whole (HylaFAX's queue, a test line): copied
        into the spool and finished. None when ``call.call_ref`` was stored already."""
        reception = self.begin(call)
        if reception is None:
            return None
        with tiff.open("rb") as src, reception.path.open("wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
        make_private(reception.path)
        reception.page_done(len(read_pages(reception.path)))
        return reception.finish(facts)

    def finish(self, inbound_id: int, path: Path, facts: ReceptionFacts) -> InboundFax:
        """Store ``path``'s readable pages as the fax's image and commit its final state."""
        pages = read_pages(path) if path.exists() else []
        key: str | None = None
        size: int | None = None
        if pages:
            upload = self.blobs.new_upload()
            try:
                with path.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        upload.write(chunk)
                size = upload.size
                key = upload.commit()
            except BaseException:
                upload.discard()
                raise
        with reading(self.engine) as conn:
            row = conn.execute(select(inbound_faxes).where(inbound_faxes.c.id == inbound_id)).one()
        call = IncomingCall(row.transport, row.call_ref, row.caller, row.caller_name, row.called)
        csid = " ".join(facts.csid.split())[:40]
        inbox = self.route(call, csid)
        notes = list(facts.notes)
        if facts.pages > len(pages) and facts.complete:
            notes.append(f"the sender sent {facts.pages} page(s); {len(pages)} could be read")
        if not pages:
            state = InboundState.FAILED
        elif facts.complete and len(pages) >= facts.pages:
            state = InboundState.RECEIVED
        else:
            state = InboundState.PARTIAL
        resolution = facts.resolution or (pages[0].resolution if pages else "")
        now = self.clock.now()
        with transaction(self.engine) as conn:
            moved = conn.execute(
                update(inbound_faxes)
                # only a reception still in progress: two receivers recovering one stale row
                # finish it once, and the second changes nothing
                .where(
                    inbound_faxes.c.id == inbound_id,
                    inbound_faxes.c.state == InboundState.RECEIVING.value,
                )
                .values(
                    inbox_id=inbox.id,
                    state=state.value,
                    csid=csid,
                    pages=len(pages),
                    resolution=resolution[:16],
                    bit_rate=facts.bit_rate,
                    ecm=facts.ecm,
                    compression=facts.compression,
                    line_seconds=facts.line_seconds,
                    t30_code=facts.t30_code,
                    t30_text=facts.t30_text,
                    notes=json.dumps(notes),
                    blob_key=key,
                    size=size,
                    spool_path=None,
                    finished_at=now,
                    updated_at=now,
                )
            )
            if moved.rowcount != 1:
                finished = load_fax(conn, inbound_id)
                assert finished is not None
                return finished
            # fax-to-email, in the same transaction: a final fax always has its mail queued
            # (faxout.report.inboundmail composes and sends it)
            mail = insert_new(
                conn,
                inbound_mails,
                {
                    "inbound_id": inbound_id,
                    "state": "pending",
                    "tries": 0,
                    "last_error": "",
                    "created_at": now,
                    "updated_at": now,
                },
            )
            # and its webhook events: announced by the transaction that queued its mail, so a
            # fax finished twice (two receivers recovering one stale row) is announced once
            if mail is not None:
                event = Event.RECEIVE_FAILED if state is InboundState.FAILED else Event.RECEIVED
                emit_for_inbound(conn, now, event, inbound_id)
        path.unlink(missing_ok=True)
        fax = self.get(inbound_id)
        assert fax is not None
        log.info(
            "received fax %d: %d page(s) from %s (%s) for %s, %s",
            fax.id,
            fax.pages,
            fax.caller or "a withheld number",
            fax.csid or "no CSID",
            inbox.name,
            state.value,
            extra={"fields": {"call_id": fax.call_ref, "inbound_id": fax.id}},
        )
        for hook in self.hooks:
            try:
                hook(fax)
            except Exception:  # the sweeps of the mail and webhook outboxes catch up
                log.exception("after receiving fax %d", fax.id)
        return fax

    def recover(self) -> list[InboundFax]:
        """Finish the receptions a dead receiver left: this receiver's own (it restarted) and
        anyone's silent for ``stale_after_hours``. Their readable pages are kept, as partial."""
        now = self.clock.now()
        stale = now - timedelta(hours=self.settings.stale_after_hours)
        with reading(self.engine) as conn:
            rows = conn.execute(
                select(inbound_faxes.c.id, inbound_faxes.c.spool_path, inbound_faxes.c.pages)
                .where(
                    inbound_faxes.c.state == InboundState.RECEIVING.value,
                    or_(
                        inbound_faxes.c.receiver == self.receiver,
                        inbound_faxes.c.updated_at < stale,
                    ),
                )
                .order_by(inbound_faxes.c.id)
            ).all()
        done = []
        for row in rows:
            path = Path(row.spool_path or self.spool / f"{row.id}.tif")
            note = "the receiver stopped during the call; the pages that had arrived are kept"
            facts = ReceptionFacts(pages=row.pages, complete=False, notes=(note,))
            done.append(self.finish(row.id, path, facts))
        return done

    def get(self, inbound_id: int) -> InboundFax | None:
        """A received fax, or None."""
        with reading(self.engine) as conn:
            return load_fax(conn, inbound_id)
