"""Images (PNG, JPEG, GIF, BMP, TIFF incl. fax TIFFs, WebP) to fax pages with Pillow.

Each frame is turned upright (EXIF orientation), sized, then classified, because one
bilevel method does not suit all images:

* black-and-white sources (fax TIFFs, line art): resampled and thresholded, never dithered;
* documents (scans, phone photos of paper: mostly paper-white once the uneven light is
  divided out): background flattened, then thresholded, so the paper does not become a dot
  field and the text stays solid;
* text on tints or dark panels (screenshots, slides): thresholded against the local
  background at the image's own resolution (:mod:`faxout.render.threshold`);
* photos and graphics: halftoned (clustered dot, or error diffusion with the photo option).

The classification is :mod:`faxout.render.classify`'s.

Sizing is dpi-aware: a scan with a trustworthy resolution keeps its true size (shrunk when
larger than the page), so a half-page receipt is not blown up. An image without one (a
screenshot, a picture saved from the web) is taken as 96 px/in and enlarged at most 1.5
times, so a small screenshot is not turned into a page of blown-up pixels. An image that fits
one page when scaled to fit stays one page; only images far longer than the paper (a
receipt, a captured web page) are cut, between lines of text. Multi-page TIFFs give one or
more fax pages per frame; animated GIF and WebP give their first frame.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence

from faxout.render import bilevel, classify, geometry, threshold
from faxout.render.result import RefusalReason
from faxout.render.sink import PageSink, Refused

MIN_DPI, MAX_DPI = 100.0, 2400.0  # 72/96 dpi are software defaults, not measurements
MAX_PIXELS = 120_000_000  # a bigger image is a decompression bomb, not a document
# An image without a trustworthy dpi is taken to be made of screen pixels (CSS's 96 px/in),
# and no image is enlarged past this factor: more only magnifies its pixels.
ASSUMED_DPI = 96.0
MAX_ENLARGE = 1.5
_DOCUMENT_METHODS = (bilevel.Method.THRESHOLD, bilevel.Method.DOCUMENT, bilevel.Method.ADAPTIVE)


def render_image(path: Path, sink: PageSink) -> None:
    """Render every frame of the image at ``path`` into ``sink``."""
    # WeasyPrint sets Pillow's global LOAD_TRUNCATED_IMAGES on import; a truncated upload
    # must still be refused here, not faxed half grey.
    truncated_ok, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        _render_frames(path, sink)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_ok


def _render_frames(path: Path, sink: PageSink) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise Refused(RefusalReason.CORRUPT, "the image is too large to be a document") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise Refused(
            RefusalReason.CORRUPT, "the image is damaged and cannot be read", f"Pillow: {exc}"
        ) from exc
    with image:
        multi = image.format in ("TIFF", "MPO") or image.format == "PDF"
        frames = ImageSequence.Iterator(image) if multi else iter([image])
        try:
            for index, frame in enumerate(frames):
                sink.check()
                if index >= sink.pages_left():
                    raise Refused(
                        RefusalReason.TOO_MANY_PAGES,
                        f"more than {sink.options.max_pages} images in the file",
                    )
                _render_frame(frame, sink)
        except OSError as exc:
            raise Refused(
                RefusalReason.CORRUPT, "a page of the image file is damaged", f"Pillow: {exc}"
            ) from exc


def _render_frame(frame: Image.Image, sink: PageSink) -> None:
    if frame.width * frame.height > MAX_PIXELS:
        raise Refused(RefusalReason.CORRUPT, "the image is too large to be a document")
    dpi = _trusted_dpi(frame)
    upright = ImageOps.exif_transpose(frame) or frame
    if dpi is not None and upright.size != frame.size:
        dpi = (dpi[1], dpi[0])  # a quarter turn swaps the axes' resolutions
    grey = _to_grey(upright)
    method = _classify(upright, grey, sink)
    spot = _placement(grey.size, dpi, method, sink.fmt)
    if spot.rotate:
        grey = grey.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise, as for PDFs
    resample = Image.Resampling.LANCZOS
    if method is bilevel.Method.THRESHOLD:
        # Black and white has no tone to keep sharp, only strokes: no ringing around black
        # edges when enlarging, and each pixel the majority of what it covers when shrinking
        # (Lanczos's overshoot thinned strokes and cost words of the CCITT charts' OCR).
        grows = grey.width < spot.width
        resample = Image.Resampling.BILINEAR if grows else Image.Resampling.BOX
    if method is bilevel.Method.ADAPTIVE:
        scaled = threshold.adaptive(np.asarray(grey), (spot.width, spot.height))
    else:
        scaled = np.asarray(grey.resize((spot.width, spot.height), resample))
    fmt = sink.fmt
    top = 0
    while top < spot.height:
        rows = scaled[top : top + fmt.printable_height]
        lines = geometry.cut_rows(rows, spot.height - top, fmt.lpi) if spot.cut else spot.height
        page = sink.new_page()
        page[fmt.band : fmt.band + lines, spot.left : spot.left + spot.width] = rows[:lines]
        sink.add(page, method)
        top += lines


def _placement(
    size: tuple[int, int],
    dpi: tuple[float, float] | None,
    method: bilevel.Method,
    fmt: geometry.PageFormat,
) -> geometry.Placement:
    """Where an image of ``size`` pixels goes on the page.

    A document with a trustworthy dpi keeps its true size (shrunk only to fit). Anything else
    (a document without a dpi, a screenshot, any photo, whose dpi tag says nothing about how
    large it should look) is taken as screen pixels, ``ASSUMED_DPI``, and enlarged at most
    ``MAX_ENLARGE`` times: a 384 px wide screenshot becomes 6 in wide, not a full-width page
    of blown-up pixels, and a 512 px photo 8 in.
    """
    if dpi is not None and method in _DOCUMENT_METHODS:
        cap = 1.0
    else:
        dpi, cap = (ASSUMED_DPI, ASSUMED_DPI), MAX_ENLARGE
    return geometry.place(size[0] / dpi[0], size[1] / dpi[1], fmt, max_scale=cap)


def _trusted_dpi(frame: Image.Image) -> tuple[float, float] | None:
    raw = frame.info.get("dpi")
    if not raw:
        return None
    try:
        x, y = float(raw[0]), float(raw[1])
    except (TypeError, ValueError, IndexError):
        return None
    # Fax TIFFs are 204x98: the short axis may be as low as 98 dpi, hence the MIN_DPI / 2.
    if MIN_DPI <= max(x, y) <= MAX_DPI and min(x, y) >= MIN_DPI / 2:
        return (x, y)
    return None


def _to_grey(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")  # transparency is paper
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("I", "I;16", "I;16B", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        span = (high - low) or 1.0
        return Image.fromarray(((array - low) * 255.0 / span).astype(np.uint8))
    return image.convert("L")


def _classify(image: Image.Image, grey: Image.Image, sink: PageSink) -> bilevel.Method:
    if image.mode == "1":
        return bilevel.Method.THRESHOLD
    return classify.picture(grey, sink.halftone_method())
