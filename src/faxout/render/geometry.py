"""Where a source page lands on fax pages: scale, rotation, centring, splitting, header band.

Scaling choice (see docs/rendering.md): a fax line is 1728 px over 215 mm, i.e. 204 dpi, and
lines are 196 (fine) or 98 (normal) per inch. We keep the true aspect on paper: one source
inch becomes ``204 * s`` pixels across and ``lpi * s`` lines down, with one scale ``s`` chosen
so the page fits the printable area (1728 px wide, the paper's length in lines minus the
header band). So an A4 page on A4 paper comes out at 98.3 % of true size and a Letter page on
Letter at 98.2 % (both limited by the length left under the band), centred, instead of the
HylaFAX stretch of A4 to the full width (2.4 % wider than true, and the header over the
top margin).

Landscape sources are turned a quarter counter-clockwise (the top of the content on the left
edge, as printers do) when that gives a larger scale. Pages much longer than the paper (web
pages, receipts) are not shrunk to a stamp: they are fitted to the width and cut into several
fax pages, so nothing is ever truncated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from faxout.render.options import Paper, Resolution

FAX_WIDTH = 1728
X_DPI = 204.0
HEADER_BAND_IN = 0.2  # ~5 mm: room for HylaFAX's tag line (about 4 mm at fine)
# Split a long page instead of shrinking it below this fraction of its fit-to-width scale.
SPLIT_BELOW = 0.7
# Turn a landscape page when that enlarges it by at least this factor.
ROTATE_GAIN = 1.1


@dataclass(frozen=True)
class PageFormat:
    """The output page raster for one paper and resolution."""

    width: int
    height: int  # lines per fax page
    band: int  # blank lines at the top reserved for the fax header
    lpi: int

    @property
    def printable_height(self) -> int:
        """Lines available to content below the header band."""
        return self.height - self.band


def page_format(paper: Paper, resolution: Resolution, header_band: bool = True) -> PageFormat:
    """The fax page raster for ``paper`` at ``resolution``."""
    lpi = resolution.lpi
    height = round(paper.size_pt[1] / 72.0 * lpi)
    band = round(HEADER_BAND_IN * lpi) if header_band else 0
    return PageFormat(width=FAX_WIDTH, height=height, band=band, lpi=lpi)


@dataclass(frozen=True)
class Slice:
    """One output page cut from the scaled source: lines ``top`` .. ``top + lines``."""

    top: int
    lines: int


@dataclass(frozen=True)
class Placement:
    """How one source page maps onto one or more fax pages.

    ``width`` x ``height`` is the scaled (and possibly rotated) content in output pixels;
    ``left`` centres it; each slice becomes one fax page, drawn below the header band.
    """

    rotate: bool  # a quarter turn counter-clockwise
    width: int
    height: int
    left: int
    slices: tuple[Slice, ...]


def place(width_in: float, height_in: float, fmt: PageFormat, *, enlarge: bool = True) -> Placement:
    """Place a source page of ``width_in`` x ``height_in`` inches on fax pages.

    ``enlarge=False`` keeps small sources (an image with a trustworthy dpi) at true size
    instead of blowing them up to the full width.
    """
    if width_in <= 0 or height_in <= 0:
        raise ValueError("page size must be positive")
    cap = float("inf") if enlarge else 1.0
    upright = min(cap, _fit_scale(width_in, height_in, fmt))
    turned = min(cap, _fit_scale(height_in, width_in, fmt))
    rotate = width_in > height_in and turned >= upright * ROTATE_GAIN
    w_in, h_in = (height_in, width_in) if rotate else (width_in, height_in)
    fit_width = fmt.width / (w_in * X_DPI)
    scale = min(fit_width, fmt.printable_height / (h_in * fmt.lpi))
    if scale < fit_width * SPLIT_BELOW:
        scale = fit_width  # long page: fill the width, cut into pages below
    scale = min(scale, cap)
    width = max(1, min(fmt.width, round(w_in * X_DPI * scale)))
    height = max(1, round(h_in * fmt.lpi * scale))
    avail = fmt.printable_height
    # Tolerate rounding: a page a few lines over the printable height is not split.
    count = 1 if height <= avail + 2 else math.ceil(height / avail)
    slices = tuple(Slice(i * avail, min(avail, height - i * avail)) for i in range(count))
    return Placement(rotate, width, height, (fmt.width - width) // 2, slices)


def _fit_scale(width_in: float, height_in: float, fmt: PageFormat) -> float:
    return min(fmt.width / (width_in * X_DPI), fmt.printable_height / (height_in * fmt.lpi))
