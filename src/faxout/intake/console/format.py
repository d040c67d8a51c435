"""How the console writes times, states, sizes and numbers for people (Jinja filters)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime

import jinja2
import markupsafe
import phonenumbers

from faxout.timezones import local

# The status API's states (faxout.intake.api.views), in words, with the badge's tone.
STATES: dict[str, tuple[str, str]] = {
    "queued": ("Queued", "wait"),
    "rendering": ("Rendering", "wait"),
    "scheduled": ("Scheduled", "wait"),
    "waiting_for_line": ("Waiting for a line", "wait"),
    "dialing": ("Dialing", "busy"),
    "sending": ("Sending", "busy"),
    "delivered": ("Delivered", "good"),
    "partial": ("Partly delivered", "warn"),
    "failed": ("Failed", "bad"),
    "interrupted": ("Interrupted", "warn"),
    "canceled": ("Canceled", "muted"),
}
FINAL = frozenset({"delivered", "partial", "failed", "interrupted", "canceled"})
# A received fax's states (faxout.inbound.model.InboundState), in words, with the badge's tone.
RECEIVED_STATES: dict[str, tuple[str, str]] = {
    "receiving": ("Receiving", "busy"),
    "received": ("Received", "good"),
    "partial": ("Partly received", "warn"),
    "failed": ("Failed", "bad"),
}


def zone_of(browser: str, account: str) -> str:
    """The zone to show times in: the browser's (sent in a cookie by the console's script)
    when it is a real zone, else the account's, else UTC."""
    for name in (browser, account):
        if name and len(name) < 64:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return "UTC"


def _parse(when: datetime | str | None) -> datetime | None:
    if when is None or when == "":
        return None
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def when(value: datetime | str | None, zone: str = "UTC") -> str:
    """``2 Dec 2026 14:05 CET``; "" for no time."""
    moment = _parse(value)
    if moment is None:
        return ""
    shown = local(moment, zone or "UTC")
    return f"{shown.day} {shown:%b %Y %H:%M} {shown.tzname() or ''}".rstrip()


def iso(value: datetime | str | None) -> str:
    """The machine-readable time for ``<time datetime=…>``."""
    moment = _parse(value)
    return moment.isoformat() if moment else ""


def state_label(state: str) -> str:
    """A state in words."""
    return STATES.get(state, (state.replace("_", " ").capitalize(), ""))[0]


def state_tone(state: str) -> str:
    """The badge class of a state."""
    return STATES.get(state, ("", "muted"))[1]


def received_label(state: str) -> str:
    """A received fax's state in words."""
    return RECEIVED_STATES.get(state, (state.capitalize(), ""))[0]


def received_tone(state: str) -> str:
    """The badge class of a received fax's state."""
    return RECEIVED_STATES.get(state, ("", "muted"))[1]


def size(count: int | None) -> str:
    """Bytes as people read them."""
    if count is None:
        return ""
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"


def number(e164: str) -> str:
    """An E.164 number in international format (``+1 650-555-1234``); as stored when it is
    not one (a test line's fictional prefix, say)."""
    try:
        parsed = phonenumbers.parse(e164 if e164.startswith("+") else f"+{e164}")
    except phonenumbers.NumberParseException:
        return e164
    if not phonenumbers.is_possible_number(parsed):
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def ticks(text: str) -> markupsafe.Markup:
    """``text`` escaped, with its `backticked` parts as code (``faxout check``'s words)."""
    escaped = str(markupsafe.escape(text))
    # Safe: the text is escaped above; only the code tags are markup.
    return markupsafe.Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped))  # noqa: S704


def install(env: jinja2.Environment) -> None:
    """Give ``env`` the filters the templates use."""
    env.filters.update(
        when=when,
        iso=iso,
        state_label=state_label,
        state_tone=state_tone,
        received_label=received_label,
        received_tone=received_tone,
        size=size,
        number=number,
        ticks=ticks,
    )
    env.globals["FINAL"] = FINAL
