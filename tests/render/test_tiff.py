"""The TIFF-F writer: tags a fax modem needs, pixels that decode back the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faxout.render.options import Compression
from faxout.render.tiff import TiffFWriter
from tests.render.fax import read_fax


@pytest.mark.parametrize(
    ("compression", "tag"),
    [(Compression.MMR, 4), (Compression.MH, 3), (Compression.MR, 3)],
)
def test_pages_decode_to_the_same_pixels(
    tmp_path: Path, compression: Compression, tag: int
) -> None:
    rng = np.random.default_rng(1728)
    pages = [rng.random((300, 1728)) < 0.1, np.zeros((200, 1728), dtype=bool)]
    pages[1][50:60, 100:1600] = True
    out = tmp_path / "out.tif"
    with TiffFWriter(out, lpi=98, compression=compression) as writer:
        sizes = [writer.add_page(page) for page in pages]
    assert all(size > 0 for size in sizes)
    decoded = read_fax(out)
    assert len(decoded) == 2
    for original, page in zip(pages, decoded, strict=True):
        assert np.array_equal(original, page.black)
        assert page.compression == tag
        assert page.photometric == 0  # white is zero, as T.4/T.6 expect
        assert page.dpi == (204.0, 98.0)
        assert page.strips == 1


def test_g3_options_say_1d_or_2d(tmp_path: Path) -> None:
    from PIL import Image

    for compression, expected in ((Compression.MH, 4), (Compression.MR, 5)):
        out = tmp_path / f"{compression.value}.tif"
        with TiffFWriter(out, lpi=196, compression=compression) as writer:
            writer.add_page(np.zeros((10, 1728), dtype=bool))
        with Image.open(out) as image:
            assert image.tag_v2[292] == expected  # T4Options: 2-D bit, EOLs byte-aligned
