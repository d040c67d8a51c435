"""Adaptive threshold for images of text on tinted or uneven backgrounds (screenshots, slides).

A halftone screen turns the grey window background of a screenshot, a pale table row or a
slide's tinted backdrop into a field of dots around the text, which costs line time and makes
the text hard to read; one global threshold loses either grey text or the dark panels with
white text on them. Instead each pixel is compared with its *local background*:

* The background is a grey morphological closing of the source (a running maximum, then a
  running minimum, over a square about as wide as a thick text stroke): it fills in whatever
  dark is thinner than that (glyph strokes, rules) and keeps what is wider (panels, bars,
  buttons), including their edges, where a local mean would draw a black outline.
* Ink is what is clearly darker than its background (``grey < background - margin``): text
  on white, on a tint, on a gradient or in uneven light comes out solid black, and the
  tint itself white.
* Where the background itself is dark (a dark sidebar or title bar) the area is black, and
  light text on it, being its own bright background, stays white: white on solid black.

Running minima and maxima use the doubling trick (``log2`` of the width in numpy passes per
axis), so a screenshot costs a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PIL import Image

Grey = npt.NDArray[np.uint8]
Black = npt.NDArray[np.bool_]

RADIUS = 4  # source pixels: strokes up to 9 px wide count as ink (bold 48 px type is ~7)
DARK_BACKGROUND = 128  # an area whose background is darker than this prints black
_MARGIN_MIN = 40  # ink is this much darker than its background at least ...
_MARGIN_SHARE = 0.25  # ... or this share of the background's brightness, if more

_Op = Callable[[Grey, Grey], Grey]


def _running(values: Grey, width: int, op: _Op) -> Grey:
    """``op`` (np.maximum / np.minimum) over windows of ``width`` rows, centred, same shape."""
    radius = width // 2
    out: Grey = np.pad(values, ((radius, radius), (0, 0)), mode="edge")
    span = 1
    while span * 2 <= width:
        out = op(out[:-span], out[span:])  # now the op over ``2 * span`` rows
        span *= 2
    if span < width:
        out = op(out[: out.shape[0] - (width - span)], out[width - span :])
    return out


def background(grey: Grey, radius: int = RADIUS) -> Grey:
    """The local background of ``grey`` (0 = black): its closing by a square of ``radius``."""
    width = 2 * radius + 1
    grown = _running(_running(grey, width, np.maximum).T, width, np.maximum).T
    return _running(_running(grown, width, np.minimum).T, width, np.minimum).T


def adaptive(source: Grey, size: tuple[int, int], radius: int = RADIUS) -> Grey:
    """Binarise ``source`` scaled to ``size`` (width, height): 0 = black, 255 = white.

    The background is found at the source's own resolution, where strokes have their own
    width whatever the scale, then scaled like the image itself, and the comparison is made on
    the scaled page so edges stay as smooth as the resampling makes them.
    """
    back = Image.fromarray(background(source, radius)).resize(size, Image.Resampling.BILINEAR)
    grey = Image.fromarray(source).resize(size, Image.Resampling.LANCZOS)
    back_px = np.asarray(back).astype(np.int16)
    grey_px = np.asarray(grey).astype(np.int16)
    margin = np.maximum(_MARGIN_MIN, (back_px * _MARGIN_SHARE).astype(np.int16))
    ink = (grey_px < back_px - margin) | (back_px < DARK_BACKGROUND)
    return np.where(ink, 0, 255).astype(np.uint8)
