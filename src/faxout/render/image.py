"""Images (PNG, JPEG, GIF, BMP, TIFF incl. fax TIFFs, WebP) to fax pages with Pillow.

Each frame is turned upright (EXIF orientation), sized, then classified, because one
bilevel method does not suit all images:

* black-and-white sources (fax TIFFs, line art): resampled and thresholded, never dithered;
* documents (scans, phone photos of paper: mostly paper-white once the uneven light is
  divided out): background flattened, then thresholded, so the paper does not become a dot
  field and the text stays solid;
* photos and graphics: halftoned (clustered dot, or error diffusion with the photo option).

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
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, ImageSequence

from faxout.render import bilevel, geometry, threshold
from faxout.render.result import RefusalReason
from faxout.render.sink import PageSink, Refused

MIN_DPI, MAX_DPI = 100.0, 2400.0  # 72/96 dpi are software defaults, not measurements
MAX_PIXELS = 120_000_000  # a bigger image is a decompression bomb, not a document
_DOC_WHITE = 0.8  # share of paper-white after flattening above which an image is a document
_DOC_MID = 0.2  # ... and share of mid-tones below which
# An image without a trustworthy dpi is taken to be made of screen pixels (CSS's 96 px/in),
# and no image is enlarged past this factor: more only magnifies its pixels.
ASSUMED_DPI = 96.0
MAX_ENLARGE = 1.5
_DOCUMENT_METHODS = (bilevel.Method.THRESHOLD, bilevel.Method.DOCUMENT, bilevel.Method.ADAPTIVE)
# Text on tints, not a photo: at least this share of 8 px blocks of the thumbnail has the
# sharp contrast (80 grey levels or more) of type (screenshots 0.3-0.8; a bar chart 0.14,
# whose light bars must stay dots, not turn white) ...
_TEXT_SHARP_BLOCKS = 0.2
# ... and at most this share has the soft, middling contrast of photographic texture
# (photos 0.3-0.55) ...
_TEXT_SOFT_BLOCKS = 0.12
# ... or the 8 commonest grey levels cover this share of it (a rendered, not a photographed,
# image: screenshots 0.8-0.95, photos under 0.25).
_TEXT_PALETTE = 0.6


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
    if method is bilevel.Method.THRESHOLD and grey.width < spot.width:
        resample = Image.Resampling.BILINEAR  # no ringing around black edges when enlarging
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
    thumb = grey.copy()
    thumb.thumbnail((400, 400))
    colours = thumb.getcolors(4)
    if colours is not None and len(colours) <= 2:
        return bilevel.Method.THRESHOLD  # a two-tone image is line art whatever its mode
    flat = bilevel.flatten(np.asarray(thumb))
    white = float(np.mean(flat >= 200))
    mid = float(np.mean((flat > 60) & (flat < 200)))
    if white >= _DOC_WHITE and mid <= _DOC_MID:
        return bilevel.Method.DOCUMENT
    if _looks_like_text(np.asarray(thumb)):
        return bilevel.Method.ADAPTIVE
    return sink.halftone_method()


def _looks_like_text(thumb: npt.NDArray[np.uint8]) -> bool:
    """Whether an image that is not mostly paper is text and flat colour, not a photo.

    Screenshots and slides are flat areas and the sharp edges of type; photos are texture,
    charts flat areas with few edges. Measured on the thumbnail: the shares of 8 px blocks
    with sharp and with soft contrast, and how much of the image its 8 commonest grey levels
    cover.
    """
    height, width = thumb.shape[0] // 8 * 8, thumb.shape[1] // 8 * 8
    if height == 0 or width == 0:
        return False
    blocks = thumb[:height, :width].astype(np.int16).reshape(height // 8, 8, width // 8, 8)
    contrast = blocks.max(axis=(1, 3)) - blocks.min(axis=(1, 3))
    if float(np.mean(contrast >= 80)) < _TEXT_SHARP_BLOCKS:
        return False
    soft = float(np.mean((contrast > 16) & (contrast < 80)))
    counts = np.bincount(thumb.ravel(), minlength=256)
    palette = float(np.sort(counts)[-8:].sum()) / thumb.size
    return soft <= _TEXT_SOFT_BLOCKS or palette >= _TEXT_PALETTE
