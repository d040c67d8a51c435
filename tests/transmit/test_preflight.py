"""Preflight refuses what spandsp would silently mangle, with a clear reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from faxout.transmit.preflight import preflight
from tests.transmit.pages import FINE, ITU_CHARTS, STANDARD, text_page, write_tiff


def test_accepts_a_fine_g4_document(two_pages: Path) -> None:
    result = preflight(two_pages)
    assert result.ok and result.reason is None
    assert (result.pages, result.resolution) == (2, "fine")


@pytest.mark.parametrize("compression", ["group4", "group3", "tiff_ccitt", "packbits"])
def test_accepts_standard_resolution_in_any_bilevel_coding(
    tmp_path: Path, compression: str
) -> None:
    path = write_tiff(tmp_path / "s.tif", [text_page(1, 300)], STANDARD, compression)
    assert preflight(path).resolution == "standard"


def test_accepts_the_itu_charts_at_200_dpi() -> None:
    assert len(ITU_CHARTS) == 8
    assert all(preflight(p).ok for p in ITU_CHARTS)


def test_refuses_tiles(tmp_path: Path) -> None:
    strips = write_tiff(tmp_path / "strips.tif", [text_page(1, 512)])
    tiled = tmp_path / "tiled.tif"
    subprocess.run(["tiffcp", "-t", "-w", "256", "-l", "256", str(strips), str(tiled)], check=True)
    result = preflight(tiled)
    assert not result.ok
    assert result.reason == "page 1 is tiled; fax pages must be stored in strips"


def test_refuses_missing_resolution(tmp_path: Path) -> None:
    path = tmp_path / "nodpi.tif"
    text_page(1, 200).save(path, compression="group4")
    assert preflight(path).reason == (
        "page 1 has no resolution tags; spandsp would send it as standard"
    )


def test_refuses_resolution_without_unit(tmp_path: Path) -> None:
    path = tmp_path / "unit.tif"
    text_page(1, 200).save(path, compression="group4", dpi=FINE)
    subprocess.run(["tiffset", "-s", "296", "1", str(path)], check=True)  # ResolutionUnit=none
    assert "no absolute resolution unit" in (preflight(path).reason or "")


def test_refuses_wrong_width(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "w.tif", [Image.new("1", (1700, 100), 1)])
    assert preflight(path).reason == "page 1 is 1700 pixels wide; fax pages must be exactly 1728"


def test_refuses_greyscale(tmp_path: Path) -> None:
    path = tmp_path / "grey.tif"
    Image.new("L", (1728, 100), 200).save(path, dpi=FINE)
    assert preflight(path).reason == "page 1 has 8 bits per sample; fax pages are 1-bit black/white"


def test_refuses_colour(tmp_path: Path) -> None:
    path = tmp_path / "rgb.tif"
    Image.new("RGB", (1728, 100)).save(path, dpi=FINE)
    assert "bits per sample" in (preflight(path).reason or "")


def test_refuses_missing_bits_per_sample(tmp_path: Path) -> None:
    # Pillow's uncompressed bilevel writer omits BitsPerSample; spandsp then fails at phase B.
    path = tmp_path / "raw.tif"
    text_page(1, 100).save(path, compression="raw", dpi=FINE)
    assert "no BitsPerSample" in (preflight(path).reason or "")


def test_refuses_odd_resolution_on_a_later_page(tmp_path: Path) -> None:
    first = write_tiff(tmp_path / "first.tif", [text_page(1, 100)])
    second = write_tiff(tmp_path / "second.tif", [text_page(2, 100)], dpi=(300, 300))
    path = tmp_path / "mixed.tif"
    subprocess.run(["tiffcp", str(first), str(second), str(path)], check=True)
    result = preflight(path)
    assert result.reason == "page 2 is 300 dpi across; fax pages are 204 dpi"


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_refuses_what_is_not_a_tiff(tmp_path: Path) -> None:
    png = tmp_path / "page.png"
    text_page(1, 100).save(png)
    assert preflight(png).reason == "not a TIFF file (it is PNG)"
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage")
    assert (preflight(junk).reason or "").startswith("cannot read the TIFF")


def test_a_transport_takes_the_callers_verdict_and_checks_nothing_twice(
    tmp_path: Path, sim_dir: Path
) -> None:
    from faxout.transmit.preflight import Preflight, checked
    from faxout.transmit.result import FaxCall, Outcome
    from faxout.transmit.simline import SimLineConfig, SimLineTransport

    gone = tmp_path / "gone.tif"  # the verdict says refused; the file is never opened again
    verdict = Preflight(gone, 1, None, "page 1 is tiled; fax pages must be stored in strips")
    call = FaxCall(gone, "+15550123456", "c1", checked=verdict)
    assert checked(call) is verdict
    steps: list[str] = []
    result = SimLineTransport(SimLineConfig(data_dir=sim_dir)).send(
        call, lambda p: steps.append(p.stage)
    )
    assert (
        result.outcome is Outcome.FAILED
        and result.t30_text == f"document refused: {verdict.reason}"
    )
    assert steps == []  # nothing was dialled
