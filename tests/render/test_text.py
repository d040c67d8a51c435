"""Plain text: legible monospace pages, wrapping, tabs, form feeds, any charset."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium

from faxout.render import Paper, RefusalReason, RenderOptions, Resolution, render_document
from faxout.render.text import decode, layout, paginate, wrap
from tests.render.fax import DATA, read_fax


def _text_of(data: bytes) -> list[str]:
    pdf = layout(data, Paper.A4)
    try:
        texts = []
        for page in pdf:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        pdf.close()


def test_letter_renders_legibly(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"
    for resolution, height in ((Resolution.HIGH, 2292), (Resolution.LOW, 1146)):
        result = render_document(DATA / "letter.txt", out, RenderOptions(resolution=resolution))
        assert result.ok and result.pages == 1
        (page,) = read_fax(out)
        assert page.height == height
        top, bottom, left, right = page.bbox()
        # 10 pt text: rows of glyphs with solid ink, no halftone speckle on black text.
        assert 0.04 < page.ratio(top, bottom, left, right) < 0.25
        assert result.warnings == []


def test_text_survives_layout_word_for_word() -> None:
    source = (DATA / "letter.txt").read_bytes().decode("utf-8")
    (text,) = _text_of(source.encode("utf-8"))
    assert [w for w in text.split()] == source.split()


def test_form_feed_starts_a_new_page() -> None:
    assert len(_text_of(b"page one\n\fpage two\n\f")) == 2


def test_long_text_flows_over_pages() -> None:
    data = "".join(f"line {n}\n" for n in range(200)).encode()
    pages = _text_of(data)
    assert len(pages) == 4  # 64 lines a page
    assert "line 199" in pages[-1]


def test_lines_wrap_between_words() -> None:
    # "Debian pac" / "kages" was what a recipient read before.
    line = "Install the Debian packages listed below before you start the gateway service."
    wrapped = list(wrap(line, 30))
    assert wrapped == [
        "Install the Debian packages",
        "listed below before you start",
        "the gateway service.",
    ]
    assert " ".join(wrapped) == line
    assert all(len(part) <= 30 for part in wrapped)


def test_a_long_url_breaks_after_a_separator() -> None:
    url = "https://example.com/orders/2024/11/invoice-0117.pdf?download=1&copy=fax"
    first, *rest = wrap(f"See {url}", 40)
    assert first == "See"
    assert "".join(rest) == url  # nothing lost, nothing added
    assert all(part[-1] in "/-?&=_.,;:" for part in rest[:-1])


def test_long_lines_wrap_and_nothing_is_lost() -> None:
    line = "x" * 200
    assert list(wrap(line, 86)) == ["x" * 86, "x" * 86, "x" * 28]
    assert next(iter(wrap("日本語" * 30, 86))) == "日本語" * 14 + "日"  # wide characters: 2 cells


def test_tabs_expand_to_eight_columns() -> None:
    (page,) = list(paginate("a\tb\n", 86, 64))
    assert page == ["a       b"]


def test_charsets_are_detected() -> None:
    text = "Grüße aus Köln – déjà vu, naïve café, Ørsted, Dvořák, 100 €\n" * 3
    assert decode(text.encode("utf-8")) == text
    assert decode(text.encode("utf-16")) == text
    latin = "Grüße aus Köln, déjà vu, naïve café, garçon, señor, ça va\n" * 3
    assert decode(latin.encode("cp1252")) == latin


def test_non_utf8_file_renders_accents(tmp_path: Path) -> None:
    source = tmp_path / "note.txt"
    source.write_bytes("Grüße aus Köln, déjà vu, naïve café, garçon, señor\n".encode("cp1252") * 4)
    pdf = layout(source.read_bytes(), Paper.LETTER)
    try:
        page = pdf[0]
        assert page.get_size() == (612, 792)
        assert "Grüße" in page.get_textpage().get_text_range()
    finally:
        pdf.close()
    assert isinstance(pdf, pdfium.PdfDocument)


def test_endless_text_is_refused_early(tmp_path: Path) -> None:
    source = tmp_path / "log.txt"
    source.write_bytes(b"a log line\n" * 200_000)  # 3125 pages
    result = render_document(source, tmp_path / "out.tif", RenderOptions(max_pages=100))
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TOO_MANY_PAGES
