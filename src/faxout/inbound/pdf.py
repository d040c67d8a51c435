"""A received fax as a PDF: each page at its own size, never cut, never scaled.

A fax page is its pixels at its resolution: 1728 dots across at 204 dpi is 8.47 in, and a
page of 1100 rows at 98 dpi is 11.2 in tall, whatever paper the sender used. Each PDF page is
given exactly that size (``dpi`` per page, both axes), so a short page (a receipt, a
half-page note) stays short and a long one stays whole. The bilevel image goes in as CCITT G4,
as it came, so the PDF is about as small as the TIFF.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from PIL import Image

from faxout.inbound.image import dpi_of

PREVIEW_WIDTH = 600


class FaxImageError(ValueError):
    """The received image could not be read (the message says what failed)."""


def _pages(source: BinaryIO) -> list[tuple[Image.Image, tuple[float, float]]]:
    try:
        with Image.open(source) as image:
            pages = []
            for frame in range(getattr(image, "n_frames", 1)):
                image.seek(frame)
                page = image.convert("1") if image.mode != "1" else image.copy()
                pages.append((page, dpi_of(image)))
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise FaxImageError(f"the fax image does not decode: {exc}") from exc
    if not pages:
        raise FaxImageError("the fax image has no page")
    return pages


def tiff_to_pdf(source: BinaryIO) -> bytes:
    """The PDF of a received TIFF; raises ``FaxImageError`` when it does not decode."""
    out = io.BytesIO()
    for n, (page, dpi) in enumerate(_pages(source)):
        # one page at a time: pages of one fax may differ in resolution
        page.save(out, "PDF", dpi=dpi, append=n > 0)
    return out.getvalue()


def preview_png(source: BinaryIO, width: int = PREVIEW_WIDTH) -> bytes:
    """Page 1 as a small greyscale PNG with square pixels (for a mail or a list)."""
    page, (x_dpi, y_dpi) = _pages(source)[0]
    height = max(1, round(page.height * (x_dpi / y_dpi) * width / page.width))
    small = page.convert("L").resize((width, height), Image.Resampling.BOX)
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return out.getvalue()
