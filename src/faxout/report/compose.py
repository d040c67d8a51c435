"""Composing the report email: text and HTML alternatives, page 1 inline, the fax as PDF.

Structure (``email.policy.SMTP``, CRLF line ends)::

    multipart/mixed                      (only when the PDF is attached)
    ├── multipart/alternative
    │   ├── text/plain
    │   └── multipart/related            (only with the page-1 image)
    │       ├── text/html
    │       └── image/png                (Content-ID, shown inline)
    └── application/pdf                  (fax-<submission>.pdf, on failure)

No user-supplied value is spliced into a header: display names go through
``email.headerregistry.Address`` (RFC 2047 encoded by the policy), the subject is flattened to
one line and encoded by the policy, addresses are checked before use, attachment names are
ours. The HTML part is rendered by Jinja2 with autoescaping.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import jinja2
from PIL import UnidentifiedImageError

from faxout.blobs.store import BlobStore
from faxout.errors import FaxoutError
from faxout.jobs.numbers import readable
from faxout.report.facts import ReportFacts
from faxout.report.pages import fax_pdf, thumbnail_png
from faxout.report.settings import Report
from faxout.report.wording import ReportKind, ReportModel, build_model, build_notice, one_line

log = logging.getLogger("faxout.report")

_ADDR = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class BadAddressError(ValueError):
    """An address we will not put in a header (empty, malformed, with control characters)."""


def checked_address(addr_spec: str, display_name: str = "") -> Address:
    """An ``Address`` for a header; raises ``BadAddressError`` for anything but a plain
    ``local@domain``."""
    if not _ADDR.fullmatch(addr_spec) or len(addr_spec) > 320:
        raise BadAddressError(f"not a usable email address: {addr_spec!r}")
    local, _, domain = addr_spec.partition("@")
    return Address(display_name=one_line(display_name, 100), username=local, domain=domain)


def new_message_id(submission_id: int, kind: str, from_address: str) -> str:
    """A fresh Message-ID, unique across gateways: ``<faxout.12.final.a1b2…@domain>``."""
    domain = from_address.rpartition("@")[2]
    if not _ADDR.fullmatch(f"x@{domain}"):
        domain = "faxout.invalid"
    return make_msgid(f"faxout.{submission_id}.{kind}.{secrets.token_hex(6)}", domain=domain)


# -- text and HTML --------------------------------------------------------------------------


def render_text(model: ReportModel) -> str:
    """The text/plain part."""
    out = [model.headline, model.summary, ""]
    if model.problem:
        out += [f"Problem: {model.problem}", ""]
    out.append("RECIPIENTS")
    for i, block in enumerate(model.recipients, 1):
        out.append(f"{i}. {block.title}: {block.outcome}")
        if block.detail:
            out.append(f"   {block.detail}")
        width = max((len(r.label) for r in block.rows), default=0) + 2
        out.extend(f"   {(r.label + ':').ljust(width)}{r.value}" for r in block.rows)
        if block.attempts:
            out.append("   Calls:")
            out.extend(f"     {line}" for line in block.attempts)
        out.append("")
    out.append("DOCUMENTS")
    out.extend(f"  {i}. {d}" for i, d in enumerate(model.documents, 1))
    out.append(f"  Cover page: {model.cover}")
    out.append(f"  Pages: {model.pages}")
    if model.notes:
        out += ["", "NOTES"]
        out.extend(f"  - {n}" for n in model.notes)
    if model.attachment:
        out += ["", model.attachment]
    if model.thumbnail_caption:
        out += ["", model.thumbnail_caption + " (image in the HTML version)"]
    out += ["", "-- ", model.footer, ""]
    return "\n".join(out)


_HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ m.subject }}</title></head>
<body style="margin:0;padding:24px;background:#f3f4f6;font-family:Helvetica,Arial,sans-serif;\
color:#1f2937;font-size:14px;line-height:1.45">
<div style="max-width:680px;margin:0 auto;background:#ffffff;border:1px solid #d1d5db;\
border-radius:6px;overflow:hidden">
<div style="padding:18px 24px;border-bottom:3px solid {{ colour[status] }}">
<div style="font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#6b7280">\
{{ 'Fax progress notice' if m.kind == 'notice' else 'Fax transmission report' }}</div>
<h1 style="margin:4px 0 6px;font-size:22px;color:{{ colour[status] }}">{{ m.headline }}</h1>
<div>{{ m.summary }}</div>
{% if m.problem %}<div style="margin-top:10px;padding:8px 12px;background:#fef2f2;\
border-left:3px solid #b91c1c">{{ m.problem }}</div>{% endif %}
</div>
{% for b in m.recipients %}
<div style="padding:16px 24px;border-bottom:1px solid #e5e7eb">
<div style="font-size:16px;font-weight:bold">{{ b.title }}
<span style="display:inline-block;margin-left:8px;padding:2px 8px;border-radius:10px;\
font-size:12px;color:#fff;background:{{ colour[b.outcome_class] }}">{{ b.outcome }}</span></div>
{% if b.detail %}<div style="margin:6px 0 8px">{{ b.detail }}</div>{% endif %}
<table style="border-collapse:collapse;font-size:13px">
{% for r in b.rows %}<tr><td style="padding:2px 16px 2px 0;color:#6b7280;white-space:nowrap">\
{{ r.label }}</td><td style="padding:2px 0">{{ r.value }}</td></tr>
{% endfor %}</table>
{% if b.attempts %}<div style="margin-top:8px;font-size:12px;color:#4b5563">Calls</div>
<ol style="margin:2px 0 0;padding-left:20px;font-size:12px;color:#374151">
{% for line in b.attempts %}<li>{{ line.split('. ', 1)[1] }}</li>{% endfor %}</ol>{% endif %}
</div>
{% endfor %}
<div style="padding:16px 24px;border-bottom:1px solid #e5e7eb">
<div style="font-weight:bold;margin-bottom:4px">Documents</div>
<ol style="margin:0;padding-left:20px">{% for d in m.documents %}<li>{{ d }}</li>{% endfor %}</ol>
<div style="margin-top:6px;color:#4b5563">Cover page: {{ m.cover }} &middot; Pages: {{ m.pages }}\
</div>
{% if m.notes %}<div style="font-weight:bold;margin:10px 0 4px">Notes</div>
<ul style="margin:0;padding-left:20px;color:#92400e">{% for n in m.notes %}<li>{{ n }}</li>\
{% endfor %}</ul>{% endif %}
</div>
{% if m.attachment %}<div style="padding:12px 24px;border-bottom:1px solid #e5e7eb">\
{{ m.attachment }}</div>{% endif %}
{% if cid %}<div style="padding:16px 24px;border-bottom:1px solid #e5e7eb">
<div style="font-weight:bold;margin-bottom:6px">{{ m.thumbnail_caption }}</div>
<img src="cid:{{ cid }}" alt="page 1" style="border:1px solid #9ca3af;max-width:100%"></div>
{% endif %}
<div style="padding:12px 24px;font-size:12px;color:#6b7280">{{ m.footer }}</div>
</div></body></html>
"""
)

_COLOURS = {"ok": "#15803d", "fail": "#b91c1c", "unknown": "#b45309", "muted": "#6b7280"}


def _status(model: ReportModel) -> str:
    classes = {b.outcome_class for b in model.recipients}
    if classes == {"ok"}:
        return "ok"
    if "ok" in classes or "unknown" in classes:
        return "unknown"
    return "fail" if "fail" in classes else "muted"


def render_html(model: ReportModel, cid: str | None = None) -> str:
    """The text/html part (``cid``: the Content-ID of the inline page image, brackets off)."""
    return _HTML.render(m=model, cid=cid, colour=_COLOURS, status=_status(model))


# -- the message ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Composed:
    """A report ready to send."""

    message: EmailMessage
    model: ReportModel
    recipient: str

    @property
    def text(self) -> str:
        """The text/plain part as sent."""
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    def as_bytes(self) -> bytes:
        """The message as it goes on the wire (CRLF)."""
        return self.message.as_bytes(policy=policy.SMTP)


def _images(
    facts: ReportFacts, model: ReportModel, settings: Report, store: BlobStore, privacy: bool
) -> tuple[bytes | None, bytes | None]:
    """(page-1 PNG, fax PDF), each only when it belongs in this report."""
    if model.kind is not ReportKind.FINAL or privacy:
        return None, None
    thumb = pdf = None
    done = [r for r in facts.recipients if r.job.state == "done"]
    unsent = [r for r in facts.recipients if r.job.state in ("failed", "interrupted")]
    try:
        if done and (done[0].cover_key or facts.rendered_key):
            key = done[0].cover_key or facts.rendered_key
            assert key is not None
            thumb = thumbnail_png(store, key, settings.thumbnail_width)
            model.thumbnail_caption = (
                f"Page 1 as sent to {one_line(readable(done[0].job.number), 40)}"
            )
        if unsent and settings.attach_pdf_on_failure and facts.rendered_key:
            pdf = fax_pdf(store, [facts.rendered_key])
            model.attachment = (
                f"Attached: fax-{facts.submission.id}.pdf, the fax pages as they were sent "
                "(without the cover page), so you can send them again."
            )
    except (FaxoutError, OSError, ValueError, UnidentifiedImageError) as exc:
        log.warning("report for submission %s without page images: %s", facts.submission.id, exc)
        model.notes.append("The page images could not be attached to this report.")
    return thumb, pdf


def compose(
    facts: ReportFacts,
    kind: ReportKind,
    *,
    settings: Report,
    store: BlobStore,
    now: datetime,
    message_id: str,
    ref: str = "",
) -> Composed | None:
    """The report email; None when there is nothing to say (a notice whose attempt is gone).

    Raises ``BadAddressError`` when the account's address (or ours) cannot be used.
    """
    sub = facts.submission
    privacy = settings.privacy_for(sub.username)
    model: ReportModel | None
    if kind is ReportKind.NOTICE:
        job_text, _, attempt_text = ref.partition(":")
        model = build_notice(facts, int(job_text), int(attempt_text), privacy=privacy)
    else:
        model = build_model(facts, kind, privacy=privacy)
    if model is None:
        return None
    thumb, pdf = _images(facts, model, settings, store, privacy)

    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = checked_address(settings.from_address, settings.from_name)
    to = checked_address(sub.email, "" if privacy else facts.account_name)
    msg["To"] = to
    msg["Subject"] = model.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Faxout-Submission"] = str(sub.id)
    msg["X-Faxout-Report"] = kind.value
    msg.set_content(render_text(model), cte="quoted-printable")
    cid = make_msgid("page1", domain="faxout.invalid") if thumb else None
    msg.add_alternative(render_html(model, cid[1:-1] if cid else None), subtype="html")
    if thumb is not None and cid is not None:
        html_part = msg.get_body(("html",))
        assert html_part is not None
        html_part.add_related(
            thumb, "image", "png", cid=cid, disposition="inline", filename="page1.png"
        )
    if pdf is not None:
        msg.add_attachment(pdf, "application", "pdf", filename=f"fax-{sub.id}.pdf")
    return Composed(msg, model, to.addr_spec)
