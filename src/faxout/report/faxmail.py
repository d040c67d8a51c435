"""Composing the mail of a received fax (fax-to-email).

Structure (``email.policy.SMTP``, CRLF line ends)::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain
    │   └── multipart/related            (only with the page-1 preview)
    │       ├── text/html
    │       └── image/png                (Content-ID, shown inline)
    └── application/pdf | image/tiff     (fax-<id>.pdf, or the TIFF as received)

**Never an empty mail.** Whatever happened, the mail says it: a fax whose image will not
convert to PDF is mailed with its original TIFF and a sentence saying so; a call in which no
page arrived is mailed as a failed call, with its facts; an image missing from the store is
named as missing. The inbox's ``attach`` setting picks the attachment: ``pdf`` (each page at
its own size, short pages never cut: ``faxout.inbound.pdf``), ``tiff`` (the file as received),
or ``link`` (privacy: no image at all, no caller details, a link to the console).

As in the reports, nothing a caller sent (their number, name or CSID) is spliced into a header
unencoded: the subject goes through ``one_line`` and the policy's RFC 2047 encoding, and the
HTML is autoescaped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import jinja2

from faxout.inbound.inboxes import Attach, Inbox
from faxout.inbound.model import InboundFax, InboundState
from faxout.inbound.pdf import FaxImageError, preview_png, tiff_to_pdf
from faxout.jobs.numbers import readable
from faxout.report.compose import checked_address
from faxout.report.settings import Report
from faxout.report.wording import one_line


@dataclass(frozen=True)
class FaxMail:
    """A composed mail and the facts it was made from (for tests and ``show`` commands)."""

    message: EmailMessage
    recipients: tuple[str, ...]
    subject: str
    notes: tuple[str, ...] = field(default=())

    def as_bytes(self) -> bytes:
        """The message as it goes on the wire (CRLF)."""
        return self.message.as_bytes(policy=policy.SMTP)

    @property
    def text(self) -> str:
        """The text/plain part as sent."""
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


@dataclass
class _Body:
    headline: str
    rows: list[tuple[str, str]]
    notes: list[str]
    attachment: str = ""
    link: str = ""


def _sender(fax: InboundFax) -> str:
    """Who sent it, as a person reads it: name, number, or the fax machine's own ID."""
    number = readable(fax.caller) if fax.caller else ""
    name = one_line(fax.caller_name, 60)
    if name and number:
        return f"{name} ({number})"
    csid = one_line(fax.csid, 40)
    return name or number or (f"“{csid}”" if csid else "an unknown sender")


def _subject(fax: InboundFax, privacy: bool) -> str:
    pages = f"{fax.pages} page{'s' if fax.pages != 1 else ''}"
    if privacy:
        if fax.state is InboundState.FAILED:
            return "A fax call failed"
        return f"New fax ({pages})"
    who = _sender(fax)
    if fax.state is InboundState.FAILED:
        return one_line(f"Failed fax call from {who}", 200)
    if fax.state is InboundState.PARTIAL:
        return one_line(f"Incomplete fax from {who}, {pages}", 200)
    return one_line(f"Fax from {who}, {pages}", 200)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def _facts(fax: InboundFax, inbox: Inbox, privacy: bool, time_zone_note: str) -> _Body:
    state = {
        InboundState.RECEIVED: "Received",
        InboundState.PARTIAL: "Incomplete: the call ended before every page arrived",
        InboundState.FAILED: "Failed: no page arrived",
    }.get(fax.state, fax.state.value)
    when = fax.finished_at or fax.started_at
    rows: list[tuple[str, str]] = []
    if not privacy:
        rows.append(("From", _sender(fax)))
        if fax.csid:
            rows.append(("Sender's fax ID", one_line(fax.csid, 40)))
        if fax.called:
            rows.append(("To", readable(fax.called)))
    rows.append(("Inbox", inbox.name))
    rows.append(("Received", f"{when:%Y-%m-%d %H:%M:%S} {time_zone_note}"))
    rows.append(("Pages", str(fax.pages)))
    rows.append(("Status", state))
    if not privacy:
        if fax.resolution:
            rows.append(("Resolution", fax.resolution + " dpi"))
        if fax.bit_rate:
            ecm = "" if fax.ecm is None else (", ECM" if fax.ecm else ", no ECM")
            rows.append(("Speed", f"{fax.bit_rate:,} bit/s{ecm}"))
        if fax.line_seconds is not None:
            rows.append(("Call duration", _duration(fax.line_seconds)))
    headline = _subject(fax, privacy)
    notes = [] if privacy else [one_line(n, 300) for n in fax.notes]
    if fax.t30_text and fax.state is not InboundState.RECEIVED and not privacy:
        notes.append(f"The fax machines reported: {one_line(fax.t30_text, 200)}")
    return _Body(headline, rows, notes)


def _render_text(body: _Body) -> str:
    width = max(len(label) for label, _ in body.rows) + 2
    out = [body.headline, ""]
    out.extend(f"{(label + ':').ljust(width)}{value}" for label, value in body.rows)
    if body.notes:
        out += ["", "NOTES"]
        out.extend(f"  - {n}" for n in body.notes)
    if body.attachment:
        out += ["", body.attachment]
    if body.link:
        out += ["", f"Open it in the fax console: {body.link}"]
    out += ["", "-- ", "Sent by the faxout fax gateway.", ""]
    return "\n".join(out)


_HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ b.headline }}</title></head>
<body style="margin:0;padding:24px;background:#f3f4f6;font-family:Helvetica,Arial,sans-serif;\
color:#1f2937;font-size:14px;line-height:1.45">
<div style="max-width:680px;margin:0 auto;background:#ffffff;border:1px solid #d1d5db;\
border-radius:6px;overflow:hidden">
<div style="padding:18px 24px;border-bottom:3px solid {{ colour }}">
<div style="font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#6b7280">\
Received fax</div>
<h1 style="margin:4px 0 0;font-size:22px;color:{{ colour }}">{{ b.headline }}</h1></div>
<div style="padding:16px 24px;border-bottom:1px solid #e5e7eb">
<table style="border-collapse:collapse;font-size:13px">
{% for label, value in b.rows %}<tr><td style="padding:2px 16px 2px 0;color:#6b7280;\
white-space:nowrap">{{ label }}</td><td style="padding:2px 0">{{ value }}</td></tr>
{% endfor %}</table>
{% if b.notes %}<ul style="margin:10px 0 0;padding-left:20px;color:#92400e">\
{% for n in b.notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}</div>
{% if b.attachment %}<div style="padding:12px 24px;border-bottom:1px solid #e5e7eb">\
{{ b.attachment }}</div>{% endif %}
{% if b.link %}<div style="padding:12px 24px;border-bottom:1px solid #e5e7eb">\
<a href="{{ b.link }}">Open the fax in the console</a></div>{% endif %}
{% if cid %}<div style="padding:16px 24px;border-bottom:1px solid #e5e7eb">
<div style="font-weight:bold;margin-bottom:6px">Page 1</div>
<img src="cid:{{ cid }}" alt="page 1 of the fax" style="border:1px solid #9ca3af;\
max-width:100%"></div>{% endif %}
<div style="padding:12px 24px;font-size:12px;color:#6b7280">Sent by the faxout fax gateway.</div>
</div></body></html>
"""
)

_COLOURS = {
    InboundState.RECEIVED: "#15803d",
    InboundState.PARTIAL: "#b45309",
    InboundState.FAILED: "#b91c1c",
}


def compose_fax_mail(
    fax: InboundFax,
    inbox: Inbox,
    recipients: tuple[str, ...],
    image: bytes | None,
    *,
    settings: Report,
    now: datetime,
    message_id: str,
    console_url: str = "",
    preview_width: int = 600,
) -> FaxMail:
    """The mail of ``fax`` for ``recipients``; ``image`` is the received TIFF (None when the
    fax has none, or it is gone from the store).

    Raises ``BadAddressError`` when one of the addresses (or ours) cannot be used.
    """
    privacy = inbox.attach is Attach.LINK
    body = _facts(fax, inbox, privacy, "UTC")
    attachment: tuple[bytes, str, str, str] | None = None
    preview: bytes | None = None
    name = f"fax-{fax.id}"
    if privacy:
        body.attachment = "For privacy, this mail carries no image of the fax."
        if console_url:
            body.link = f"{console_url.rstrip('/')}/inbox/{fax.id}"
        else:
            body.attachment += f" Sign in to the fax console and open fax {fax.id} in the inbox."
    elif image is None:
        if fax.blob_key is not None or fax.pages:
            body.notes.append("The image of this fax could not be found, so none is attached.")
    else:
        try:
            preview = preview_png(io.BytesIO(image), preview_width)
            if inbox.attach is Attach.TIFF:
                attachment = (image, "image", "tiff", f"{name}.tif")
                body.attachment = f"Attached: {name}.tif, the fax as it was received (TIFF)."
            else:
                attachment = (tiff_to_pdf(io.BytesIO(image)), "application", "pdf", f"{name}.pdf")
                body.attachment = f"Attached: {name}.pdf, every page at the size it was sent."
        except FaxImageError as exc:
            attachment = (image, "image", "tiff", f"{name}.tif")
            body.attachment = (
                f"The fax could not be converted to PDF ({exc}); the original TIFF image is "
                f"attached as {name}.tif."
            )
            body.notes.append("The fax image could not be converted to PDF.")
            preview = None

    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = checked_address(settings.from_address, settings.from_name)
    msg["To"] = [checked_address(a) for a in recipients]
    msg["Subject"] = body.headline
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Faxout-Inbound"] = str(fax.id)
    msg.set_content(_render_text(body), cte="quoted-printable")
    cid = make_msgid("page1", domain="faxout.invalid") if preview else None
    html = _HTML.render(b=body, cid=cid[1:-1] if cid else None, colour=_COLOURS.get(fax.state))
    msg.add_alternative(html, subtype="html")
    if preview is not None and cid is not None:
        html_part = msg.get_body(("html",))
        assert html_part is not None
        html_part.add_related(
            preview, "image", "png", cid=cid, disposition="inline", filename="page1.png"
        )
    if attachment is not None:
        data, maintype, subtype, filename = attachment
        msg.add_attachment(data, maintype, subtype, filename=filename)
    return FaxMail(msg, recipients, body.headline, tuple(body.notes))
