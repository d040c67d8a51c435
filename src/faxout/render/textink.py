"""Grey and coloured text printed solid instead of halftoned.

A halftone screen turns 50 % grey text into dotted strokes and 65-80 % grey text into ghostly
dot trails, and coloured text (red "overdue", blue links) fares the same: the recipient
cannot read it. Text is there to be read, not to show its shade, so inside the bounds of every
visible text object that is neither black nor white we replace the grey raster by a local
threshold halfway between the darkest and lightest pixel of the box: the glyphs become solid
black and their background (white paper or a light tint) white. White text on a coloured or
grey box (table headers) becomes white on solid black instead of white on a dot field. Black
text needs nothing and is skipped, so ordinary documents pay only the object scan (about
0.3 ms a page). Text inside form XObjects is left to the screen.

The same local threshold prints two more things solid on document pages: the dark flat fill
under light text (a table's header bar: solid black with white words, not a dense dot field
with black boxes round each word) and thin grey rules (a table's grid, which a screen breaks
into dashes).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from faxout.render.bilevel import Grey

Box = tuple[float, float, float, float]  # left, bottom, right, top in page points

_DARK = 40  # a fill no channel of which exceeds this is black already
_MIN_CONTRAST = 48  # a box without this spread is a tint, not text on a background
_LIGHT = 128  # text at least this bright is light text (on a dark fill, or invisible)
_RULE_PT = 0.75  # a stroke this thin, along a box this thin, is a rule
_RULE_LUMA = 200  # a rule at least this dark prints solid; lighter ones are decoration


def coloured_text_boxes(page: pdfium.PdfPage) -> list[Box]:
    """Areas of the page to print solid: its text drawn in any fill but black, and more.

    Also, in the order they must be thresholded: dark flat fills (under 50 % brightness) that
    hold light text, such as a table's header bar, so the bar prints solid black around its
    white words instead of as a dense dot field; and thin grey rules (a table's 0.1 pt grid),
    which a screen would break into dashes that OCR and readers take for characters.
    """
    text: list[Box] = []
    light_text: list[Box] = []
    fills: list[Box] = []
    rules: list[Box] = []
    for index in range(pdfium_c.FPDFPage_CountObjects(page)):
        obj = pdfium_c.FPDFPage_GetObject(page, index)
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            if (
                pdfium_c.FPDFTextObj_GetTextRenderMode(obj)
                == pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE
            ):
                continue  # an OCR layer over a scan: the scan is what prints
            colour = _colour(obj, pdfium_c.FPDFPageObj_GetFillColor)
            if colour is None or max(colour) <= _DARK:
                continue
            box = bounds(obj)
            if box is not None:
                text.append(box)
                if _luma(colour) >= _LIGHT:
                    light_text.append(box)
        elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            _path_box(obj, fills, rules)
    holding = [f for f in fills if any(_inside(t, f) for t in light_text)]
    return rules + holding + text


def _path_box(obj: object, fills: list[Box], rules: list[Box]) -> None:
    """Sort a path object into ``fills`` (dark, flat, filled) or ``rules`` (thin grey)."""
    fill_mode, stroke = ctypes.c_int(), ctypes.c_int()
    if not pdfium_c.FPDFPath_GetDrawMode(obj, ctypes.byref(fill_mode), ctypes.byref(stroke)):
        return
    box = bounds(obj)
    if box is None:
        return
    if fill_mode.value != pdfium_c.FPDF_FILLMODE_NONE:
        colour = _colour(obj, pdfium_c.FPDFPageObj_GetFillColor)
        if colour is not None and max(colour) > _DARK and _luma(colour) < _LIGHT:
            fills.append(box)
    if stroke.value:
        colour = _colour(obj, pdfium_c.FPDFPageObj_GetStrokeColor)
        width = ctypes.c_float()
        thin = min(box[2] - box[0], box[3] - box[1]) <= _RULE_PT
        if (
            colour is not None
            and max(colour) > _DARK
            and _luma(colour) <= _RULE_LUMA
            and thin
            and pdfium_c.FPDFPageObj_GetStrokeWidth(obj, ctypes.byref(width))
            and width.value <= _RULE_PT
        ):
            rules.append(box)


def _colour(obj: object, getter: Callable[..., int]) -> tuple[int, int, int] | None:
    """An object's fill or stroke colour, None when it is unset or mostly transparent."""
    r, g, b, a = (ctypes.c_uint() for _ in range(4))
    if not getter(obj, ctypes.byref(r), ctypes.byref(g), ctypes.byref(b), ctypes.byref(a)):
        return None
    if a.value < 128:
        return None
    return (r.value, g.value, b.value)


def _luma(colour: tuple[int, int, int]) -> float:
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


def _inside(inner: Box, outer: Box) -> bool:
    x = (inner[0] + inner[2]) / 2
    y = (inner[1] + inner[3]) / 2
    return outer[0] <= x <= outer[2] and outer[1] <= y <= outer[3]


def solidify(
    body: Grey,
    page: pdfium.PdfPage,
    boxes: list[Box],
    placement: tuple[int, int, int, int, int],
) -> None:
    """Threshold each box of ``body`` in place; ``placement`` is PDFium's (start_x, start_y,
    size_x, size_y, rotate) used for the render, so boxes land on the rendered pixels."""
    device = DeviceMap(page, placement, body.shape)
    levels = []
    for box in boxes:
        area = device.area(box)
        if area is None:
            continue  # off this slice of a split page
        region = body[area]
        low, high = int(region.min()), int(region.max())
        if high - low >= _MIN_CONTRAST:
            levels.append((area, (low + high + 1) // 2))
    # Every level is taken from the page as drawn, before any box is thresholded: a rule
    # crossing a header bar made black first would otherwise lower the bar's midpoint.
    for area, level in levels:
        region = body[area]
        region[...] = np.where(region < level, 0, 255)


def bounds(obj: object) -> Box | None:
    """A page object's bounds in page points, or None when PDFium has none."""
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    if not pdfium_c.FPDFPageObj_GetBounds(
        obj, ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top)
    ):
        return None
    return (left.value, bottom.value, right.value, top.value)


class DeviceMap:
    """Page points to raster rows and columns for one render of a page.

    ``placement`` is PDFium's (start_x, start_y, size_x, size_y, rotate) used for the render.
    The mapping is affine, so three ``FPDF_PageToDevice`` calls give it for every box: a
    table's hundred rules would otherwise cost four calls each.
    """

    _SPAN = 1000.0  # points between the probes: PDFium rounds to pixels, this keeps it exact

    def __init__(
        self,
        page: pdfium.PdfPage,
        placement: tuple[int, int, int, int, int],
        shape: tuple[int, ...],
    ) -> None:
        dx, dy = ctypes.c_int(), ctypes.c_int()
        probes = []
        for x, y in ((0.0, 0.0), (self._SPAN, 0.0), (0.0, self._SPAN)):
            pdfium_c.FPDF_PageToDevice(page, *placement, x, y, ctypes.byref(dx), ctypes.byref(dy))
            probes.append((float(dx.value), float(dy.value)))
        (ox, oy), (ax, ay), (bx, by) = probes
        self._origin = (ox, oy)
        self._per_x = ((ax - ox) / self._SPAN, (ay - oy) / self._SPAN)
        self._per_y = ((bx - ox) / self._SPAN, (by - oy) / self._SPAN)
        self._height, self._width = shape[0], shape[1]

    def area(self, box: Box) -> tuple[slice, slice] | None:
        """The raster a box covers, a pixel wider each side; None when it is off the raster
        (another slice of a cut page)."""
        left, bottom, right, top = box
        (ox, oy), (xx, xy), (yx, yy) = self._origin, self._per_x, self._per_y
        xs, ys = [], []
        for x, y in ((left, bottom), (left, top), (right, bottom), (right, top)):
            xs.append(ox + x * xx + y * yx)
            ys.append(oy + x * xy + y * yy)
        x0, x1 = max(0, round(min(xs)) - 1), min(self._width, round(max(xs)) + 2)
        y0, y1 = max(0, round(min(ys)) - 1), min(self._height, round(max(ys)) + 2)
        if x1 <= x0 or y1 <= y0:
            return None
        return (slice(y0, y1), slice(x0, x1))
