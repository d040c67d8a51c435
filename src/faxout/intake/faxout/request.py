"""What a parsed FaxOut request asks for: recipients, cover page, resolution, send time.

Decisions where the contract is silent (also in docs/faxout-api.md):
- Some recipients invalid, others valid: the valid ones are faxed and the submission records a
  note naming each one left out and why, for the delivery report. Only when none is usable is the
  answer ``3``. Numbers are read for the account (``faxout.jobs.dialplan``): its region, its
  allow and deny lists; emergency, short-code and premium-rate numbers are left out. The same
  number given twice, in any notation, is faxed once (the first name given wins).
- ``Coverpage`` names an installed cover page case-insensitively; an unknown name falls back to
  the default cover page, with a note. ``Resolution`` other than Low/High means High, with a note.
- ``Sendtime`` (GMT ``dd:mm:yy hh:mm``; a four-digit year is accepted too): missing means now;
  invalid or in the past means now, with a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from faxout.intake.faxout import fields as names
from faxout.intake.faxout.parser import ParsedForm
from faxout.jobs.dialplan import DialPolicy, read_recipient
from faxout.jobs.model import COVER_DEFAULT, COVER_NONE, Resolution
from faxout.jobs.numbers import Recipient, Refused
from faxout.text import quoted

_SENDTIME = re.compile(r"^(\d{1,2}):(\d{1,2}):(\d{2}|\d{4})\s+(\d{1,2}):(\d{1,2})$")


@dataclass
class FaxRequest:
    """The options of one submission, as faxout will carry them out."""

    recipients: list[Recipient]
    resolution: Resolution
    cover_page: str
    cover_text: str
    send_at: datetime
    sendtime_raw: str | None
    notes: list[str] = field(default_factory=list)


def parse_sendtime(raw: str) -> datetime | None:
    """``dd:mm:yy hh:mm`` in GMT → an aware datetime, or None when it is not a valid time."""
    match = _SENDTIME.match(" ".join(raw.split()))
    if not match:
        return None
    day, month, year, hour, minute = (int(g) for g in match.groups())
    if year < 100:
        year += 2000
    try:
        return datetime(year, month, day, hour, minute, tzinfo=UTC)
    except ValueError:
        return None


def recipients_of(values: list[str], notes: list[str], policy: DialPolicy) -> list[Recipient]:
    """The usable, distinct recipients; a note for each one left out."""
    chosen: dict[str, Recipient] = {}
    for value in values:
        if not value.strip():
            continue
        read = read_recipient(value, policy)
        if isinstance(read, Refused):
            notes.append(
                f"recipient {quoted(value.partition('|')[0].strip())} left out: {read.reason}"
            )
            continue
        recipient, note = read
        if note:
            notes.append(note)
        if recipient.number in chosen:
            notes.append(f"recipient {recipient.number} was given more than once; faxed once")
            continue
        chosen[recipient.number] = recipient
    return list(chosen.values())


def interpret(
    form: ParsedForm,
    now: datetime,
    installed_covers: Callable[[], list[str]],
    policy: DialPolicy,
) -> FaxRequest:
    """Read the request's options for the account whose ``policy`` is given (so only once it
    is authenticated); nothing here rejects the request.

    ``installed_covers`` lists the installed cover pages; called only when a name is given.
    """
    notes: list[str] = []
    recipients = recipients_of(form.fields.get(names.RECIPIENT, []), notes, policy)

    raw_res = (form.first(names.RESOLUTION) or "").lower()
    resolution = Resolution.LOW if raw_res == "low" else Resolution.HIGH
    if raw_res not in {"", "low", "high"}:
        notes.append(f"resolution {raw_res[:40]!r} is neither Low nor High; High was used")

    raw_cover = form.first(names.COVERPAGE) or ""
    cover = COVER_DEFAULT
    if raw_cover.lower() == COVER_NONE:
        cover = COVER_NONE
    elif raw_cover and raw_cover.lower() != COVER_DEFAULT:
        by_lower = {name.lower(): name for name in installed_covers()}
        if raw_cover.lower() in by_lower:
            cover = by_lower[raw_cover.lower()]
        else:
            notes.append(
                f"cover page {raw_cover[:100]!r} is not installed; the default cover page was used"
            )

    raw_time = form.first(names.SENDTIME)
    send_at = now
    if raw_time:
        when = parse_sendtime(raw_time)
        if when is None:
            notes.append(f"send time {raw_time[:40]!r} is not dd:mm:yy hh:mm; sent at once")
        elif when <= now:
            notes.append(f"send time {raw_time[:40]!r} is in the past; sent at once")
        else:
            send_at = when

    return FaxRequest(
        recipients=recipients,
        resolution=resolution,
        cover_page=cover,
        cover_text=form.first(names.COVERPAGETEXT) or "",
        send_at=send_at,
        sendtime_raw=raw_time,
        notes=notes,
    )
