"""Images: fax TIFFs stay crisp, scans of paper become clean text, photos are halftoned."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faxout.render import Halftone, RefusalReason, RenderOptions, WarningKind, render_document
from tests.render.fax import DATA, read_fax


def _render(path: Path, tmp: Path, options: RenderOptions | None = None) -> list:  # type: ignore[type-arg]
    out = tmp / "out.tif"
    result = render_document(path, out, options)
    assert result.ok, result.refusal
    return read_fax(out)


def test_fax_tiff_is_thresholded_not_dithered(tmp_path: Path) -> None:
    (page,) = _render(DATA / "ccitt-itu1.tif", tmp_path)
    assert (page.width, page.height) == (1728, 2292)
    with Image.open(DATA / "ccitt-itu1.tif") as source:
        ink = ~np.asarray(source)
    # Same share of ink as the source (within scaling), no halftone dots added.
    assert abs(page.ratio() - ink.mean()) < 0.02
    # The 200 dpi chart keeps its size (8.64 in wide), shrunk a little to fit below the band.
    cols = np.flatnonzero(ink.any(axis=0))
    top, _bottom, left, right = page.bbox()
    assert top >= 39
    assert (right - left) / (cols[-1] + 1 - cols[0]) > 0.95


def test_multipage_tiff_gives_every_frame(tmp_path: Path) -> None:
    frames = [Image.new("L", (400, 500), 255) for _ in range(3)]
    for frame in frames:
        frame.paste(0, (50, 50, 350, 100))
    source = tmp_path / "multi.tif"
    frames[0].save(source, save_all=True, append_images=frames[1:], dpi=(150, 150))
    pages = _render(source, tmp_path)
    assert len(pages) == 3


def test_phone_photo_of_a_letter_becomes_clean_text(tmp_path: Path) -> None:
    (page,) = _render(DATA / "phone_photo_letter.jpg", tmp_path)
    body = page.black[400:1800, 250:1500]
    # The grey paper is white (no dot field) and the text is solid.
    assert body.mean() < 0.12
    assert body.mean() > 0.02


def test_photo_is_halftoned_and_diffusion_is_an_option(tmp_path: Path) -> None:
    (screen,) = _render(DATA / "skimage-camera.png", tmp_path)
    (diffused,) = _render(
        DATA / "skimage-camera.png", tmp_path, RenderOptions(halftone=Halftone.DIFFUSION)
    )
    # Halftones keep mid-tones: both have plenty of black and white in the picture.
    for page in (screen, diffused):
        top, bottom, left, right = page.bbox()
        assert 0.25 < page.ratio(top, bottom, left, right) < 0.75
    screen_size = (tmp_path / "out.tif").stat().st_size
    assert screen_size > 0


def test_screen_is_smaller_than_diffusion(tmp_path: Path) -> None:
    sizes = {}
    for halftone in Halftone:
        out = tmp_path / f"{halftone.value}.tif"
        result = render_document(DATA / "skimage-camera.png", out, RenderOptions(halftone=halftone))
        sizes[halftone] = sum(result.page_bytes)
    assert sizes[Halftone.SCREEN] * 1.5 < sizes[Halftone.DIFFUSION]


def test_photo_page_warns_about_line_time(tmp_path: Path) -> None:
    result = render_document(
        DATA / "skimage-camera.png", tmp_path / "o.tif", RenderOptions(halftone=Halftone.DIFFUSION)
    )
    assert WarningKind.SLOW_PAGE in {w.kind for w in result.warnings}


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # A landscape-stored JPEG whose EXIF says "rotate 90 CW to view": upright it is portrait,
    # with the dark bar (stored on the left) at the top.
    image = Image.new("L", (800, 600), 255)
    image.paste(0, (0, 0, 100, 600))
    exif = Image.Exif()
    exif[0x0112] = 6
    source = tmp_path / "phone.jpg"
    image.save(source, exif=exif.tobytes(), dpi=(150, 150))
    (page,) = _render(source, tmp_path)
    top, bottom, left, right = page.bbox()
    assert right - left > bottom - top  # a horizontal bar: the image was turned upright
    assert top < 200


def test_small_scan_keeps_true_size(tmp_path: Path) -> None:
    receipt = Image.new("L", (600, 300), 255)  # 2 x 1 in at 300 dpi
    receipt.paste(0, (0, 0, 600, 300))
    source = tmp_path / "receipt.png"
    receipt.save(source, dpi=(300, 300))
    (page,) = _render(source, tmp_path)
    _top, _bottom, left, right = page.bbox()
    assert abs((right - left) - 408) <= 2  # 2 in at 204 dpi, not blown up to the page width


def test_corrupt_image_is_refused(tmp_path: Path) -> None:
    data = (DATA / "chart.gif").read_bytes()
    broken = tmp_path / "broken.gif"
    broken.write_bytes(data[:64])
    result = render_document(broken, tmp_path / "out.tif")
    assert result.refusal is not None and result.refusal.reason is RefusalReason.CORRUPT


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("1", (8, 8), 1).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    # Claim 50000 x 50000 pixels in the header (IHDR at byte 16), with a valid checksum.
    data[16:24] = struct.pack(">II", 50000, 50000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bytes(data))
    result = render_document(bomb, tmp_path / "out.tif")
    assert result.refusal is not None and result.refusal.reason is RefusalReason.CORRUPT


def test_palette_chart_renders(tmp_path: Path) -> None:
    (page,) = _render(DATA / "chart.gif", tmp_path)
    assert page.width == 1728 and page.black.any()


@pytest.mark.parametrize("fmt", ["BMP", "WEBP", "GIF", "TIFF"])
def test_other_image_formats(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "picture"  # no extension: recognised by content
    with Image.open(DATA / "skimage-camera.png") as image:
        image.save(source, fmt)
    (page,) = _render(source, tmp_path)
    assert page.width == 1728 and page.black.any()
