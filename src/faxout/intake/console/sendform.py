"""The console's send form as it arrives: ``multipart/form-data`` posted by the plain HTML form
(no JavaScript) or by ``XMLHttpRequest`` with ``FormData`` (for the upload progress bar).

The body goes through the API's own multipart parser (``faxout.intake.api.multipart.read_form``)
with the form's rules: the text fields below, each at most ``limits.max_field_bytes`` and given
once, and any number of ``document`` file parts streamed straight into uploads of the document
store (or, for a preview, into files of ``new_file``), so a large document costs no memory. The
whole body is bounded by ``limits.max_body_bytes`` and ``limits.max_parts``. A file input left
empty sends a part without a file name or bytes: it is dropped, not refused.

Every refusal is a ``FormError`` naming the field it is about, so the page can show it beside
that field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from faxout.blobs.store import BlobStore, Upload
from faxout.intake.api.multipart import MultipartError, PartRules, is_multipart, read_form
from faxout.intake.settings import Limits
from faxout.jobs.create import NewDocument

RECIPIENTS = "recipients"
COVER_PAGE = "cover_page"
COVER_TEXT = "cover_text"
RESOLUTION = "resolution"
SEND_AT = "send_at"
TIME_ZONE = "time_zone"
LABELS = "labels"
FORM_KEY = "form_key"  # one per form shown: a second post of the same form makes no new fax
CSRF = "csrf"
DOCUMENT = "document"
FIELDS = (
    RECIPIENTS,
    COVER_PAGE,
    COVER_TEXT,
    RESOLUTION,
    SEND_AT,
    TIME_ZONE,
    LABELS,
    FORM_KEY,
    CSRF,
)


class FormError(Exception):
    """The form cannot be taken: the HTTP ``status``, the ``field`` it is about ("" for the
    form as a whole) and what is wrong, in words for the sender."""

    def __init__(self, status: int, field: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.field, self.detail = status, field, detail


@dataclass
class SendForm:
    """The form's text fields and its documents (uploaded, not yet committed: the caller
    discards them whatever happens, a committed upload is kept)."""

    values: dict[str, str] = field(default_factory=dict)
    documents: list[NewDocument] = field(default_factory=list)

    def get(self, name: str) -> str:
        """A text field's value, "" when the form did not send it."""
        return self.values.get(name, "")

    def discard(self) -> None:
        """Forget every document not committed."""
        for doc in self.documents:
            doc.upload.discard()


def rules_for(limits: Limits, new_file: Callable[[], Upload] | None = None) -> PartRules:
    """The parts a send form may hold under ``limits``."""
    return PartRules(
        {name: limits.max_field_bytes for name in FIELDS},
        files=DOCUMENT,
        skip_empty_files=True,
        new_file=new_file,
    )


async def read_send_form(
    request: Request,
    store: BlobStore,
    limits: Limits,
    *,
    new_file: Callable[[], Upload] | None = None,
) -> SendForm:
    """The send form in ``request``'s body; ``FormError`` naming the field when it cannot be
    taken (its documents discarded). Text fields are UTF-8, as a browser sends them for a page
    served as UTF-8."""
    if not is_multipart(request.headers.get("content-type", "")):
        # A form without enctype="multipart/form-data" would send file names, not files.
        raise FormError(400, "", "the form must be sent as multipart/form-data")
    try:
        body = await read_form(request, store, limits, rules_for(limits, new_file))
    except MultipartError as exc:
        raise FormError(exc.status, exc.field, str(exc)) from exc
    form = SendForm(documents=body.documents)
    try:
        for name, raw in body.fields.items():
            try:
                form.values[name] = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FormError(400, name, f"{name}: the text is not UTF-8") from exc
    except BaseException:
        form.discard()
        raise
    return form
