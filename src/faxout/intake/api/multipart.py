"""``POST /api/v1/faxes`` as ``multipart/form-data``: a ``fax`` part (the JSON body without its
``documents``) and one ``document`` part per file, streamed into the document store as it
arrives, so a large document costs no memory and no base64.

One parser serves every strict multipart body (``read_form``): ``PartRules`` say which text
fields a body may hold, how large each may be, which part name carries files and where their
bytes go. The API's rules are ``FAX_RULES``; the web console's send form has its own
(``faxout.intake.console.sendform``), so both refuse alike and stream files alike.

The parser is the FaxOut endpoint's (python-multipart's ``MultipartParser``, the same header
and transfer-encoding helpers), but stricter, because a program can be told what is wrong: an
unknown part, a second ``fax`` part, a body that is not multipart or ends early are each a 400 or
422 naming it, never a 5xx. The whole body is at most ``limits.max_body_bytes`` (refused on its
``Content-Length`` before it is read, else when the streamed bytes pass it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser
from starlette.requests import ClientDisconnect, Request

from faxout.blobs.store import BlobStore, Upload
from faxout.errors import StorageError
from faxout.intake.faxout.disposition import disposition, header_param, main_value
from faxout.intake.faxout.transfer import TransferDecodeError, decoder_for
from faxout.intake.settings import Limits
from faxout.jobs.create import NewDocument

MULTIPART = "multipart/form-data"
MAX_FAX_PART_BYTES = 1024 * 1024  # the fax's JSON: recipients, cover text and labels
MAX_PART_HEADERS = 32
MAX_PART_HEADER_BYTES = 16 * 1024


class MultipartError(Exception):
    """The body cannot be taken: ``status`` (400, 413 or 422), what is wrong, and the part it
    is about (``field``, "" when it is the body as a whole)."""

    def __init__(self, status: int, detail: str, field: str = "") -> None:
        super().__init__(detail)
        self.status, self.field = status, field


@dataclass(frozen=True)
class PartRules:
    """Which parts a body may hold: the text ``fields`` (name → the most bytes it may hold;
    each at most once) and any number of file parts named ``files``, streamed into an upload
    from ``new_file`` (None: the store's ``new_upload``). ``skip_empty_files``: a file part
    without a file name and without bytes is dropped, not refused (a browser sends one for a
    file input left empty)."""

    fields: Mapping[str, int]
    files: str = "document"
    skip_empty_files: bool = False
    new_file: Callable[[], Upload] | None = None

    def taken(self) -> str:
        """The part names taken, for the refusal of another: ``fax and document``."""
        names = [*self.fields, self.files]
        return ", ".join(names[:-1]) + f" and {names[-1]}"


FAX_RULES = PartRules({"fax": MAX_FAX_PART_BYTES})


@dataclass
class MultipartBody:
    """What the body held: each text field's bytes and the documents (uploaded, not yet
    committed: the caller discards them whatever happens, a committed upload is kept)."""

    fields: dict[str, bytes] = field(default_factory=dict)
    documents: list[NewDocument] = field(default_factory=list)

    def discard(self) -> None:
        """Forget every document not committed."""
        for doc in self.documents:
            doc.upload.discard()


@dataclass
class MultipartFax:
    """What an API body held: the ``fax`` part's bytes and the documents (as ``MultipartBody``)."""

    fax: bytes = b""
    documents: list[NewDocument] = field(default_factory=list)

    def discard(self) -> None:
        """Forget every document not committed."""
        for doc in self.documents:
            doc.upload.discard()


def is_multipart(content_type: str) -> bool:
    """Whether a request's ``Content-Type`` says ``multipart/form-data``."""
    return main_value("content-type", content_type) == MULTIPART


class _Parser:
    """Callbacks of python-multipart's parser, collecting a ``MultipartBody`` by ``rules``."""

    def __init__(self, boundary: str, store: BlobStore, limits: Limits, rules: PartRules) -> None:
        self.limits, self.rules = limits, rules
        self.new_file = rules.new_file or store.new_upload
        self.got = MultipartBody()
        self.ended = False
        self._field = ""  # the text field being read
        self._value = bytearray()
        self._parts = 0
        self._headers: dict[str, str] = {}
        self._hname, self._hvalue = bytearray(), bytearray()
        self._write: Callable[[bytes], None] = self._refuse
        self._finish: Callable[[], None] = _nothing
        self._current: NewDocument | None = None
        self._unnamed = False  # the current file part came without a file name
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": lambda d, s, e: self._hname.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._hvalue.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": lambda d, s, e: self._write(d[s:e]),
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_PART_HEADER_BYTES,
        )

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise MultipartError(400, f"malformed multipart body: {exc}") from exc
        except TransferDecodeError as exc:
            raise MultipartError(
                422, f"document {len(self.got.documents)}: {exc}", self.rules.files
            ) from exc
        except StorageError as exc:
            raise MultipartError(503, f"the document store failed: {exc}") from exc

    def _refuse(self, data: bytes) -> None:
        raise MultipartError(400, "malformed multipart body: data outside a part")

    def _part_begin(self) -> None:
        self._parts += 1
        self._headers = {}
        if self._parts > self.limits.max_parts:
            raise MultipartError(422, f"more than {self.limits.max_parts} parts")

    def _header_end(self) -> None:
        name = bytes(self._hname).decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._hvalue).decode("utf-8", "replace").strip()
        self._hname.clear()
        self._hvalue.clear()

    def _headers_finished(self) -> None:
        name, filename = disposition(self._headers.get("content-disposition", ""))
        sink: Callable[[bytes], None]
        if name is not None and name in self.rules.fields:
            if name in self.got.fields:
                raise MultipartError(422, f"{name}: more than one {name} part", name)
            self.got.fields[name] = b""
            self._field = name
            self._value.clear()
            sink = self._field_data
        elif name == self.rules.files:
            sink = self._new_document(filename)
        else:
            shown = "without a name" if name is None else repr(name[:40])
            raise MultipartError(422, f"a part {shown}: only {self.rules.taken()} parts are taken")
        decoder = decoder_for(self._headers.get("content-transfer-encoding", ""), sink)
        self._write, self._finish = decoder.write, decoder.finish

    def _field_data(self, data: bytes) -> None:
        self._value += data
        cap = self.rules.fields[self._field]
        if len(self._value) > cap:
            name = self._field
            raise MultipartError(413, f"{name}: the part may be at most {cap} bytes", name)

    def _new_document(self, filename: str | None) -> Callable[[bytes], None]:
        docs = self.got.documents
        files = self.rules.files
        if len(docs) >= self.limits.max_attachments:
            raise MultipartError(422, f"{files}s: more than {self.limits.max_attachments}", files)
        ctype = main_value("content-type", self._headers.get("content-type", ""))
        upload = self.new_file()
        self._unnamed = not filename
        self._current = NewDocument(filename or f"document-{len(docs) + 1}", ctype, upload)
        docs.append(self._current)
        return upload.write

    def _part_end(self) -> None:
        self._finish()
        doc, self._current = self._current, None
        if self._field:
            self.got.fields[self._field] = bytes(self._value)
            self._field = ""
        if doc is not None and doc.upload.size == 0:
            if not (self.rules.skip_empty_files and self._unnamed):
                detail = f"document {doc.filename[:60]!r}: the document is empty"
                raise MultipartError(422, detail, self.rules.files)
            doc.upload.discard()  # a file input left empty: no document at all
            self.got.documents.remove(doc)
        self._write, self._finish = self._refuse, _nothing

    def _end(self) -> None:
        self.ended = True


def _nothing() -> None:
    """No decoder holds anything back between parts."""


async def read_form(
    request: Request, store: BlobStore, limits: Limits, rules: PartRules
) -> MultipartBody:
    """The text fields and the files of a multipart body, as ``rules`` allow them;
    ``MultipartError`` when the body cannot be taken (its documents discarded). Whether a
    field or a file is missing is the caller's to say."""
    cap = limits.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise MultipartError(413, f"the body may be at most {cap} bytes")
    ctype = request.headers.get("content-type", "")
    boundary = header_param("content-type", ctype, "boundary")
    if not boundary or len(boundary) > 200:
        raise MultipartError(400, "multipart/form-data needs a boundary of 1 to 200 characters")
    try:
        parser = _Parser(boundary, store, limits, rules)
    except (ValueError, MultipartParseError) as exc:
        raise MultipartError(400, f"malformed multipart body: {exc}") from exc
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise MultipartError(413, f"the body may be at most {cap} bytes")
            parser.feed(chunk)
        if not parser.ended:
            raise MultipartError(400, "malformed multipart body: it ends before its last boundary")
        return parser.got
    except ClientDisconnect as exc:
        parser.got.discard()
        raise MultipartError(400, "the client went away mid-body") from exc
    except BaseException:
        parser.got.discard()
        raise


async def read_multipart(request: Request, store: BlobStore, limits: Limits) -> MultipartFax:
    """The ``fax`` part and the documents of an API body; ``MultipartError`` when the body
    cannot be taken (its documents discarded)."""
    got = await read_form(request, store, limits, FAX_RULES)
    if "fax" not in got.fields:
        got.discard()
        raise MultipartError(422, "fax: the part is missing (the fax as JSON)", "fax")
    if not got.documents:
        raise MultipartError(422, "document: at least one document part is needed", "document")
    return MultipartFax(got.fields["fax"], got.documents)
