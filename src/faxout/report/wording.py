"""The words of a report, in the manner of a fax machine's transmission report.

Pure functions from ``ReportFacts`` to a ``ReportModel`` that the text and the HTML part both
render, so the two always say the same. Every user-supplied value (names, file names, cover
page, notes) is flattened to one line here; HTML escaping and header encoding happen where the
value is placed (``compose``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from faxout.jobs.numbers import readable
from faxout.jobs.repo import AttemptView
from faxout.report.facts import RecipientFacts, ReportFacts


class ReportKind(enum.StrEnum):
    """Which report: the final one, a rejection after acceptance, or a per-attempt notice."""

    FINAL = "final"
    REJECTED = "rejected"
    NOTICE = "notice"


_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def one_line(value: str, limit: int = 200) -> str:
    """``value`` with control characters (CR, LF, tabs, NUL…) as single spaces, cut to
    ``limit``."""
    flat = _CONTROL.sub(" ", value).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def when(t: datetime | None) -> str:
    """A time as the report shows it (UTC)."""
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else "-"


def clock(t: datetime) -> str:
    """A time of day (UTC)."""
    return t.strftime("%H:%M UTC")


def duration(seconds: float | None) -> str:
    """``45 s``, ``2 min 5 s``."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    return f"{whole // 60} min {whole % 60} s"


def size(n: int) -> str:
    """Bytes in words a user reads."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 page``, ``2 pages``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


# Outcome of a whole job (final states), in plain words, and its CSS class.
OUTCOME_WORDS = {
    "done": ("Delivered", "ok"),
    "failed": ("Failed", "fail"),
    "interrupted": ("May or may not have been delivered", "unknown"),
    "canceled": ("Canceled", "muted"),
    "render_failed": ("Not sent", "fail"),
}

# How one call ended (attempts.outcome).
CALL_WORDS = {
    "ok": "sent",
    "busy": "line busy",
    "no_answer": "no answer",
    "not_fax": "answered, but not by a fax machine",
    "rejected": "the receiving machine refused the fax",
    "partial": "partly sent",
    "failed": "transmission failed",
    "invalid_number": "the number does not exist or is incomplete",
    "unknown": "interrupted: the outcome is unknown",
}

MODEMS = {"v17": "V.17", "v29": "V.29", "v27ter": "V.27ter"}

_INTERRUPTED = (
    "the call was cut off inside the gateway while the fax was being sent, so nobody knows "
    "whether it arrived. Check with the recipient before sending it again."
)


@dataclass(frozen=True)
class Row:
    """A labelled line of a recipient's block."""

    label: str
    value: str


@dataclass
class RecipientBlock:
    """One recipient as the report shows it."""

    title: str
    outcome: str
    outcome_class: str
    detail: str
    rows: list[Row] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)


@dataclass
class ReportModel:
    """Everything the text and HTML parts show."""

    kind: ReportKind
    subject: str
    headline: str
    summary: str
    recipients: list[RecipientBlock]
    documents: list[str]
    cover: str
    pages: str
    notes: list[str]
    footer: str
    submission_id: int
    thumbnail_caption: str = ""
    problem: str = ""
    attachment: str = ""


class Redactor:
    """Privacy mode: hides recipient names and file names (and quoted values in notes)."""

    def __init__(self, facts: ReportFacts, privacy: bool) -> None:
        self.privacy = privacy
        self._names = sorted(
            ((d.filename, f"document {d.seq}") for d in facts.submission.documents if d.filename),
            key=lambda pair: -len(pair[0]),
        )

    def file(self, filename: str, seq: int) -> str:
        return f"document {seq}" if self.privacy else one_line(filename) or f"document {seq}"

    def name(self, name: str) -> str:
        return "" if self.privacy else one_line(name, 100)

    def text(self, value: str) -> str:
        """Free text from the gateway that may quote user values (notes, render errors)."""
        if not self.privacy:
            return one_line(value, 500)
        for filename, label in self._names:
            value = value.replace(filename, label)
        return one_line(_QUOTED.sub("[hidden]", value), 500)


def _counts(states: list[str]) -> str:
    """``1 delivered, 1 failed``."""
    order = [
        ("done", "delivered"),
        ("failed", "failed"),
        ("interrupted", "may not have been delivered"),
        ("canceled", "canceled"),
        ("render_failed", "not sent"),
    ]
    parts = [f"{states.count(s)} {word}" for s, word in order if states.count(s)]
    busy = sum(1 for s in states if s not in OUTCOME_WORDS)
    if busy:
        parts.append(f"{busy} in progress")
    return ", ".join(parts)


def subject_for(facts: ReportFacts, kind: ReportKind) -> str:
    """The subject line: the outcome at a glance."""
    recipients = facts.recipients
    n = len(recipients)
    if kind is ReportKind.REJECTED:
        target = readable(recipients[0].job.number) if n == 1 else plural(n, "recipient")
        return one_line(f"Fax to {target} not sent: a document could not be converted")
    if n == 1:
        r = recipients[0]
        word = OUTCOME_WORDS.get(r.job.state, ("in progress", ""))[0].lower()
        extra = f" ({plural(r.job.pages_confirmed, 'page')})" if r.job.state == "done" else ""
        return one_line(f"Fax to {readable(r.job.number)}: {word}{extra}")
    return one_line(f"Fax to {n} recipients: {_counts([r.job.state for r in recipients])}")


def _call_line(a: AttemptView) -> str:
    at = a.dialing_at or a.claimed_at
    words = CALL_WORDS.get(a.outcome or "", a.outcome or a.phase)
    parts = [f"{a.attempt_no}. {when(at)}: {words}"]
    if a.pages_total:
        first = f" from page {a.first_page}" if a.first_page > 1 else ""
        parts.append(f"{a.pages_confirmed} of {plural(a.pages_total, 'page')} confirmed{first}")
    if a.line_seconds:
        parts.append(duration(a.line_seconds))
    if a.t30_code is not None and a.outcome != "ok":
        text = f": {one_line(a.t30_text or '', 120)}" if a.t30_text else ""
        parts.append(f"T.30 code {a.t30_code}{text}")
    return ", ".join(parts)


def _link(a: AttemptView) -> str:
    if not a.modem and not a.bit_rate:
        return ""
    modem = MODEMS.get(a.modem or "", one_line(a.modem or ""))
    rate = f" at {a.bit_rate} bit/s" if a.bit_rate else ""
    ecm = "" if a.ecm is None else (", ECM on" if a.ecm else ", ECM off")
    coding = f", {a.compression.upper()}" if a.compression else ""
    return f"{modem}{rate}{ecm}{coding}".strip()


def _detail(r: RecipientFacts, red: Redactor) -> str:
    job = r.job
    if job.state == "done":
        n = r.pages_total or job.pages_confirmed
        if n == 1:
            return "The page was confirmed by the receiving machine."
        return f"All {n} pages confirmed by the receiving machine."
    if job.state == "interrupted":
        return _INTERRUPTED[:1].upper() + _INTERRUPTED[1:]
    if job.state == "render_failed":
        return "Nothing was dialled: a document could not be converted into fax pages."
    reason = red.text(job.reason) if job.reason else ""
    return reason[:1].upper() + reason[1:] + ("." if reason and reason[-1] not in ".!?" else "")


def recipient_block(r: RecipientFacts, red: Redactor) -> RecipientBlock:
    """One recipient's block."""
    job = r.job
    word, css = OUTCOME_WORDS.get(job.state, ("In progress", "unknown"))
    name = red.name(job.name)
    block = RecipientBlock(
        title=f"{one_line(readable(job.number), 40)}" + (f" ({name})" if name else ""),
        outcome=word,
        outcome_class=css,
        detail=_detail(r, red),
    )
    rows = block.rows
    if r.pages_total:
        rows.append(Row("Pages", f"{job.pages_confirmed} of {r.pages_total} confirmed"))
    last = r.last_call
    if last is not None:
        on_line = f", {duration(last.line_seconds)} on the line" if last.line_seconds else ""
        rows.append(Row("Time", f"{when(last.dialing_at)}{on_line}"))
        csid = next((a.remote_csid for a in reversed(r.attempts) if a.remote_csid), None)
        if csid:
            rows.append(Row("Remote fax (CSID)", one_line(csid, 40)))
        link = next((_link(a) for a in reversed(r.attempts) if _link(a)), "")
        if link:
            rows.append(Row("Connection", link))
    elif job.finished_at:
        rows.append(Row("Time", when(job.finished_at)))
    if job.dials:
        rows.append(
            Row("Attempts", f"{plural(job.dials, 'dial')}, {plural(job.tries, 'try', 'tries')}")
        )
    if job.state in ("ready", "queued") and job.next_attempt_at:
        rows.append(Row("Next attempt", when(job.next_attempt_at)))
    block.attempts = [_call_line(a) for a in r.attempts]
    return block


def _headline(facts: ReportFacts, kind: ReportKind) -> tuple[str, str]:
    states = [r.job.state for r in facts.recipients]
    n = len(states)
    if kind is ReportKind.REJECTED:
        return (
            "Your fax was not sent",
            "A document could not be converted into fax pages, so no number was dialled. "
            "Fix or replace the document and send the fax again.",
        )
    if any(s not in OUTCOME_WORDS for s in states):
        return ("Your fax is still being sent", _counts(states).capitalize() + ".")
    if all(s == "done" for s in states):
        return ("Your fax was delivered", f"Delivered to {plural(n, 'recipient')}.")
    if not any(s == "done" for s in states):
        if all(s == "canceled" for s in states):
            return ("Your fax was canceled", "It was canceled before it was sent.")
        if "interrupted" in states and "failed" not in states:
            return (
                "Your fax may not have been delivered",
                _INTERRUPTED[:1].upper() + _INTERRUPTED[1:],
            )
        return ("Your fax was not delivered", _counts(states).capitalize() + ".")
    return ("Your fax was delivered to some recipients", _counts(states).capitalize() + ".")


def build_model(
    facts: ReportFacts, kind: ReportKind, *, privacy: bool, gateway: str = "faxout"
) -> ReportModel:
    """The final or rejection report of a submission."""
    red = Redactor(facts, privacy)
    sub = facts.submission
    headline, summary = _headline(facts, kind)
    documents = [f"{red.file(d.filename, d.seq)} ({size(d.size)})" for d in sub.documents]
    cover = "none" if sub.cover_page == "none" else one_line(sub.cover_page, 100)
    if sub.pages:
        pages = plural(sub.pages, "page") + (" + cover page" if cover != "none" else "")
    else:
        pages = "-"
    notes = [red.text(n) for n in [*sub.notes, *(sub.render_warnings or [])]]
    if kind is ReportKind.REJECTED and sub.render_error:
        problem = red.text(sub.render_error)
        problem = problem if len(problem) <= 300 else problem[:299] + "…"
    else:
        problem = ""
    footer = (
        f"Submission {sub.id}, accepted {when(sub.created_at)} from account "
        f"{one_line(sub.username, 40)}. This report was generated automatically by {gateway}."
    )
    return ReportModel(
        kind=kind,
        subject=subject_for(facts, kind),
        headline=headline,
        summary=summary,
        recipients=[recipient_block(r, red) for r in facts.recipients],
        documents=documents,
        cover=cover,
        pages=pages,
        notes=notes,
        footer=footer,
        submission_id=sub.id,
        problem=problem,
    )


def build_notice(
    facts: ReportFacts, job_id: int, attempt_no: int, *, privacy: bool, gateway: str = "faxout"
) -> ReportModel | None:
    """A per-attempt notice ("busy, will retry at 14:05 UTC"); None if the attempt is gone."""
    red = Redactor(facts, privacy)
    r = next((r for r in facts.recipients if r.job.id == job_id), None)
    if r is None:
        return None
    a = next((a for a in r.attempts if a.attempt_no == attempt_no), None)
    if a is None:
        return None
    words = CALL_WORDS.get(a.outcome or "", a.outcome or a.phase)
    nxt = r.job.next_attempt_at
    retry = f"will retry at {clock(nxt)}" if nxt and r.job.state in ("ready", "queued") else ""
    subject = one_line(
        f"Fax to {readable(r.job.number)}: {words}" + (f", {retry}" if retry else "")
    )
    block = recipient_block(r, red)
    block.outcome, block.outcome_class = "In progress", "unknown"
    block.detail = f"Attempt {attempt_no}: {words}." + (f" The gateway {retry}." if retry else "")
    sub = facts.submission
    return ReportModel(
        kind=ReportKind.NOTICE,
        subject=subject,
        headline=f"Attempt {attempt_no}: {words}",
        summary="This is a progress notice; the final report follows when the fax is done.",
        recipients=[block],
        documents=[f"{red.file(d.filename, d.seq)} ({size(d.size)})" for d in sub.documents],
        cover="none" if sub.cover_page == "none" else one_line(sub.cover_page, 100),
        pages=plural(sub.pages, "page") if sub.pages else "-",
        notes=[],
        footer=f"Submission {sub.id}. This notice was generated automatically by {gateway}.",
        submission_id=sub.id,
    )
