"""Fax-to-email: the mail of every received fax waits in SQL until the relay has accepted it.

The inbound store queues one ``inbound_mails`` row per final fax, in the transaction that
makes the fax final (``faxout.inbound.store``): a fax that is in the inbox always has its
mail queued. A delivery pass (``InboundMailbox.deliver_pending``) leases each due row,
composes the message once (bytes, recipients and Message-ID are stored in the row, so every
retry sends the same message), hands it to the ``Mailer`` and records the result with the
reports' rule (``faxout.report.retrying``): sent, retried with backoff, or failed.

The guarantees are the report outbox's (``faxout.report.outbox``): **never lost** (the row is
committed with the fax), **at most one duplicate** (a crash between the relay's acceptance and
our ``UPDATE`` sends the very same bytes and Message-ID again once the lease expires).

Who gets it: the inbox's addresses; an account's inbox without addresses mails the account's
own address. A shared inbox with no address at all mails nobody: its row is marked
``skipped`` with the reason, and the fax is in the console and the API as always.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.engine import reading, transaction
from faxout.db.leases import INBOUND_MAIL
from faxout.db.tables import accounts, inbound_mails
from faxout.errors import FaxoutError
from faxout.inbound.faxes import load_fax
from faxout.inbound.inboxes import Inbox, InboxRepo
from faxout.inbound.model import InboundFax
from faxout.report.compose import BadAddressError, new_message_id
from faxout.report.faxmail import FaxMail, compose_fax_mail
from faxout.report.mailer import Accepted, Envelope, Mailer, Permanent, SendResult, Temporary
from faxout.report.mailrows import MailRows, deliver_each
from faxout.report.retrying import settle
from faxout.report.settings import Report

log = logging.getLogger("faxout.inbound")

SKIPPED = "skipped"  # the row's state when there is nobody to mail


@dataclass(frozen=True)
class Skipped:
    """Nobody to mail: a shared inbox without addresses, or a fax deleted meanwhile."""


@dataclass
class MailPass:
    """What one pass did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0


class InboundMailbox:
    """Composes and delivers the mails of received faxes; safe in several processes."""

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        settings: Report,
        mailer: Mailer,
        *,
        clock: Clock,
        worker: str = "inbound-mail",
        console_url: str = "",
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.settings = settings
        self.mailer = mailer
        self.clock = clock
        self.worker = worker
        self.console_url = console_url
        self.rows = MailRows(
            engine,
            inbound_mails,
            INBOUND_MAIL,
            worker=worker,
            lease_seconds=settings.lease_seconds,
            clock=clock,
        )
        self.inboxes = InboxRepo(engine, clock)

    # -- composing --------------------------------------------------------------------------

    def recipients(self, inbox: Inbox) -> tuple[str, ...]:
        """Where ``inbox``'s faxes are mailed: its addresses, else its owner's."""
        if inbox.email:
            return inbox.email
        if inbox.account_id is None:
            return ()
        with reading(self.engine) as conn:
            email = conn.execute(
                select(accounts.c.email).where(accounts.c.id == inbox.account_id)
            ).scalar_one_or_none()
        return (email,) if email else ()

    def _image(self, fax: InboundFax) -> bytes | None:
        if fax.blob_key is None:
            return None
        try:
            with self.blobs.open(fax.blob_key) as stream:
                return stream.read()
        except (FaxoutError, OSError) as exc:
            log.warning(
                "the image of received fax %d is missing (%s); mailing without it",
                fax.id,
                exc,
                extra={"fields": {"inbound_id": fax.id}},
            )
            return None

    def compose_for(self, inbound_id: int, message_id: str | None = None) -> FaxMail | None:
        """The mail of fax ``inbound_id`` as it would be sent now; None when the fax is gone
        or its inbox has nobody to mail."""
        with reading(self.engine) as conn:
            fax = load_fax(conn, inbound_id)
        if fax is None:
            return None
        inbox = self.inboxes.get(fax.inbox_id)
        if inbox is None:
            return None
        recipients = self.recipients(inbox)
        if not recipients:
            return None
        return compose_fax_mail(
            fax,
            inbox,
            recipients,
            self._image(fax),
            settings=self.settings,
            now=self.clock.now(),
            message_id=message_id
            or new_message_id(inbound_id, "inbound", self.settings.from_address),
            console_url=self.console_url,
        )

    # -- delivering -------------------------------------------------------------------------

    def deliver_pending(self, now: datetime, limit: int = 50) -> MailPass:
        """Send the mails due at ``now``. A pass stops early when the relay is down."""
        result = MailPass()
        for outcome in deliver_each(self.rows.due(now, limit), self._deliver):
            if isinstance(outcome, Skipped):
                result.skipped += 1
            elif isinstance(outcome, Accepted):
                result.sent += 1
            elif isinstance(outcome, Temporary):
                result.deferred += 1
            elif isinstance(outcome, Permanent):
                result.failed += 1
        return result

    def _prepare(self, row_id: int) -> Envelope | Permanent | Skipped:
        """The row's message: composed now (once) or as stored by an earlier try; ``Skipped``
        when there is nobody to mail."""
        with reading(self.engine) as conn:
            row = conn.execute(select(inbound_mails).where(inbound_mails.c.id == row_id)).one()
        sender = self.settings.from_address
        if row.message is not None and row.recipients:
            to = tuple(row.recipients.split("\n"))
            return Envelope(sender, to, bytes(row.message), row.message_id)
        message_id = new_message_id(row.inbound_id, "inbound", sender)
        try:
            mail = self.compose_for(row.inbound_id, message_id)
        except BadAddressError as exc:
            return Permanent(str(exc))
        if mail is None:
            return Skipped()
        data = mail.as_bytes()
        with transaction(self.engine) as conn:
            conn.execute(
                update(inbound_mails)
                .where(self.rows.mine(row_id))
                .values(
                    message=data,
                    message_id=message_id,
                    recipients="\n".join(mail.recipients),
                    updated_at=self.clock.now(),
                )
            )
        return Envelope(sender, mail.recipients, data, message_id)

    def _deliver(self, row_id: int) -> SendResult | Skipped | None:
        if not self.rows.claim(row_id):
            return None
        prepared = self._prepare(row_id)
        if isinstance(prepared, Skipped):
            self._skip(row_id)
            return prepared
        if isinstance(prepared, Permanent):
            self._record(row_id, prepared)
            return prepared
        result = self.mailer.send(prepared)
        # <- A crash here (the relay has the message, the row still says pending) makes the
        #    next pass send it again once the lease expires: at most one duplicate.
        self._record(row_id, result)
        return result

    def _skip(self, row_id: int) -> None:
        now = self.clock.now()
        reason = "nobody to mail: the inbox has no address (faxout inbox set NAME --email …)"
        with transaction(self.engine) as conn:
            inbound_id = conn.execute(
                update(inbound_mails)
                .where(self.rows.mine(row_id))
                .values(state=SKIPPED, last_error=reason, updated_at=now, **INBOUND_MAIL.released())
                .returning(inbound_mails.c.inbound_id)
            ).scalar_one_or_none()
        log.info("received fax %s not mailed: %s", inbound_id, reason)

    def _record(self, row_id: int, result: SendResult) -> None:
        now = self.clock.now()
        with transaction(self.engine) as conn:
            row = conn.execute(
                select(
                    inbound_mails.c.tries, inbound_mails.c.created_at, inbound_mails.c.inbound_id
                ).where(inbound_mails.c.id == row_id)
            ).one()
            settled = settle(result, row.tries + 1, row.created_at, now, self.settings)
            conn.execute(
                update(inbound_mails)
                .where(self.rows.mine(row_id))
                .values(**settled.values, **INBOUND_MAIL.released(), updated_at=now)
            )
        extra = {"fields": {"inbound_id": row.inbound_id}}
        if isinstance(result, Accepted):
            log.info("received fax %s mailed", row.inbound_id, extra=extra)
        elif settled.level is not None:
            level = logging.ERROR if settled.level == "error" else logging.WARNING
            log.log(
                level, "mail of received fax %s %s", row.inbound_id, settled.reason, extra=extra
            )


@dataclass(frozen=True)
class MailStatus:
    """Where the mail of a received fax stands (the API and the console show it)."""

    state: str  # pending, sent, failed, skipped
    recipients: tuple[str, ...]
    tries: int
    last_error: str
    sent_at: datetime | None


def mail_status(engine: Engine, inbound_id: int) -> MailStatus | None:
    """The mail of fax ``inbound_id``; None while the fax is still coming in."""
    with reading(engine) as conn:
        row = conn.execute(
            select(
                inbound_mails.c.state,
                inbound_mails.c.recipients,
                inbound_mails.c.tries,
                inbound_mails.c.last_error,
                inbound_mails.c.sent_at,
            ).where(inbound_mails.c.inbound_id == inbound_id)
        ).first()
    if row is None:
        return None
    to = tuple(a for a in (row.recipients or "").split("\n") if a)
    return MailStatus(row.state, to, row.tries, row.last_error, row.sent_at)
