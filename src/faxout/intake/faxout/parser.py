"""A streaming parser for FaxOut request bodies that tolerates what real clients send.

Bodies are fed chunk by chunk as they arrive. Attachments stream straight into the document store
(``BlobStore.new_upload``), so memory stays flat whatever their size; other fields are small and
kept (each capped by ``limits.max_field_bytes``). Nothing here raises on bad input: a body that is
malformed or over a limit is recorded in ``ParsedForm.problem``. Parsing goes on where it can
(so the endpoint can still check the credentials first, as the reply codes demand), but never
past ``limits.max_body_bytes`` or ``limits.max_parts``: from there on bytes are only counted, so
what one request costs is bounded by those limits, not by what the client sends.

Multipart bodies go through ``multipart``'s SansIO ``PushMultipartParser``, which hands over
each part's headers at once and its body as slices of the chunk (far less Python work per
part than a callback per header token), and stops at the first refusal: nothing after a limit
is parsed. The work per byte is linear everywhere: the transfer decoders hold at most one
line, and the urlencoded splitter below finds separators with C-level searches, doing Python
work only per field (at most ``max_parts`` of them) and per chunk.

Accepted shapes: ``multipart/form-data`` (boundary quoted or not, or missing from the header and
taken from the body; a preamble; parts with or without ``Content-Type`` and
``Content-Transfer-Encoding``; no CRLF after the closing boundary), and
``application/x-www-form-urlencoded``. A body with neither content type is recognised by its
first bytes.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from multipart import MultipartError, MultipartSegment, PushMultipartParser

from faxout.blobs.store import BlobStore, Upload
from faxout.errors import StorageError
from faxout.intake.faxout import fields as names
from faxout.intake.faxout.disposition import disposition, header_param, main_value
from faxout.intake.faxout.transfer import IdentityStream, TransferDecodeError, decoder_for
from faxout.intake.settings import Limits

HEAD_BYTES = 4096  # kept of each attachment for content sniffing
SNIFF_BYTES = 64 * 1024  # how far a preamble or a boundary line may be looked for
MAX_PART_HEADERS = 32
MAX_PART_HEADER_BYTES = 16 * 1024
_BOUNDARY_LINE = re.compile(rb"^\s*--([!-~ ]{1,200}?)[ \t]*\r?\n")
# urlencoded: "&" and ";" separate fields (as python-multipart and CGI.pm have it). A name token
# skips any run of separators in one C-level match, so "&&&&…" costs nothing per byte.
_NAME_FIRST = re.compile(rb"[&;]*([^=&;]*)([=&;]?)")
_NAME_MORE = re.compile(rb"([^=&;]*)([=&;]?)")
_VALUE_END = re.compile(rb"[&;]")


class _Segments(PushMultipartParser):  # type: ignore[misc]  # the package has no types
    """The SansIO multipart parser, minus its form-data checks on each part's headers: a
    part without a ``Content-Disposition``, or with another type than ``form-data`` (old
    clients write ``file`` or ``attachment``), is judged by ``disposition`` like any other
    (ignored when it names no field) rather than failing the whole body."""

    def _create_segment(self, headerlist: list[tuple[str, str]]) -> MultipartSegment:
        return MultipartSegment(headerlist)


@dataclass
class Attachment:
    """One document of the request, stored (not yet committed) in the document store."""

    filename: str
    content_type: str
    upload: Upload
    plain_value: bool = False  # sent as a plain form value rather than a file
    received: int = 0  # decoded bytes seen, also those dropped once over a limit
    head: bytearray = field(default_factory=bytearray)  # the first bytes, for sniffing

    def note(self, data: bytes) -> None:
        """Count bytes and keep the first ``HEAD_BYTES`` of them."""
        self.received += len(data)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]


@dataclass
class ParsedForm:
    """What a body held. ``problem`` is set when it cannot be accepted (reply 5)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    problem: str | None = None
    body_bytes: int = 0

    def first(self, name: str) -> str | None:
        """The first non-empty value of a single-valued field."""
        for value in self.fields.get(name, []):
            if value:
                return value
        return None

    def discard(self) -> None:
        """Forget every stored attachment (the request was not accepted)."""
        for att in self.attachments:
            att.upload.discard()


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


class _FieldSink:
    """Collects a small field's bytes, stopping at the per-field cap."""

    def __init__(self, parser: FormParser, name: str) -> None:
        self.parser = parser
        self.name = name
        self.buf = bytearray()

    def write(self, data: bytes) -> None:
        if len(self.buf) + len(data) > self.parser.limits.max_field_bytes:
            self.parser.fail(
                f"field {self.name!r} is longer than {self.parser.limits.max_field_bytes} bytes"
            )
            return
        self.buf += data

    def close(self) -> None:
        self.parser.form.fields.setdefault(self.name, []).append(_text(bytes(self.buf)).strip())


class _AttachmentSink:
    """Streams an attachment's decoded bytes into the store."""

    def __init__(self, parser: FormParser, att: Attachment) -> None:
        self.parser = parser
        self.att = att

    def write(self, data: bytes) -> None:
        self.att.note(data)
        if self.parser.files_off:
            return
        try:
            self.att.upload.write(data)
        except StorageError as exc:
            self.parser.fail(f"storage failed: {exc}")

    def close(self) -> None:
        """Nothing to do: the endpoint commits attachments once the request is accepted."""


class _DroppedUpload:
    """Stands in for an upload once the body is over a limit: counts nothing, keeps nothing."""

    size = 0

    def write(self, data: bytes) -> None:
        """Bytes are dropped."""

    def commit(self) -> str:
        raise StorageError("a dropped upload cannot be committed")

    def discard(self) -> None:
        """Nothing was kept."""


class _NullSink:
    def write(self, data: bytes) -> None:
        """Unknown fields are dropped."""

    def close(self) -> None:
        """Nothing was kept."""


_Sink = _FieldSink | _AttachmentSink | _NullSink


def _nothing() -> None:
    """A decoder finish for a part whose bytes were dropped."""


class FormParser:
    """Feed it a body chunk by chunk, then ``finish()``."""

    def __init__(self, content_type: str | None, store: BlobStore, limits: Limits) -> None:
        self.store = store
        self.limits = limits
        self.form = ParsedForm()
        self.files_off = False  # set once over a limit: parsing goes on, file bytes are dropped
        self._dead = False  # nothing more can be parsed
        self._ctype = main_value("content-type", content_type or "")
        self._boundary = (
            header_param("content-type", content_type, "boundary") if content_type else None
        )
        self._head = bytearray()  # bytes held until the format (or the first boundary) is known
        self._feed: Callable[[bytes], object] | None = None
        self._ended = False
        # multipart part state
        self._multipart: _Segments | None = None
        self._parts = 0
        self._sink: _Sink = _NullSink()
        self._decoder: Callable[[bytes], None] = self._sink.write
        self._decoder_finish: Callable[[], None] = lambda: None
        # urlencoded field state
        self._qfields = 0
        self._qstarted = False  # a field's name has begun
        self._qname = bytearray()
        self._qcarry = b""
        self._qsink: _Sink | None = None  # set once the field's "=" was seen

    # -- problems -------------------------------------------------------------------------

    def fail(self, reason: str) -> None:
        """Record why the body cannot be accepted; the first reason wins. File bytes stop."""
        if self.form.problem is None:
            self.form.problem = reason
        if not self.files_off:
            self.files_off = True
            for att in self.form.attachments:
                att.upload.discard()

    def _kill(self, reason: str) -> None:
        self.fail(reason)
        self._dead = True

    # -- feeding --------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Parse the next bytes of the body."""
        room = self.limits.max_body_bytes - self.form.body_bytes
        self.form.body_bytes += len(chunk)
        if self._dead or not chunk:
            return
        if len(chunk) > room:
            # Nothing past the limit is parsed or decoded: the rest is only counted.
            if room > 0:
                self._parse(chunk[:room])
            self._kill(f"body is larger than {self.limits.max_body_bytes} bytes")
            return
        self._parse(chunk)

    def _parse(self, chunk: bytes) -> None:
        if self._dead:
            return
        if self._feed is None:
            self._head += chunk
            self._choose(final=False)
            return
        self._safe_feed(chunk)

    def _safe_feed(self, data: bytes) -> None:
        assert self._feed is not None
        try:
            self._feed(data)
        except MultipartError as exc:
            self._kill(f"malformed body: {exc}")
        except TransferDecodeError as exc:
            self._kill(f"malformed attachment: {exc}")

    def _choose(self, *, final: bool) -> None:
        """Pick the format once enough of the body is here, then parse what was held."""
        head = bytes(self._head)
        if self._ctype == "application/x-www-form-urlencoded":
            self._start_urlencoded(head)
            return
        if self._ctype.startswith("multipart/") and self._boundary:
            marker = b"--" + self._boundary.encode("latin-1", "replace")
            at = head.find(marker)
            if at == -1:
                if final or len(head) > SNIFF_BYTES:
                    self._kill("malformed body: the multipart boundary never appears")
                return
            self._start_multipart(self._boundary, head[at:])
            return
        # No usable content type or boundary: recognise the body by its first line.
        if b"\n" not in head and not final and len(head) <= SNIFF_BYTES:
            return
        match = _BOUNDARY_LINE.match(head)
        if match:
            boundary = match.group(1).decode("latin-1").rstrip()
            self._start_multipart(boundary, head[head.find(b"--") :])
        elif self._ctype.startswith("multipart/"):
            self._kill("malformed body: multipart without a boundary")
        elif b"=" in head[:SNIFF_BYTES]:
            self._start_urlencoded(head)
        else:
            self._kill(f"unsupported body type {self._ctype or '(none)'}")

    # -- multipart ------------------------------------------------------------------------

    def _start_multipart(self, boundary: str, data: bytes) -> None:
        self._head.clear()
        try:
            self._multipart = _Segments(
                boundary,
                header_charset="latin1",  # every byte decodes; ``_text`` then tries UTF-8
                max_header_size=MAX_PART_HEADER_BYTES,
                max_header_count=MAX_PART_HEADERS,
            )
        except MultipartError as exc:
            self._kill(f"malformed body: {exc}")
            return
        self._feed = self._mp_write
        self._safe_feed(data)

    def _mp_write(self, data: bytes) -> None:
        """Hand ``data`` to the multipart parser and act on its events: a segment (a part's
        headers), bytes of its body, ``None`` at its end."""
        assert self._multipart is not None
        for event in self._multipart.parse(data):
            if event is None:
                self._part_end()
            elif isinstance(event, MultipartSegment):
                self._part_begin(event)
            else:
                self._part_data(event)
            if self._dead:
                return  # the events after a refusal are not wanted: stop parsing the chunk

    def _part_begin(self, segment: MultipartSegment) -> None:
        self._parts += 1
        self._sink = _NullSink()
        if self._parts > self.limits.max_parts:
            self._kill(f"more than {self.limits.max_parts} parts")
            return
        headers = {
            name.strip().lower(): _text(value.encode("latin-1")).strip()
            for name, value in segment.headerlist
        }
        name, filename = disposition(headers.get("content-disposition", ""))
        key = names.canonical(name) if name else None
        if key == names.ATTACHMENT:
            self._sink = self._new_attachment(
                filename, headers.get("content-type", ""), filename is None
            )
        elif key is not None:
            self._sink = _FieldSink(self, key)
        decoder = (
            IdentityStream(self._sink.write)  # an ignored part is dropped undecoded
            if isinstance(self._sink, _NullSink)
            else decoder_for(headers.get("content-transfer-encoding", ""), self._sink.write)
        )
        self._decoder = decoder.write
        self._decoder_finish = decoder.finish

    def _new_attachment(self, filename: str | None, ctype: str, plain: bool) -> _Sink:
        if len(self.form.attachments) >= self.limits.max_attachments:
            self.fail(f"more than {self.limits.max_attachments} attachments")
        upload: Upload = _DroppedUpload()
        if not self.files_off:
            try:
                upload = self.store.new_upload()
            except StorageError as exc:
                self.fail(f"storage failed: {exc}")
        att = Attachment(filename or "", main_value("content-type", ctype), upload, plain)
        self.form.attachments.append(att)
        return _AttachmentSink(self, att)

    def _part_data(self, data: bytes) -> None:
        if self.files_off and isinstance(self._sink, _AttachmentSink):
            # The request is refused already: an attachment's bytes are not worth decoding.
            self._decoder_finish = _nothing
            return
        self._decoder(data)

    def _part_end(self) -> None:
        self._decoder_finish()
        self._sink.close()
        self._sink = _NullSink()

    def _close_multipart(self) -> None:
        """The end of the body: complete only if the closing boundary was seen."""
        if self._multipart is None:
            return
        try:
            self._multipart.close()
        except MultipartError:
            return  # ended early: ``finish`` says so
        self._ended = True

    # -- urlencoded ------------------------------------------------------------------------

    def _start_urlencoded(self, data: bytes) -> None:
        self._head.clear()
        self._feed = self._q_write
        self._ended = True  # a urlencoded body has no terminator: whatever arrived is it
        self._safe_feed(data)

    def _q_write(self, data: bytes) -> None:
        """Split urlencoded bytes into fields; each loop turn ends a name, a value or the chunk."""
        pos, end = 0, len(data)
        while pos < end and not self._dead:
            if self._qsink is None:  # in a name, or between fields
                match = (_NAME_MORE if self._qstarted else _NAME_FIRST).match(data, pos)
                assert match is not None  # both patterns match the empty string
                name, sep = match.group(1), match.group(2)
                pos = match.end()
                if (name or sep == b"=") and not self._qstarted:
                    self._q_start()
                if not self._qstarted:
                    continue
                self._qname += name
                if len(self._qname) > self.limits.max_field_bytes:
                    self._kill(f"a field name is longer than {self.limits.max_field_bytes} bytes")
                elif sep == b"=":
                    self._q_open()
                elif sep:  # "&" or ";" right after a name: a field without a value
                    self._q_end()
            else:
                found = _VALUE_END.search(data, pos)
                stop = found.start() if found else end
                self._q_value(data[pos:stop])
                pos = stop
                if found:
                    self._q_end()
                    pos += 1

    def _q_start(self) -> None:
        self._qfields += 1
        if self._qfields > self.limits.max_parts:
            self._kill(f"more than {self.limits.max_parts} fields")
            return
        self._qstarted = True
        self._qname.clear()
        self._qcarry = b""
        self._qsink = None

    def _q_open(self) -> _Sink:
        if self._qsink is None:
            name = urllib.parse.unquote_plus(_text(bytes(self._qname)))
            key = names.canonical(name)
            if key == names.ATTACHMENT:
                self._qsink = self._new_attachment(None, "", True)
            elif key is not None:
                self._qsink = _FieldSink(self, key)
            else:
                self._qsink = _NullSink()
        return self._qsink

    def _q_value(self, raw: bytes) -> None:
        sink = self._q_open()
        if isinstance(sink, _NullSink) or (self.files_off and isinstance(sink, _AttachmentSink)):
            return  # nothing to keep: not worth decoding
        buf = self._qcarry + raw
        # A %XX escape may be split across chunks: hold back an incomplete one.
        cut = len(buf)
        pct = buf.rfind(b"%", max(0, len(buf) - 2))
        if pct != -1:
            cut = pct
        self._qcarry = buf[cut:]
        sink.write(urllib.parse.unquote_to_bytes(buf[:cut].replace(b"+", b" ")))

    def _q_end(self) -> None:
        sink = self._q_open()
        if self._qcarry:
            sink.write(urllib.parse.unquote_to_bytes(self._qcarry.replace(b"+", b" ")))
            self._qcarry = b""
        sink.close()
        self._qstarted = False
        self._qsink = None

    # -- end ------------------------------------------------------------------------------

    def finish(self) -> ParsedForm:
        """Close the parse and return what the body held."""
        if not self._dead:
            if self._feed is None:
                if not self._head.strip():
                    self._kill("empty body")
                else:
                    self._choose(final=True)
            if self._feed is not None and not self._dead:
                if self._qstarted:
                    self._q_end()
                self._close_multipart()
                if not self._ended:
                    self.fail("body ends before the closing multipart boundary")
        if self.files_off:
            for att in self.form.attachments:
                att.upload.discard()
        return self.form
