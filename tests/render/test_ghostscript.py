"""PostScript and EPS through Ghostscript, with its time limit enforced."""

from __future__ import annotations

from pathlib import Path

from faxout.render import RefusalReason, RenderOptions, render_document
from tests.render.fax import DATA, read_fax


def test_hylafax_cover_sheet_renders(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"
    result = render_document(DATA / "hylafax-faxcover-filled.ps", out)
    assert result.ok and result.pages == 1
    (page,) = read_fax(out)
    assert page.width == 1728 and 0.005 < page.ratio() < 0.2


def test_landscape_postscript_is_turned(tmp_path: Path) -> None:
    source = tmp_path / "wide.ps"
    source.write_text(
        "%!PS\n<< /PageSize [842 595] >> setpagedevice\n"
        "0 0 moveto 842 0 lineto 842 595 lineto 0 595 lineto closepath 0 setgray fill\n"
        "showpage\n"
    )
    out = tmp_path / "out.tif"
    assert render_document(source, out).ok
    (page,) = read_fax(out)
    top, bottom, left, right = page.bbox()
    assert bottom - top > right - left  # the wide page stands upright on the fax


def test_endless_postscript_hits_the_time_limit(tmp_path: Path) -> None:
    source = tmp_path / "loop.ps"
    source.write_text("%!PS\n{ } loop\n")
    out = tmp_path / "out.tif"
    result = render_document(source, out, RenderOptions(timeout_s=1.5))
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TIME_LIMIT
    assert not out.exists()


def test_broken_postscript_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "broken.ps"
    source.write_text("%!PS\n/foo load exec 1 0 div\n")
    result = render_document(source, tmp_path / "out.tif")
    assert result.refusal is not None
    assert result.refusal.reason in (RefusalReason.CORRUPT, RefusalReason.EMPTY)


def test_a_private_file_is_converted_by_the_jailed_ghostscript(tmp_path: Path) -> None:
    # Under faxout's umask 077 its files are 0600; the jailed uid gets a readable copy.
    source = tmp_path / "private.ps"
    source.write_bytes(b"%!PS\nnewpath 72 72 moveto 300 300 lineto stroke showpage\n")
    source.chmod(0o600)
    result = render_document(source, tmp_path / "out.tif")
    assert result.ok and result.pages == 1
