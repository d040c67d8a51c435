"""Page images for reports: a reduced page 1 (PNG) and the whole fax as PDF; the image-level
steps (``grey_thumbnail``, ``bilevel_pdf``) serve the status API's page images too."""

from __future__ import annotations

import io
from typing import BinaryIO

from PIL import Image, ImageSequence

from faxout.blobs.store import BlobStore


def _read(store: BlobStore, key: str) -> bytes:
    stream: BinaryIO
    with store.open(key) as stream:
        return stream.read()


def dpi_of(img: Image.Image) -> tuple[float, float]:
    """A fax page's resolution (across, down), fine resolution when it says none."""
    dpi = img.info.get("dpi") or (204.0, 196.0)
    x, y = float(dpi[0]) or 204.0, float(dpi[1]) or 196.0
    return x, y


def grey_thumbnail(page: Image.Image, width: int) -> bytes:
    """``page`` as a grey PNG ``width`` pixels wide: fax pixels are not square at 98 lpi, so
    the height is corrected with the page's resolution."""
    x_dpi, y_dpi = dpi_of(page)
    grey = page.convert("L")
    inches_w, inches_h = grey.width / x_dpi, grey.height / y_dpi
    height = max(1, round(width * inches_h / inches_w))
    small = grey.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return out.getvalue()


def thumbnail_png(store: BlobStore, key: str, width: int) -> bytes:
    """Page 1 of the TIFF under ``key`` as a grey PNG ``width`` pixels wide."""
    with Image.open(io.BytesIO(_read(store, key))) as img:
        img.seek(0)
        page = img.convert("L")
        page.info["dpi"] = dpi_of(img)
    return grey_thumbnail(page, width)


def bilevel_pdf(frames: list[Image.Image]) -> bytes:
    """``frames`` (bilevel) as one PDF, CCITT G4 inside, each page sized by the resolution
    of the first (a fax has one)."""
    if not frames:
        raise ValueError("no pages")
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:], dpi=dpi_of(frames[0]))
    return out.getvalue()


def fax_pdf(store: BlobStore, keys: list[str]) -> bytes:
    """The pages of the TIFFs under ``keys``, in order, as one PDF (bilevel, CCITT G4 inside)."""
    frames: list[Image.Image] = []
    dpi = (204.0, 196.0)
    for key in keys:
        with Image.open(io.BytesIO(_read(store, key))) as img:
            dpi = dpi_of(img)
            frames.extend(frame.convert("1") for frame in ImageSequence.Iterator(img))
    if frames:
        frames[0].info["dpi"] = dpi  # the last file's, as before
    return bilevel_pdf(frames)
