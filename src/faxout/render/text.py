"""Plain text laid out as pages in a monospaced font, then rendered like any PDF.

The text is decoded with charset-normalizer (clients send Latin-1, CP1252, UTF-16 as often as
UTF-8), tabs are expanded to 8 columns, form feeds start a new page, and long lines wrap at
the column limit (East Asian wide characters count two columns). Each line becomes a PDFium
text object in an in-memory PDF with the font embedded, so the text is rasterised by the same
aliased, anisotropic path as a PDF: no bitmap font scaling, crisp at both resolutions.

10 pt DejaVu Sans Mono: stems about 3 px wide at 204 dpi, x-height 15 lines at fine and
7 at normal resolution, which stays legible on paper. 80 columns fit both A4 and Letter.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from charset_normalizer import from_bytes

from faxout.errors import RenderError
from faxout.render.options import Paper
from faxout.render.result import RefusalReason
from faxout.render.sink import Refused

FONT_SIZE_PT = 10.0
LINE_PT = 12.0
MARGIN_PT = 42.0
TAB = 8
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_SAMPLE = 256 * 1024
_TIE = 0.15  # chaos difference (0..1) under which charset guesses count as equally good
_ADVANCE_EM = 0.6021  # DejaVu Sans Mono and Liberation Mono advance, in em


@functools.cache
def font_path() -> Path:
    """The monospaced TrueType font used for text documents."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    fc_match = shutil.which("fc-match")
    if fc_match:
        found = subprocess.run(
            [fc_match, "-f", "%{file}", "monospace:fontformat=TrueType"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
        if found and Path(found).exists():
            return Path(found)
    raise RenderError("no monospaced TrueType font: install fonts-dejavu-core")


def decode(data: bytes) -> str:
    """Decode text of unknown charset; never fails (falls back to Windows-1252)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Guess from a sample (charset-normalizer is slow on megabytes), decode the whole.
    matches = list(from_bytes(data[:_SAMPLE]))
    if not matches:
        return data.decode("cp1252", "replace")
    encoding = matches[0].encoding
    # Short Western text fits several Latin code pages equally well and charset-normalizer
    # may pick a Baltic one ("déją vu"); Windows-1252 is by far the likeliest, so it wins
    # any near-tie.
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= matches[0].chaos + _TIE:
            encoding = "cp1252"
    return data.decode(encoding, "replace")


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


_BREAK_AFTER = frozenset("/-?&=_.,;:")  # where a long token (a URL, a path) may break


def _fit(line: str, columns: int) -> int:
    """How many characters of ``line`` fit in ``columns`` cells."""
    used = 0
    for index, char in enumerate(line):
        used += _width(char)
        if used > columns:
            return index
    return len(line)


def wrap(line: str, columns: int) -> Iterator[str]:
    """Split one logical line into display lines of at most ``columns`` cells.

    Lines break at the last space that fits (the space itself is dropped), so no word is cut
    in two; a token longer than a line (a URL) breaks after a ``/``, ``-``, ``?``, ``&``… in
    its second half, and only a run with none of those is cut where the line ends.
    """
    while True:
        cut = _fit(line, columns)
        if cut >= len(line):
            yield line
            return
        indent = len(line) - len(line.lstrip(" "))
        space = line.rfind(" ", 0, cut + 1)  # a space just past the edge is a break too
        if space > indent:
            yield line[:space].rstrip(" ")
            line = line[space:].lstrip(" ")
            if not line:
                return
            continue
        soft = next((i for i in range(cut - 1, cut // 2, -1) if line[i] in _BREAK_AFTER), -1)
        at = soft + 1 if soft >= 0 else cut
        yield line[:at]
        line = line[at:]


def _clean(line: str) -> str:
    # Other control characters would print as boxes or shift columns.
    return "".join(ch for ch in line if ch >= " " or ch == "\t").expandtabs(TAB).rstrip()


def paginate(text: str, columns: int, lines_per_page: int) -> Iterator[list[str]]:
    """Yield pages of display lines; a form feed forces a new page."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for chunk in text.split("\f"):
        page: list[str] = []
        for raw in chunk.split("\n"):
            for line in wrap(_clean(raw), columns):
                if len(page) == lines_per_page:
                    yield page
                    page = []
                page.append(line)
        while page and not page[-1]:
            page.pop()  # trailing blank lines would otherwise make blank pages
        yield page


def layout(data: bytes, paper: Paper, max_pages: int = 10_000) -> pdfium.PdfDocument:
    """Lay out ``data`` (bytes of any charset) as a PDF on ``paper``.

    Raises ``Refused`` (too many pages) as soon as the text runs past ``max_pages``.
    """
    width_pt, height_pt = paper.size_pt
    columns = int((width_pt - 2 * MARGIN_PT) / (FONT_SIZE_PT * _ADVANCE_EM))
    lines_per_page = int((height_pt - 2 * MARGIN_PT) / LINE_PT)
    pdf = pdfium.PdfDocument.new()
    font_bytes = font_path().read_bytes()
    buffer = (ctypes.c_uint8 * len(font_bytes)).from_buffer_copy(font_bytes)
    font = pdfium_c.FPDFText_LoadFont(
        pdf, buffer, len(font_bytes), pdfium_c.FPDF_FONT_TRUETYPE, True
    )
    if not font:
        raise RenderError(f"PDFium cannot load the font {font_path()}")
    pages = list(itertools.islice(paginate(decode(data), columns, lines_per_page), max_pages + 2))
    # A trailing form feed (common in printer output) leaves an empty last chunk: drop it.
    while len(pages) > 1 and not pages[-1]:
        pages.pop()
    if len(pages) > max_pages:
        pdf.close()
        raise Refused(RefusalReason.TOO_MANY_PAGES, f"more than {max_pages} pages of text")
    for lines in pages:
        page = pdf.new_page(width_pt, height_pt)
        baseline = height_pt - MARGIN_PT - FONT_SIZE_PT
        for line in lines:
            if line:
                _add_line(pdf, page, font, line, MARGIN_PT, baseline)
            baseline -= LINE_PT
        page.gen_content()
        page.close()
    pdfium_c.FPDFFont_Close(font)
    return pdf


def _add_line(
    pdf: pdfium.PdfDocument, page: pdfium.PdfPage, font: object, line: str, x: float, y: float
) -> None:
    obj = pdfium_c.FPDFPageObj_CreateTextObj(pdf, font, FONT_SIZE_PT)
    encoded = ctypes.create_string_buffer((line + "\0").encode("utf-16-le"))
    pdfium_c.FPDFText_SetText(obj, ctypes.cast(encoded, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
    pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
    pdfium_c.FPDFPage_InsertObject(page, obj)
