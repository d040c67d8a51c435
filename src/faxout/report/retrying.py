"""What a mail's row becomes after one try: the one rule the report outbox and the
fax-to-email outbox share.

- accepted → ``sent``;
- permanent (a 5xx to this message, an unusable address) → ``failed``;
- temporary, and the mail is younger than ``report.give_up_after`` → still pending, next try
  after ``report.retry_initial`` doubling up to ``report.retry_max``;
- temporary, and older → ``failed`` ("gave up after N tries").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faxout.report.mailer import Accepted, Permanent, SendResult
from faxout.report.settings import Report
from faxout.report.status import FAILED, SENT


@dataclass(frozen=True)
class Settled:
    """The row's new column values, and what to log (``level`` None: nothing to say)."""

    values: dict[str, Any]
    level: str | None
    reason: str


def settle(
    result: SendResult, tries: int, created_at: datetime, now: datetime, settings: Report
) -> Settled:
    """The columns after try number ``tries`` (counting this one) ended with ``result``."""
    if isinstance(result, Accepted):
        return Settled({"state": SENT, "sent_at": now, "tries": tries, "last_error": ""}, None, "")
    if isinstance(result, Permanent):
        values = {"state": FAILED, "tries": tries, "last_error": result.reason}
        return Settled(values, "error", f"refused for good: {result.reason}")
    if now - created_at >= settings.give_up_after:
        reason = f"gave up after {tries} tries: {result.reason}"
        return Settled({"state": FAILED, "tries": tries, "last_error": reason}, "error", reason)
    delay = min(settings.retry_initial * (2 ** min(tries - 1, 30)), settings.retry_max)
    values = {"tries": tries, "next_at": now + delay, "last_error": result.reason}
    return Settled(values, "warning", f"deferred ({result.reason}); next try in {delay}")
