"""Previews of the send form: rendered by a jailed worker, decoded again in the page jail."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from faxout.intake.console.preview import OwnPool, Preview, PreviewRefused, Previews
from faxout.jobs.create import NewDocument
from faxout.render.options import Paper, RenderOptions
from tests.intake.sendfixtures import account
from tests.render.fax import DATA

NOW = datetime(2030, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def pool() -> Iterator[OwnPool]:
    own = OwnPool(None)
    try:
        yield own
    finally:
        own.close()


class Wall:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _previews(tmp: Path, pool: OwnPool, wall: Wall | None = None) -> Previews:
    return Previews(tmp / "cache" / "preview", pool, RenderOptions(), wall=wall or Wall())


def _make(
    previews: Previews,
    *docs: Path,
    cover: str = "None",
    resolution: str = "high",
    number: str = "+16505550100",
    acct_id: int = 1,
) -> Preview:
    who = account(id=acct_id)
    options = previews.options_for(who, number, resolution)
    with previews.incoming() as incoming:
        documents = []
        for doc in docs:
            upload = incoming.new_file()
            upload.write(doc.read_bytes())
            documents.append(NewDocument(doc.name, "", upload))
        return previews.render(who, incoming, documents, options=options, cover=cover,
                               cover_text="Please sign", recipient=("Bob", number), now=NOW)  # fmt: skip


def _image(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return img


def test_a_pdf_becomes_its_fax_pages_with_the_cover_first(tmp_path: Path, pool: OwnPool) -> None:
    previews = _previews(tmp_path, pool)
    made = _make(previews, DATA / "letter_a4.pdf", DATA / "ccitt-itu1.tif", cover="Default")
    assert made.pages == 3
    full = _image(previews.page_png(1, made.token, 2) or b"")
    assert full.width == 1728 and full.mode == "L"
    thumb = _image(previews.page_png(1, made.token, 1, width=200) or b"")
    assert thumb.width == 200 and 250 < thumb.height < 300  # letter paper for +1, square pixels
    assert previews.page_png(1, made.token, 4) is None
    assert previews.page_png(2, made.token, 1) is None  # another account's preview
    assert previews.page_png(1, "../" + made.token[3:], 1) is None
    assert (tmp_path / "cache" / "preview" / made.token / "pages.tif").is_file()


def test_low_resolution_pages_have_square_pixels(tmp_path: Path, pool: OwnPool) -> None:
    previews = _previews(tmp_path, pool)
    made = _make(previews, DATA / "letter_a4.pdf", resolution="low", number="+4930123456")
    img = _image(previews.page_png(1, made.token, 1) or b"")
    assert (
        made.pages == 1 and abs(img.height / img.width - 297 / 215) < 0.01
    )  # A4 for +49, 215 mm wide


def test_a_preview_expires(tmp_path: Path, pool: OwnPool) -> None:
    wall = Wall()
    previews = _previews(tmp_path, pool, wall)
    made = _make(previews, DATA / "letter.txt")
    wall.now += 15 * 60 + 60  # the preview was made a few seconds after the wall was read
    assert previews.page_png(1, made.token, 1) is None
    assert not (tmp_path / "cache" / "preview" / made.token).exists()


def test_a_document_that_cannot_be_faxed_is_named(tmp_path: Path, pool: OwnPool) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(PreviewRefused, match=r"junk\.bin could not be rendered"):
        _make(_previews(tmp_path, pool), junk)


def test_the_cover_page_preview(tmp_path: Path, pool: OwnPool) -> None:
    previews = _previews(tmp_path, pool)
    who = account()
    options = previews.options_for(who, "", "high")
    assert options.paper is Paper.LETTER
    png = previews.cover_png(who, "Modern", "Hi", ("", ""), options=options, now=NOW, width=300)
    assert _image(png or b"").width == 300
    assert previews.cover_png(who, "none", "", ("", ""), options=options, now=NOW) is None
