"""What a document is, from its bytes alone.

The client's file name and Content-Type are never consulted: FaxOut clients label files
loosely, and trusting a label would hand a crafted file to the wrong parser. We read magic
numbers, look inside ZIP containers, and fall back to "is it text?" only for what has no
magic at all.
"""

from __future__ import annotations

import enum
import zipfile
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from faxout.render.result import Refusal, RefusalReason

_HEAD = 8192


class Kind(enum.Enum):
    """Which converter handles a document."""

    PDF = "pdf"
    POSTSCRIPT = "postscript"
    IMAGE = "image"
    OFFICE = "office"
    HTML = "html"
    SVG = "svg"
    TEXT = "text"


@dataclass(frozen=True)
class Detected:
    """A recognised document; ``suffix`` is the extension a converter may need (".docx")."""

    kind: Kind
    suffix: str


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
)
_ODF_SUFFIX = {
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.text-template": ".ott",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.spreadsheet-template": ".ots",
    "application/vnd.oasis.opendocument.presentation": ".odp",
    "application/vnd.oasis.opendocument.presentation-template": ".otp",
    "application/vnd.oasis.opendocument.graphics": ".odg",
}
_OOXML_SUFFIX = {"word/": ".docx", "xl/": ".xlsx", "ppt/": ".pptx"}
_HTML_TAGS = (b"<p>", b"<p ", b"<div", b"<table", b"<br", b"<body", b"<h1", b"<span", b"<b>")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE2_SCAN = 64 * 1024 * 1024
_OLE2_STREAMS = (
    ("WordDocument", ".doc"),
    ("Workbook", ".xls"),
    ("PowerPoint Document", ".ppt"),
)


def detect(path: Path) -> Detected | Refusal:
    """Recognise ``path`` by content, or say why it is not a document we can fax."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD)
    if not head.strip():
        return Refusal(RefusalReason.EMPTY, "the file is empty")
    found = _by_magic(head) or _by_container(path, head) or _by_markup(head)
    if found is not None:
        return found
    if _is_text(head):
        return Detected(Kind.TEXT, ".txt")
    return Refusal(RefusalReason.UNSUPPORTED, "not a document type we can fax")


def _by_magic(head: bytes) -> Detected | None:
    if b"%PDF-" in head[:1024]:  # the spec tolerates junk before the header
        return Detected(Kind.PDF, ".pdf")
    stripped = head.lstrip(b"\x04")  # some drivers start PostScript with a ^D
    if stripped.startswith(b"%!") or head.startswith(b"\xc5\xd0\xd3\xc6"):
        eps = b"EPSF" in stripped[:40] or head.startswith(b"\xc5\xd0\xd3\xc6")
        return Detected(Kind.POSTSCRIPT, ".eps" if eps else ".ps")
    for magic, suffix in _IMAGE_MAGIC:
        if head.startswith(magic):
            return Detected(Kind.IMAGE, suffix)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return Detected(Kind.IMAGE, ".webp")
    if head.startswith(b"BM") and len(head) > 26 and head[14] in (12, 40, 52, 56, 108, 124):
        return Detected(Kind.IMAGE, ".bmp")  # the DIB header size confirms a real BMP
    if head.startswith(b"{\\rtf"):
        return Detected(Kind.OFFICE, ".rtf")
    return None


def _ole2_suffix(path: Path) -> str:
    # The compound file's directory holds UTF-16 stream names and may sit anywhere in the
    # file, so scan it all (office files are a few MB at most; bounded by _OLE2_SCAN).
    with path.open("rb") as handle:
        data = handle.read(_OLE2_SCAN)
    for stream, suffix in _OLE2_STREAMS:
        if stream.encode("utf-16-le") in data:
            return suffix
    return ".doc"


def _by_container(path: Path, head: bytes) -> Detected | Refusal | None:
    if head.startswith(_OLE2):
        return Detected(Kind.OFFICE, _ole2_suffix(path))
    if not head.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                mime = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if mime in _ODF_SUFFIX:
                    return Detected(Kind.OFFICE, _ODF_SUFFIX[mime])
            if "[Content_Types].xml" in names:
                for prefix, suffix in _OOXML_SUFFIX.items():
                    if any(name.startswith(prefix) for name in names):
                        return Detected(Kind.OFFICE, suffix)
    except (zipfile.BadZipFile, OSError, ValueError):
        return Refusal(RefusalReason.CORRUPT, "a damaged ZIP container")
    return Refusal(RefusalReason.UNSUPPORTED, "a ZIP archive, not an office document")


def _by_markup(head: bytes) -> Detected | None:
    text = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not text.startswith(b"<"):
        return None
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text:
        return Detected(Kind.HTML, ".html")
    if b"<svg" in text:
        return Detected(Kind.SVG, ".svg")
    # A fragment (an e-mail body, "<p>Hello</p>") is HTML too: printing its tags helps nobody.
    if b"</" in text and any(tag in text for tag in _HTML_TAGS):
        return Detected(Kind.HTML, ".html")
    return None


def _is_text(head: bytes) -> bool:
    # UTF-16 text has NULs but says so with a BOM; otherwise a NUL means binary.
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    best = from_bytes(head).best()
    if best is None:
        return False
    decoded = str(best)
    controls = sum(1 for ch in decoded if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls <= len(decoded) // 100
