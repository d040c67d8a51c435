"""Detection by content: names and extensions are never trusted."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from faxout.render.detect import Detected, Kind, detect
from faxout.render.result import Refusal, RefusalReason
from tests.render.fax import DATA


@pytest.mark.parametrize(
    ("name", "kind", "suffix"),
    [
        ("testchart_a4.pdf", Kind.PDF, ".pdf"),
        ("letter.txt", Kind.TEXT, ".txt"),
        ("letter.docx", Kind.OFFICE, ".docx"),
        ("letter.doc", Kind.OFFICE, ".doc"),
        ("letter.odt", Kind.OFFICE, ".odt"),
        ("order.html", Kind.HTML, ".html"),
        ("chart.gif", Kind.IMAGE, ".gif"),
        ("phone_photo_letter.jpg", Kind.IMAGE, ".jpg"),
        ("ccitt-itu1.tif", Kind.IMAGE, ".tif"),
        ("skimage-camera.png", Kind.IMAGE, ".png"),
        ("hylafax-faxcover-filled.ps", Kind.POSTSCRIPT, ".eps"),
    ],
)
def test_corpus_files_are_recognised(name: str, kind: Kind, suffix: str) -> None:
    assert detect(DATA / name) == Detected(kind, suffix)


def test_a_misnamed_file_is_recognised_by_content(tmp_path: Path) -> None:
    liar = tmp_path / "invoice.docx"
    shutil.copy(DATA / "letter_a4.pdf", liar)
    assert detect(liar) == Detected(Kind.PDF, ".pdf")


def _refusal(path: Path) -> Refusal:
    found = detect(path)
    assert isinstance(found, Refusal), found
    return found


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"\n  \n")
    assert _refusal(path).reason is RefusalReason.EMPTY


def test_executable_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 8)
    refusal = _refusal(path)
    assert refusal.reason is RefusalReason.UNSUPPORTED
    assert "not a document" in refusal.detail


def test_plain_zip_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "a.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert _refusal(path).reason is RefusalReason.UNSUPPORTED


def test_latin1_text_is_text(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes("Grüße aus Köln, déjà vu, naïve café\n".encode("latin-1") * 5)
    assert detect(path) == Detected(Kind.TEXT, ".txt")
