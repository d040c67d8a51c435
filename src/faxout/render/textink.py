"""Grey and coloured text printed solid instead of halftoned.

A halftone screen turns 50 % grey text into dotted strokes and 65-80 % grey text into ghostly
dot trails, and coloured text (red "overdue", blue links) fares the same: the recipient
cannot read it. Text is there to be read, not to show its shade, so inside the bounds of every
visible text object that is neither black nor white we replace the grey raster by a local
threshold halfway between the darkest and lightest pixel of the box: the glyphs become solid
black and their background (white paper or a light tint) white. White text on a coloured or
grey box (table headers) becomes white on solid black instead of white on a dot field. Black
text needs nothing and is skipped, so ordinary documents pay only
the object scan (about 0.3 ms a page). Text inside form XObjects is left to the screen.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from faxout.render.bilevel import Grey

Box = tuple[float, float, float, float]  # left, bottom, right, top in page points

_DARK = 40  # a fill no channel of which exceeds this is black already
_MIN_CONTRAST = 48  # a box without this spread is a tint, not text on a background


def coloured_text_boxes(page: pdfium.PdfPage) -> list[Box]:
    """Bounds of the page's visible text objects drawn in any fill but black."""
    boxes: list[Box] = []
    r, g, b, a = (ctypes.c_uint() for _ in range(4))
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    for index in range(pdfium_c.FPDFPage_CountObjects(page)):
        obj = pdfium_c.FPDFPage_GetObject(page, index)
        if pdfium_c.FPDFPageObj_GetType(obj) != pdfium_c.FPDF_PAGEOBJ_TEXT:
            continue
        if pdfium_c.FPDFTextObj_GetTextRenderMode(obj) == pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE:
            continue  # an OCR layer over a scan: the scan is what prints
        if not pdfium_c.FPDFPageObj_GetFillColor(
            obj, ctypes.byref(r), ctypes.byref(g), ctypes.byref(b), ctypes.byref(a)
        ):
            continue
        channels = (r.value, g.value, b.value)
        if max(channels) <= _DARK or a.value < 128:
            continue
        if pdfium_c.FPDFPageObj_GetBounds(
            obj, ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top)
        ):
            boxes.append((left.value, bottom.value, right.value, top.value))
    return boxes


def solidify(
    body: Grey,
    page: pdfium.PdfPage,
    boxes: list[Box],
    placement: tuple[int, int, int, int, int],
) -> None:
    """Threshold each box of ``body`` in place; ``placement`` is PDFium's (start_x, start_y,
    size_x, size_y, rotate) used for the render, so boxes land on the rendered pixels."""
    height, width = body.shape
    dx, dy = ctypes.c_int(), ctypes.c_int()
    for left, bottom, right, top in boxes:
        xs, ys = [], []
        for x, y in ((left, bottom), (left, top), (right, bottom), (right, top)):
            pdfium_c.FPDF_PageToDevice(page, *placement, x, y, ctypes.byref(dx), ctypes.byref(dy))
            xs.append(dx.value)
            ys.append(dy.value)
        x0, x1 = max(0, min(xs) - 1), min(width, max(xs) + 2)
        y0, y1 = max(0, min(ys) - 1), min(height, max(ys) + 2)
        if x1 <= x0 or y1 <= y0:
            continue  # off this slice of a split page
        region = body[y0:y1, x0:x1]
        low, high = int(region.min()), int(region.max())
        if high - low < _MIN_CONTRAST:
            continue
        region[...] = np.where(region < (low + high) // 2, 0, 255)
