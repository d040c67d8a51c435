"""Page images for reports: a reduced page 1 (PNG) and the whole fax as PDF."""

from __future__ import annotations

import io
from typing import BinaryIO

from PIL import Image, ImageSequence

from faxout.blobs.store import BlobStore


def _read(store: BlobStore, key: str) -> bytes:
    stream: BinaryIO
    with store.open(key) as stream:
        return stream.read()


def _dpi(img: Image.Image) -> tuple[float, float]:
    dpi = img.info.get("dpi") or (204.0, 196.0)
    x, y = float(dpi[0]) or 204.0, float(dpi[1]) or 196.0
    return x, y


def thumbnail_png(store: BlobStore, key: str, width: int) -> bytes:
    """Page 1 of the TIFF under ``key`` as a grey PNG ``width`` pixels wide (fax pixels are not
    square at 98 lpi: the height is corrected with the TIFF's resolution)."""
    with Image.open(io.BytesIO(_read(store, key))) as img:
        img.seek(0)
        x_dpi, y_dpi = _dpi(img)
        page = img.convert("L")
    inches_w, inches_h = page.width / x_dpi, page.height / y_dpi
    height = max(1, round(width * inches_h / inches_w))
    small = page.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return out.getvalue()


def fax_pdf(store: BlobStore, keys: list[str]) -> bytes:
    """The pages of the TIFFs under ``keys``, in order, as one PDF (bilevel, CCITT G4 inside)."""
    frames: list[Image.Image] = []
    dpi = (204.0, 196.0)
    for key in keys:
        with Image.open(io.BytesIO(_read(store, key))) as img:
            dpi = _dpi(img)
            frames.extend(frame.convert("1") for frame in ImageSequence.Iterator(img))
    if not frames:
        raise ValueError("no pages")
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:], dpi=dpi)
    return out.getvalue()
