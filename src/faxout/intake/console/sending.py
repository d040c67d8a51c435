"""The console's send form made into a fax, by the very functions ``POST /api/v1/faxes`` uses.

The form (``sendform.SendForm``) becomes the API's ``FaxFields``; ``prepare`` and ``submit``
(``faxout.intake.api.submit``) then check it against the limits, the cover pages installed and
the account's dial policy, and commit it through the group committer as the API does. What the
console adds is reading what a person types:

- recipients pasted as text (``recipients.entries_of``; each refusal names its line);
- the send time as ``YYYY-MM-DDTHH:MM`` (a ``datetime-local`` input) read in the IANA zone the
  form gives (the browser's own), else the account's ``time_zone``, else UTC; empty is now. A
  wall time that does not exist in that zone (the hour skipped when clocks go forward) is
  refused; one that occurs twice (clocks going back) is the first of the two.

Every refusal is a ``FormError`` naming the form field, so the page shows it beside the field
and keeps what was typed.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.requests import Request

from faxout import timezones
from faxout.accounts.repo import Account
from faxout.intake.api.submit import (
    FaxFields,
    Problem422,
    To,
    asked_of,
    check_labels,
    prepare,
    submit,
)
from faxout.intake.console.recipients import check_entries, entries_of_text, policy_of
from faxout.intake.console.sendform import (
    COVER_PAGE,
    COVER_TEXT,
    DOCUMENT,
    FORM_KEY,
    LABELS,
    RECIPIENTS,
    RESOLUTION,
    SEND_AT,
    TIME_ZONE,
    FormError,
    SendForm,
)
from faxout.intake.services import Intake
from faxout.jobs.create import Created, NewSubmission

PROHIBITED = "faxing is prohibited for this account"
MAX_FORM_KEY_CHARS = 64
# What prepare() names, as the form's fields.
_FIELD_OF = {
    "to": RECIPIENTS,
    "documents": DOCUMENT,
    "cover_page": COVER_PAGE,
    "cover_text": COVER_TEXT,
    "send_at": SEND_AT,
}


def zone_of(asked: str, account: Account) -> str:
    """The zone a send time is read in: ``asked`` (the form's), else the account's, else UTC."""
    name = asked.strip() or account.time_zone or "UTC"
    try:
        return timezones.validate(name)
    except ValueError as exc:
        raise FormError(400, TIME_ZONE, f"{TIME_ZONE}: {exc}") from exc


def send_at_of(local: str, zone: str) -> datetime | None:
    """``YYYY-MM-DDTHH:MM`` (seconds allowed) in ``zone`` as an aware time; None when empty."""
    text = local.strip()
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FormError(
            400, SEND_AT, f"{SEND_AT}: {text[:40]!r} is not a date and time (YYYY-MM-DDTHH:MM)"
        ) from exc
    if naive.tzinfo is not None:
        raise FormError(400, SEND_AT, f"{SEND_AT}: give the local time without a zone offset")
    when = naive.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    # A wall time in a gap does not survive the round trip through UTC.
    if when.astimezone(UTC).astimezone(when.tzinfo).replace(tzinfo=None) != naive:
        raise FormError(
            400, SEND_AT, f"{SEND_AT}: {text} does not exist in {zone} (the clocks skip it)"
        )
    return when


def labels_of(text: str) -> dict[str, str]:
    """``key: value`` (or ``key=value``) lines as the API's labels; ``FormError`` naming the
    line that is not one, or the rule a label breaks."""
    labels: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise FormError(400, LABELS, f"{LABELS}: line {number} is not key: value")
        labels[key.strip()] = value.strip()
    try:
        return check_labels(labels)
    except ValueError as exc:
        raise FormError(400, LABELS, f"{LABELS}: {exc}") from exc


def fields_of(form: SendForm, account: Account, intake: Intake) -> FaxFields:
    """The API's ``FaxFields`` for the form; ``FormError`` naming the field or the line."""
    entries = entries_of_text(form.get(RECIPIENTS))
    if not entries:
        raise FormError(400, RECIPIENTS, f"{RECIPIENTS}: give at least one fax number")
    most = intake.limits.max_recipients
    if len(entries) > most:
        raise FormError(400, RECIPIENTS, f"{RECIPIENTS}: at most {most}, not {len(entries)}")
    refused = [c for c in check_entries(entries, policy_of(account, intake.reachable)) if not c.ok]
    if refused:
        raise FormError(400, RECIPIENTS, "; ".join(c.said for c in refused))
    resolution = form.get(RESOLUTION).strip().lower() or "high"
    if resolution not in ("high", "low"):
        raise FormError(400, RESOLUTION, f"{RESOLUTION}: High or Low, not {resolution[:20]!r}")
    when = send_at_of(form.get(SEND_AT), zone_of(form.get(TIME_ZONE), account))
    return FaxFields(
        to=[To(number=e.number, name=e.name) for e in entries],
        cover_page=form.get(COVER_PAGE).strip() or "Default",
        cover_text=form.get(COVER_TEXT).replace("\r\n", "\n"),
        resolution="low" if resolution == "low" else "high",
        send_at=when,
        labels=labels_of(form.get(LABELS)),
    )


def form_error_of(exc: Problem422) -> FormError:
    """``prepare``'s refusal (``to: …``, ``cover_page: …``) as the form field's."""
    said = str(exc)
    where = said.partition(":")[0]
    return FormError(400, _FIELD_OF.get(where, ""), said)


def prepared(
    intake: Intake, account: Account, form: SendForm, now: datetime, request: Request
) -> tuple[NewSubmission, FaxFields]:
    """The submission the form asks for, checked as the API checks one."""
    if account.fax_prohibited:
        raise FormError(403, "", PROHIBITED)
    if not form.documents:
        raise FormError(400, DOCUMENT, f"{DOCUMENT}: choose at least one document")
    fields = fields_of(form, account, intake)
    try:
        return prepare(intake, account, fields, form.documents, now, request), fields
    except Problem422 as exc:
        raise form_error_of(exc) from exc


def form_key_of(form: SendForm) -> str | None:
    """The idempotency key of the form's post: its ``form_key`` (one per form shown), so a
    double click or a re-sent post gives the fax the first one made; None without one."""
    key = form.get(FORM_KEY).strip()
    if not key or len(key) > MAX_FORM_KEY_CHARS or not key.isprintable():
        return None
    return f"console:{key}"


def send(
    intake: Intake,
    account: Account,
    form: SendForm,
    now: datetime,
    request: Request,
    *,
    batched: Callable[[NewSubmission, list[str]], int] | None = None,
) -> Created:
    """Make the form's fax durable (blocking: call from a worker thread, ``batched`` being
    ``faxes.batched(request)``): the fax made, or the one this form made before (``replayed``).
    The form's uploads are discarded whatever happens (a committed one is kept)."""
    key = form_key_of(form)
    try:
        sub, fields = prepared(intake, account, form, now, request)
        made = submit(intake, sub, key, asked_of(fields), batched=batched)
    finally:
        form.discard()
    if isinstance(made, int):  # this form was sent before, with other contents
        raise FormError(
            409, "", f"This form was already sent as fax {made}; reload the page to send another."
        )
    return made
