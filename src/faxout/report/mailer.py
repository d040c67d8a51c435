"""The ``Mailer`` seam: hand a finished message to whoever delivers mail.

Results are values (``Accepted``, ``Temporary``, ``Permanent``); exceptions mean breakage. The
line between temporary and permanent follows SMTP: a 5xx reply to MAIL FROM, RCPT TO or DATA
refuses *this message* and is permanent; a 4xx reply, a refused or dropped connection, a
timeout, a TLS or AUTH failure is about the relay or our configuration and is retried (the
outbox backs off, and gives up after ``report.give_up_after``).

- ``SmtpMailer``: aiosmtplib, implicit TLS or STARTTLS, AUTH, timeouts.
- ``MaildirMailer``: the embedded default with no relay: each message becomes an ``.eml`` file
  in ``DATA_DIR/outbox/new/`` (a Maildir: written in ``tmp/``, fsynced, renamed).
- ``MemoryMailer``: for tests; scripted results, delivered messages kept in a list.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiosmtplib

from faxout.files import open_private, private_dir
from faxout.report.settings import Smtp

log = logging.getLogger("faxout.report")


@dataclass(frozen=True)
class Envelope:
    """One message and where it goes."""

    sender: str
    recipients: tuple[str, ...]
    message: bytes
    message_id: str = ""


@dataclass(frozen=True)
class Accepted:
    """The relay (or the Maildir) took the message."""

    detail: str = ""


@dataclass(frozen=True)
class Temporary:
    """Try again later. ``relay_down``: no point trying other messages in this pass."""

    reason: str
    code: int | None = None
    relay_down: bool = False


@dataclass(frozen=True)
class Permanent:
    """The relay refused this message for good."""

    reason: str
    code: int | None = None


SendResult = Accepted | Temporary | Permanent


class Mailer(Protocol):
    """Delivers messages; blocking (the outbox runs in a background thread)."""

    def send(self, envelope: Envelope) -> SendResult:
        """Hand ``envelope`` over; never raises for an expected failure."""
        ...


# -- SMTP -----------------------------------------------------------------------------------


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


class SmtpMailer:
    """Through an SMTP relay with aiosmtplib (one connection per message)."""

    def __init__(self, smtp: Smtp, *, tls_context: ssl.SSLContext | None = None) -> None:
        if not smtp.host:
            raise ValueError("SmtpMailer needs report.smtp.host")
        self._smtp = smtp
        self._tls = tls_context
        if self._tls is None and smtp.ca_file is not None:
            self._tls = ssl.create_default_context(cafile=str(smtp.ca_file))

    @property
    def where(self) -> str:
        """host:port, for logs."""
        return f"{self._smtp.host}:{self._smtp.port_in_force}"

    def send(self, envelope: Envelope) -> SendResult:
        """Deliver in a private event loop (a thread of its own if this one runs a loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.send_async(envelope))
        box: list[SendResult] = []
        worker = threading.Thread(target=lambda: box.append(asyncio.run(self.send_async(envelope))))
        worker.start()
        worker.join()
        return box[0]

    async def send_async(self, envelope: Envelope) -> SendResult:
        """Deliver ``envelope``; SMTP replies and network failures become results."""
        s = self._smtp
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port_in_force,
            timeout=s.timeout,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            validate_certs=s.validate_certs,
            tls_context=self._tls,
            username=s.username or None,
            password=s.password if s.username else None,
        )
        try:
            await client.connect()
            errors, reply = await client.sendmail(
                envelope.sender, list(envelope.recipients), envelope.message
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(_reply(r) for r in exc.recipients)
            if codes and all(500 <= c < 600 for c in codes):
                return Permanent(f"recipient refused: {text}", codes[0])
            return Temporary(f"recipient refused for now: {text}", codes[0] if codes else None)
        except aiosmtplib.SMTPAuthenticationError as exc:
            log.error("SMTP relay %s refused our login: %s", self.where, _reply(exc))
            return Temporary(f"login refused: {_reply(exc)}", exc.code, relay_down=True)
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            what = "sender" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "message"
            if 500 <= exc.code < 600:
                return Permanent(f"{what} refused: {_reply(exc)}", exc.code)
            return Temporary(f"{what} deferred: {_reply(exc)}", exc.code)
        except aiosmtplib.SMTPResponseException as exc:
            # A greeting, HELO or STARTTLS reply we cannot go on from: the relay's state.
            return Temporary(f"relay answered {_reply(exc)}", exc.code, relay_down=True)
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            return Temporary(f"relay unreachable: {exc.__class__.__name__}: {exc}", None, True)
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        if errors:  # several recipients, some refused: the message went to the others
            log.warning("SMTP relay refused some recipients: %s", errors)
        return Accepted(str(reply).strip())


# -- Maildir ----------------------------------------------------------------------------------


class MaildirMailer:
    """Writes each message to ``<directory>/new/<unique>.eml`` (the embedded default)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seq = 0
        self._lock = threading.Lock()

    def _unique(self) -> str:
        with self._lock:
            self._seq += 1
            seq = self._seq
        now = time.time()
        host = socket.gethostname().replace("/", "_").replace(":", "_")
        return f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{seq}.{host}"

    def send(self, envelope: Envelope) -> SendResult:
        """Write the message durably (tmp, fsync, rename into new, fsync the directory)."""
        try:
            for sub in ("tmp", "new", "cur"):
                private_dir(self.directory / sub)
            name = f"{self._unique()}.eml"
            tmp = self.directory / "tmp" / name
            final = self.directory / "new" / name
            with open_private(tmp) as out:
                out.write(envelope.message)
                out.flush()
                os.fsync(out.fileno())
            tmp.rename(final)
            fd = os.open(self.directory / "new", os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return Temporary(f"cannot write to {self.directory}: {exc}", None, relay_down=True)
        log.info("report for %s written to %s", ", ".join(envelope.recipients), final)
        return Accepted(str(final))


# -- memory -----------------------------------------------------------------------------------


@dataclass
class MemoryMailer:
    """For tests: ``results`` are returned in order (then ``Accepted``); accepted envelopes are
    appended to ``sent``."""

    results: list[SendResult] = field(default_factory=list)
    sent: list[Envelope] = field(default_factory=list)

    def send(self, envelope: Envelope) -> SendResult:
        result = self.results.pop(0) if self.results else Accepted("memory")
        if isinstance(result, Accepted):
            self.sent.append(envelope)
        return result


def open_mailer(smtp: Smtp, data_dir: Path) -> Mailer:
    """The relay when ``smtp.host`` is set, else the Maildir ``DATA_DIR/outbox``."""
    if smtp.host:
        return SmtpMailer(smtp)
    return MaildirMailer(data_dir / "outbox")
