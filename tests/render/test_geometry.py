"""Where pages land: paper lengths, true aspect, landscape turns, long pages cut, header band."""

from __future__ import annotations

import pytest

from faxout.render.geometry import FAX_WIDTH, page_format, place
from faxout.render.options import Paper, Resolution


@pytest.mark.parametrize(
    ("paper", "resolution", "height"),
    [
        (Paper.A4, Resolution.HIGH, 2292),
        (Paper.LETTER, Resolution.HIGH, 2156),
        (Paper.A4, Resolution.LOW, 1146),
        (Paper.LETTER, Resolution.LOW, 1078),
    ],
)
def test_page_is_1728_wide_and_as_long_as_the_paper(
    paper: Paper, resolution: Resolution, height: int
) -> None:
    fmt = page_format(paper, resolution)
    assert (fmt.width, fmt.height) == (FAX_WIDTH, height)
    assert fmt.band > 0


def test_letter_page_keeps_its_aspect_on_paper() -> None:
    fmt = page_format(Paper.LETTER, Resolution.HIGH)
    spot = place(8.5, 11.0, fmt)
    assert not spot.rotate and len(spot.slices) == 1
    # one inch is 204 px across and 196 lines down, times the same scale
    assert spot.width / 8.5 / 204 == pytest.approx(spot.height / 11.0 / 196, rel=0.01)
    assert spot.height <= fmt.printable_height
    assert 0.95 < spot.width / FAX_WIDTH <= 1.0


def test_landscape_page_is_turned() -> None:
    fmt = page_format(Paper.A4, Resolution.HIGH)
    spot = place(11.69, 8.27, fmt)
    assert spot.rotate
    assert spot.width > 1600  # the turned page fills the width instead of a third of the page


def test_long_page_is_split_not_shrunk() -> None:
    fmt = page_format(Paper.A4, Resolution.HIGH)
    spot = place(8.27, 40.0, fmt)
    assert spot.width == FAX_WIDTH
    assert len(spot.slices) == -(-spot.height // fmt.printable_height)
    assert sum(s.lines for s in spot.slices) == spot.height  # nothing cut off


def test_small_image_keeps_true_size_when_asked() -> None:
    fmt = page_format(Paper.A4, Resolution.HIGH)
    spot = place(2.0, 1.0, fmt, enlarge=False)
    assert spot.width == 408 and spot.height == 196
