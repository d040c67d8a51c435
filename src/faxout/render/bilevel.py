"""Grey pages to black and white: screen, error diffusion, threshold, flattened document.

Every method returns a boolean array, ``True`` = black, ready for the TIFF writer.

* ``screen``: one numpy comparison against a tiled 45-degree clustered-dot threshold array
  (0.3 ms a page). The tone clip is folded into the thresholds: grey <= 32 is always black
  (so no halftone frays black text) and >= 232 always white (5 % tints and paper tone drop out
  instead of costing a dot field and minutes of line time).
* ``diffusion``: Floyd-Steinberg (Pillow, in C) after the same tone clip: the best photos,
  but 2-4x the G4 bytes.
* ``threshold``: for sources that are already black and white (fax TIFFs, line art).
* ``document``: background flattening, then a threshold: for scans and phone photos of
  paper, whose uneven light would otherwise become black blotches or grey dot fields.
* ``adaptive``: text on tinted or dark panels (screenshots, slides), thresholded against
  its local background by :mod:`faxout.render.threshold` before it reaches the page.
"""

from __future__ import annotations

import enum
import functools

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

Grey = npt.NDArray[np.uint8]
Black = npt.NDArray[np.bool_]

CLIP_BLACK = 32
CLIP_WHITE = 232
# On document pages (not photos) tints up to about 15 % grey are paper: table row shading
# and pale headers behind text would otherwise be dot fields that cost line time and break
# up the text on them.
PAGE_CLIP_WHITE = 212
SCREEN_CELL = 8  # tile side in px at fine: dot pitch 8/sqrt(2) = 5.7 px, about 36 lpi


class Method(enum.Enum):
    """How a grey page becomes bilevel."""

    SCREEN = "screen"
    DIFFUSION = "diffusion"
    # A document page: as SCREEN / DIFFUSION, but tints up to PAGE_CLIP_WHITE are paper.
    PAGE_SCREEN = "page-screen"
    PAGE_DIFFUSION = "page-diffusion"
    THRESHOLD = "threshold"
    DOCUMENT = "document"
    # Text on tints (screenshots, slides): binarised by threshold.adaptive at the source's
    # resolution before it reaches the page, so here it is only kept as it is.
    ADAPTIVE = "adaptive"


def to_black(grey: Grey, method: Method, *, lpi: int = 196, out: Black | None = None) -> Black:
    """Convert an 8-bit grey page (0 = black) to bilevel with ``method``.

    ``out`` (same shape) is reused by the screen, the hot path, to spare a 4 MB allocation
    and its page faults on every page.
    """
    if method in (Method.SCREEN, Method.PAGE_SCREEN):
        white = PAGE_CLIP_WHITE if method is Method.PAGE_SCREEN else CLIP_WHITE
        return np.less(grey, _threshold_page(grey.shape[0], grey.shape[1], lpi, white), out=out)
    if method in (Method.DIFFUSION, Method.PAGE_DIFFUSION):
        white = PAGE_CLIP_WHITE if method is Method.PAGE_DIFFUSION else CLIP_WHITE
        clipped = _tone_clip_lut(white)[grey]
        dithered = np.asarray(Image.fromarray(clipped).convert("1"))
        return ~dithered
    if method in (Method.THRESHOLD, Method.ADAPTIVE):
        return grey < 128
    return flatten(grey) < 160


@functools.cache
def _tone_clip_lut(white: int = CLIP_WHITE) -> Grey:
    ramp = np.arange(256, dtype=np.float32)
    scaled = (ramp - CLIP_BLACK) * 255.0 / (white - CLIP_BLACK)
    return np.clip(scaled, 0, 255).astype(np.uint8)


@functools.cache
def photo_tone_lut() -> Grey:
    """Grey levels that give a photo inside a document page its photo tone.

    A page method clips at ``PAGE_CLIP_WHITE``; mapping the photo's ``CLIP_BLACK`` ..
    ``CLIP_WHITE`` range onto ``CLIP_BLACK`` .. ``PAGE_CLIP_WHITE`` first gives it the
    same dots as the photo methods, so its highlights are not clipped with the tints.
    """
    ramp = np.arange(256, dtype=np.float32)
    span = (PAGE_CLIP_WHITE - CLIP_BLACK) / (CLIP_WHITE - CLIP_BLACK)
    mapped = np.where(ramp >= CLIP_WHITE, 255.0, CLIP_BLACK + (ramp - CLIP_BLACK) * span)
    return np.where(ramp <= CLIP_BLACK, ramp, np.round(mapped)).astype(np.uint8)


@functools.cache
def screen_tile(lpi: int = 196, white: int = CLIP_WHITE) -> Grey:
    """The clustered-dot threshold tile for a resolution.

    Spot function ``cos(pi x / P) * cos(pi y / P)`` has its maxima on a lattice turned
    45 degrees; ranking the tile's pixels by it gives the order in which they turn black as
    the grey darkens (past 50 % the white holes around the minima shrink instead). At 98 lpi
    pixels are twice as tall, so the tile is half as high to keep the dots round on paper.
    """
    side = SCREEN_CELL
    rows = side if lpi >= 150 else side // 2
    y_scale = side / rows
    yy, xx = np.mgrid[0:rows, 0:side].astype(np.float64)
    period = side / 2
    x = (xx + 0.5) * np.pi / period
    y = (yy + 0.5) * y_scale * np.pi / period
    spot = (np.cos(x) * np.cos(y)).ravel()
    # Black grows from the spot maxima, two dots per tile on a 45-degree lattice. Pixels on
    # the same contour (the spot is flat along the 50 % lines) are ordered by their distance
    # to the nearest dot centre, so dots stay round instead of growing along a row.
    centres = [(-0.5, -0.5), (period - 0.5, period - 0.5), (side - 0.5, -0.5), (-0.5, side - 0.5)]
    centres += [(side - 0.5, side - 0.5)]
    dist = np.min(
        [(xx - cx) ** 2 + ((yy - cy / y_scale) * y_scale) ** 2 for cx, cy in centres], axis=0
    )
    order = np.lexsort((dist.ravel(), np.round(-spot, 9)))
    ranks = np.empty(order.size, dtype=np.float64)
    ranks[order] = np.arange(order.size)
    levels = CLIP_BLACK + 1 + ranks * (white - CLIP_BLACK - 1) / (order.size - 1)
    return np.round(levels).astype(np.uint8).reshape(rows, side)


@functools.lru_cache(maxsize=4)
def _threshold_page(height: int, width: int, lpi: int, white: int) -> Grey:
    tile = screen_tile(lpi, white)
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]))
    page = np.tile(tile, reps)[:height, :width]
    page.setflags(write=False)
    return page


def flatten(grey: Grey) -> Grey:
    """Divide out the paper's brightness so uneven light and paper tone become white.

    The background is estimated on a 1/16 copy: a max filter removes the ink, a blur
    smooths it, and it is scaled back up. Ink keeps its contrast against the local paper.
    """
    height, width = grey.shape
    image = Image.fromarray(grey)
    small = image.resize((max(1, width // 16), max(1, height // 16)), Image.Resampling.BOX)
    background = small.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.GaussianBlur(3))
    back = np.asarray(background.resize((width, height), Image.Resampling.BILINEAR))
    ratio = grey.astype(np.float32) * 255.0 / np.maximum(back.astype(np.float32), 1.0)
    return np.clip(ratio, 0, 255).astype(np.uint8)
