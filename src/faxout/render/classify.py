"""What a picture is, so it gets the right bilevel method: line art, paper, text on tints, photo.

One bilevel method does not suit every picture, so images (and PDF pages that are mostly a
picture, such as a scanned book page) are classified on a 400 px thumbnail:

* two tones: line art or a fax, thresholded and never dithered;
* mostly paper once the uneven light is divided out (at least 80 % paper-white and at most
  20 % mid-tones after :func:`faxout.render.bilevel.flatten`): a scan or a phone photo of paper,
  flattened and thresholded, so the paper does not become a dot field;
* type and flat colour, though not mostly paper (screenshots with dark bars, slides, coloured
  web pages): thresholded against the local background (:mod:`faxout.render.threshold`);
* anything else is a photo or a graphic, and is halftoned.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from faxout.render import bilevel

THUMB = 400
_DOC_WHITE = 0.8  # share of paper-white after flattening above which a picture is paper
_DOC_MID = 0.2  # ... and share of mid-tones below which
# Text, not a photo: at least this share of 8 px blocks of the thumbnail has the sharp
# contrast (80 grey levels or more) of type (screenshots 0.3-0.8; a bar chart 0.14, whose
# light bars must stay dots, not turn white) ...
_TEXT_SHARP_BLOCKS = 0.2
# ... and at most this share has the soft, middling contrast of photographic texture
# (photos 0.3-0.55) ...
_TEXT_SOFT_BLOCKS = 0.12
# ... or the 8 commonest grey levels cover this share of it (a rendered, not a photographed,
# picture: screenshots 0.8-0.95, photos under 0.25).
_TEXT_PALETTE = 0.6


def picture(grey: Image.Image, halftone: bilevel.Method) -> bilevel.Method:
    """The bilevel method for an 8-bit grey picture; ``halftone`` is the one for photos."""
    thumb = grey.copy()
    thumb.thumbnail((THUMB, THUMB))
    colours = thumb.getcolors(4)
    if colours is not None and len(colours) <= 2:
        return bilevel.Method.THRESHOLD  # a two-tone picture is line art whatever its mode
    pixels = np.asarray(thumb)
    flat = bilevel.flatten(pixels)
    white = float(np.mean(flat >= 200))
    mid = float(np.mean((flat > 60) & (flat < 200)))
    if white >= _DOC_WHITE and mid <= _DOC_MID:
        return bilevel.Method.DOCUMENT
    if looks_like_text(pixels):
        return bilevel.Method.ADAPTIVE
    return halftone


def looks_like_text(thumb: npt.NDArray[np.uint8]) -> bool:
    """Whether a picture that is not mostly paper is type and flat colour, not a photo.

    Screenshots and slides are flat areas and the sharp edges of type; photos are texture,
    charts flat areas with few edges. Measured on the thumbnail: the shares of 8 px blocks
    with sharp and with soft contrast, and how much of the picture its 8 commonest grey
    levels cover.
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
