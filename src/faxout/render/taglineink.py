"""Printing the header line into the blank band at the top of a fax page (the format and its
fields are in tagline.py).

The text is drawn at fine resolution in a bold sans serif sized to the band, fields spread
across the line, the font made smaller (down to a legible minimum) and then the longest fields
shortened with "..." when they do not fit. At normal resolution each row is the union of two
fine rows, so thin strokes survive the halving.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)
_FINE_LPI = 196
_MARGIN_PX = 40  # ~5 mm from the paper's edges, clear of a printer's unprintable border
_GAP_PX = 24  # at least this much white between two fields
_TEXT_ROWS = 0.62  # of the band at fine resolution: the cap height plus descenders
_MIN_PX = 14  # a smaller font is not legible after a fax machine's printer


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    for candidate in _FONTS:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    from faxout.render.text import font_path  # any TrueType font beats none

    return ImageFont.truetype(str(font_path()), size)


def _layout(fields: list[str], width: int, size: int) -> list[tuple[int, str]] | None:
    """Where each field starts at ``size`` px, or None if they do not fit side by side."""
    font = _font(size)
    widths = [int(font.getlength(text)) for text in fields]
    usable = width - 2 * _MARGIN_PX
    if sum(widths) + _GAP_PX * (len(fields) - 1) > usable:
        return None
    if len(fields) == 1:
        return [(_MARGIN_PX, fields[0])]
    share = usable / len(fields)
    spots: list[tuple[int, str]] = []
    for i, (text, w) in enumerate(zip(fields, widths, strict=True)):
        if i == 0:
            x = _MARGIN_PX
        elif i == len(fields) - 1:
            x = width - _MARGIN_PX - w
        else:
            x = round(_MARGIN_PX + share * i + (share - w) / 2)
        spots.append((x, text))
    # Centred fields may collide with wide neighbours: push them right, then check the end.
    for i in range(1, len(spots)):
        prev_x, prev_text = spots[i - 1]
        least = prev_x + int(font.getlength(prev_text)) + _GAP_PX
        if spots[i][0] < least:
            spots[i] = (least, spots[i][1])
    last_x, last_text = spots[-1]
    if last_x + int(font.getlength(last_text)) > width - _MARGIN_PX:
        return None
    return spots


def _ellipsize(text: str, room: int, font: ImageFont.FreeTypeFont) -> str:
    while text and font.getlength(text + "...") > room:
        text = text[:-1]
    return text + "..."


def _fit(fields: list[str], width: int, largest: int) -> tuple[int, list[tuple[int, str]]]:
    """The largest size (down to the legible minimum) at which ``fields`` fit, and where each
    starts; at the minimum, fields too long for an equal share are shortened with "..."."""
    for size in range(max(largest, _MIN_PX), _MIN_PX - 1, -1):
        spots = _layout(fields, width, size)
        if spots is not None:
            return size, spots
    font = _font(_MIN_PX)
    share = (width - 2 * _MARGIN_PX - _GAP_PX * (len(fields) - 1)) // len(fields)
    cut = [t if font.getlength(t) <= share else _ellipsize(t, share, font) for t in fields]
    return _MIN_PX, _layout(cut, width, _MIN_PX) or [(_MARGIN_PX, cut[0])]


def draw(black: npt.NDArray[np.bool_], band: int, lpi: int, fields: list[str]) -> None:
    """Clear the top ``band`` rows of the page ``black`` (True = black) and print ``fields``
    there, in place. Works at fine and normal resolution (text is drawn at fine, then
    halved vertically for normal, keeping strokes)."""
    width = black.shape[1]
    scale = _FINE_LPI / lpi
    rows = max(1, round(band * scale))  # the band in fine rows
    size, spots = _fit([f for f in fields if f] or [""], width, round(rows * _TEXT_ROWS))
    font = _font(size)
    canvas = Image.new("L", (width, rows), 255)
    pen = ImageDraw.Draw(canvas)
    ascent, descent = font.getmetrics()
    top = max(0, (rows - ascent - descent) // 2 + 1)
    for x, text in spots:
        pen.text((x, top), text, font=font, fill=0)
    ink = np.asarray(canvas) < 128
    if scale != 1:  # normal resolution: a row is ink where either of its two fine rows is
        pairs = ink[: (rows // 2) * 2].reshape(-1, 2, width)
        ink = np.logical_or(pairs[:, 0], pairs[:, 1])
    height = min(band, ink.shape[0], black.shape[0])
    black[:band] = False
    black[:height] = ink[:height]
