"""Where pages land: paper lengths, true aspect, landscape turns, long pages cut, header band."""

from __future__ import annotations

import numpy as np
import pytest

from faxout.render.geometry import FAX_WIDTH, cut_rows, page_format, place
from faxout.render.options import Paper, Resolution

LENGTHS = [
    (Paper.A4, Resolution.HIGH, 2292),
    (Paper.LETTER, Resolution.HIGH, 2156),
    (Paper.A4, Resolution.LOW, 1146),
    (Paper.LETTER, Resolution.LOW, 1078),
    (Paper.LEGAL, Resolution.HIGH, 2744),
    (Paper.LEGAL, Resolution.LOW, 1372),
]


@pytest.mark.parametrize(("paper", "resolution", "height"), LENGTHS)
def test_page_is_1728_wide_and_as_long_as_the_paper(
    paper: Paper, resolution: Resolution, height: int
) -> None:
    fmt = page_format(paper, resolution)
    assert (fmt.width, fmt.height) == (FAX_WIDTH, height)
    assert fmt.band > 0


def test_letter_page_keeps_its_aspect_on_paper() -> None:
    fmt = page_format(Paper.LETTER, Resolution.HIGH)
    spot = place(8.5, 11.0, fmt)
    assert not spot.rotate and not spot.cut
    # one inch is 204 px across and 196 lines down, times the same scale
    assert spot.width / 8.5 / 204 == pytest.approx(spot.height / 11.0 / 196, rel=0.01)
    assert spot.height <= fmt.printable_height
    assert 0.95 < spot.width / FAX_WIDTH <= 1.0


def test_landscape_page_is_turned() -> None:
    fmt = page_format(Paper.A4, Resolution.HIGH)
    spot = place(11.69, 8.27, fmt)
    assert spot.rotate
    assert spot.width > 1600  # the turned page fills the width instead of a third of the page


def test_long_page_is_cut_not_shrunk() -> None:
    fmt = page_format(Paper.A4, Resolution.HIGH)
    spot = place(8.27, 40.0, fmt)
    assert spot.cut and spot.width == FAX_WIDTH
    assert spot.height > 3 * fmt.printable_height


@pytest.mark.parametrize("paper", [Paper.A4, Paper.LETTER])
@pytest.mark.parametrize("resolution", list(Resolution))
@pytest.mark.parametrize(
    ("width_in", "height_in"),
    [
        (8.5, 14.0),  # Legal on A4 or Letter: shrunk a little, one page
        (11.0, 17.0),  # Tabloid
        (5.0, 10.9),  # a phone screenshot (1080 x 2340)
        (4.0, 1.99),  # a small landscape screenshot, turned
        (1.99, 4.0),  # the same, upright
        (30.0, 8.0),  # a landscape banner: turned, fitted whole, never cut
    ],
)
def test_what_fits_one_page_when_scaled_stays_one_page(
    paper: Paper, resolution: Resolution, width_in: float, height_in: float
) -> None:
    fmt = page_format(paper, resolution)
    spot = place(width_in, height_in, fmt)
    assert not spot.cut
    assert spot.height <= fmt.printable_height and spot.width <= fmt.width


def test_turned_landscape_is_one_page_even_when_it_is_long_once_turned() -> None:
    # A 2:1 screenshot, turned, is twice as long as wide: it was cut in two before.
    fmt = page_format(Paper.LETTER, Resolution.HIGH)
    spot = place(384 / 96, 191 / 96, fmt)
    assert spot.rotate and not spot.cut


def test_small_image_keeps_true_size_when_asked() -> None:
    fmt = page_format(Paper.A4, Resolution.HIGH)
    spot = place(2.0, 1.0, fmt, max_scale=1.0)
    assert spot.width == 408 and spot.height == 196


def _lines_of_text(lines: int, pitch: int, glyph: int, width: int = 400) -> np.ndarray:
    """A grey raster of text lines: ``glyph`` dark rows every ``pitch`` rows, with a rule."""
    rows = np.full((lines * pitch, width), 255, dtype=np.uint8)
    for k in range(lines):
        rows[k * pitch + 4 : k * pitch + 4 + glyph, 20:380:3] = 0  # strokes of a text line
    rows[:, 10] = 0  # a vertical table rule crossing every row
    return rows


def test_cut_falls_in_the_gap_between_text_lines() -> None:
    avail = 2253
    rows = _lines_of_text(200, 24, 17)  # 10 pt text at 12 pt leading, at fine
    cut = cut_rows(rows[:avail], rows.shape[0], 196)
    assert avail * 0.75 <= cut <= avail
    line = rows[:, 20:380].min(axis=1) < 128  # rows holding text strokes
    assert not line[cut - 1] or not line[cut]  # the cut is not inside a text line
    assert not line[cut - 2 : cut + 2].all()
    k = cut // 24
    assert cut >= k * 24 + 4 + 17 or cut <= k * 24 + 4  # in the white between two lines


def test_last_part_of_a_long_page_takes_what_is_left() -> None:
    rows = _lines_of_text(10, 24, 17)
    assert cut_rows(rows, 240, 196) == 240
