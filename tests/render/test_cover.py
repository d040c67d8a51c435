"""Cover pages: templates filled per recipient, escaped, flowing onto a second page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from faxout.errors import RenderError
from faxout.render import CoverSheet, Paper, RenderOptions, Resolution, render_cover
from faxout.render.cover import cover_html, cover_names, preview_cover_png
from tests.render.fax import read_fax

SHEET = CoverSheet(
    sender_name="Northwind Traders",
    sender_number="+44 20 7946 0000",
    recipient_name="Accounts Payable",
    recipient_number="+1 555 0100",
    pages=3,
    text="Please find our invoice attached.",
    subject="Invoice INV-2024-0117",
    date=dt.datetime(2026, 11, 26, 14, 30, tzinfo=dt.UTC),
)


def test_shipped_templates_are_listed() -> None:
    assert {"Default", "Modern"} <= set(cover_names())


@pytest.mark.parametrize("template", ["Default", "Modern"])
def test_cover_is_one_fax_page_in_the_document_format(tmp_path: Path, template: str) -> None:
    out = tmp_path / "cover.tif"
    options = RenderOptions(paper=Paper.LETTER, resolution=Resolution.LOW)
    result = render_cover(SHEET, out, options, template=template)
    assert result.pages == 1
    (page,) = read_fax(out)
    assert (page.width, page.height, page.dpi) == (1728, 1078, (204.0, 98.0))
    assert 0.01 < page.ratio() < 0.3


def test_placeholders_are_filled() -> None:
    html = cover_html(SHEET)
    for value in ("Northwind Traders", "+1 555 0100", "Invoice INV-2024-0117", "2026-11-26 14:30"):
        assert value in html
    assert "3 (including this page)" in html


def test_hostile_text_is_escaped() -> None:
    hostile = CoverSheet(
        sender_name='<img src="http://169.254.169.254/latest">',
        text="</div><script>alert(1)</script>{{ 7*191 }}",
        date=SHEET.date,
    )
    html = cover_html(hostile)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src" not in html
    assert "1337" not in html and "{{ 7*191 }}" in html  # a value's template syntax is text


def test_long_cover_text_flows_onto_a_second_page(tmp_path: Path) -> None:
    long = CoverSheet(sender_name="A", text="A long paragraph of cover text. " * 400)
    result = render_cover(long, tmp_path / "cover.tif")
    assert result.pages >= 2


def test_page_total_counts_a_cover_that_runs_long(tmp_path: Path) -> None:
    covers = tmp_path / "covers"
    covers.mkdir()
    second_page = '<p style="page-break-before: always">more</p>'
    (covers / "Count.html").write_text(
        f'<p style="font-size:120pt">{{{{ pages }}}}</p>{second_page}'
    )
    (covers / "Five.html").write_text(f'<p style="font-size:120pt">5</p>{second_page}')
    # 3 document pages + a one-page cover = 4; the cover has two pages, so the fax has 5.
    sheet = CoverSheet(pages=4)
    counted = render_cover(sheet, tmp_path / "a.tif", template="Count", template_dir=covers)
    render_cover(sheet, tmp_path / "b.tif", template="Five", template_dir=covers)
    assert counted.pages == 2
    assert np.array_equal(
        read_fax(tmp_path / "a.tif")[0].black, read_fax(tmp_path / "b.tif")[0].black
    )


def test_operator_template_overrides_and_can_use_its_own_images(tmp_path: Path) -> None:
    from PIL import Image

    covers = tmp_path / "covers"
    covers.mkdir()
    Image.new("L", (200, 200), 0).save(covers / "logo.png")
    (covers / "Default.html").write_text(
        '<html><body><img src="logo.png" style="width:60mm"><p>{{ recipient_name }}</p></body></html>'
    )
    out = tmp_path / "cover.tif"
    render_cover(SHEET, out, template_dir=covers)
    (page,) = read_fax(out)
    _top, _bottom, left, right = page.bbox()
    assert right - left > 400  # the logo (60 mm of black) was loaded from the template dir


def test_broken_template_is_an_error_not_a_refusal(tmp_path: Path) -> None:
    covers = tmp_path / "covers"
    covers.mkdir()
    (covers / "Typo.html").write_text("<p>{{ recipient_nmae }}</p>")
    with pytest.raises(RenderError, match="Typo"):
        render_cover(SHEET, tmp_path / "cover.tif", template="Typo", template_dir=covers)


def test_preview_is_a_png_of_the_fax_page(tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "preview.png"
    options = RenderOptions(resolution=Resolution.LOW)
    assert preview_cover_png(SHEET, out, options, template="Modern") == 1
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (1728, 2292)
