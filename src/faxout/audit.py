"""The audit log: one structured line per act on a fax that someone may later ask about, on the
logger ``faxout.audit`` (its own logger, so an operator can route it to its own file or keep
it longer than the rest), written as every other line: text or JSON (``log_format``), each
field made printable.

Each line is an ``AuditEvent``: what was done (``action``), to what (``subject`` and its id),
for which account, by whom (``actor``: a user name, or ``retention`` for the server itself),
and the details of that action. Only retention writes here so far; submitting, cancelling,
viewing and downloading are meant to call ``audit`` the same way.

This module sits in the lowest layer (it imports only the standard library), so every stage
may record what it does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

AUDIT_LOGGER = "faxout.audit"
_log = logging.getLogger(AUDIT_LOGGER)

# What the server does on its own behalf (no user asked for it).
SERVER = "retention"


@dataclass(frozen=True)
class AuditEvent:
    """One audited act. ``details`` are extra fields (numbers, text, lists of text)."""

    action: str  # "purge" (later: "submit", "cancel", "view", "download")
    subject: str  # "received" (a received fax), "sent" (a submission)
    subject_id: int
    account: str | None  # the account's user name; None: a shared inbox
    actor: str
    details: Mapping[str, object] = field(default_factory=dict)

    def message(self) -> str:
        """The line's text: the act in words (the fields carry the same, for machines)."""
        whose = f" of {self.account}" if self.account else ""
        return f"{self.actor}: {self.action} {self.subject} fax {self.subject_id}{whose}"

    def fields(self) -> dict[str, object]:
        """The line's fields (``faxout.ops.logs`` writes them as key=value or JSON)."""
        return {
            "audit": self.action,
            "what": self.subject,
            "id": self.subject_id,
            "account": self.account,
            "actor": self.actor,
            **self.details,
        }


def audit(event: AuditEvent) -> None:
    """Write ``event`` to the audit log (at INFO: an audit line is never noise)."""
    _log.info(event.message(), extra={"fields": event.fields()})
