"""Legibility by OCR (issue 13, part 7): the bounded version of ``bench/render.py --ocr``.

Word recall of the rendered fax pages against the document's own text, read back by tesseract,
faxout against Ghostscript run the way HylaFAX runs it. The method (reference words, word
normalisation, multiset recall, orientation, Ghostscript's arguments) is ``bench/ocr.py``'s.
Three small documents: the corpus letter as a PDF and as plain text (``data/``, see its
LICENCE.md) and a generated 384×191 px text screenshot on grey. Behavioural checks, not timings:
faxout reaches a floor that today's code clears with margin, and is never more than 1 point
below Ghostscript on the same document.

Tesseract is a test dependency (deps/apt-test.txt): without it these tests fail, saying so.
"""

from __future__ import annotations

import pytest
from bench import ocr

from tests.render.fax import DATA

pytestmark = pytest.mark.slow

# Floors: recall of faxout's fine pages. Measured on 0137161: letter PDF 1.000, letter text
# 0.993, small screenshot 0.897 (Ghostscript: 0.966, 0.980, 0.000).
FLOORS = {"letter_a4.pdf": 0.9, "letter.txt": 0.9, "screenshot_small.png": 0.7}
POINT = 0.01


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ocr.Legibility]:
    try:
        ocr.require_tesseract()
    except RuntimeError as error:
        pytest.fail(str(error))
    work = tmp_path_factory.mktemp("legibility")
    screenshot = ocr.text_screenshot(work / "screenshot_small.png")
    rows = {}
    for path in (DATA / "letter_a4.pdf", DATA / "letter.txt", screenshot):
        case = ocr.prepare(path, work / "cases")
        assert isinstance(case, ocr.Case), case
        rows[path.name] = ocr.measure(case, work, jobs=2)
    return rows


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_faxout_text_reads_back(measured: dict[str, ocr.Legibility], name: str) -> None:
    row = measured[name]
    assert row.faxout >= FLOORS[name], row


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_faxout_no_less_legible_than_ghostscript(
    measured: dict[str, ocr.Legibility], name: str
) -> None:
    row = measured[name]
    assert row.faxout >= row.gs - POINT, row


def test_word_recall_is_a_multiset_match_of_normalised_words() -> None:
    reference = ocr.words("Café ÉTÉ, the the \ufb01scal 2026 (no) e-mail")
    assert reference == ["cafe", "ete", "the", "the", "fiscal", "2026", "mail"]
    assert ocr.recall(reference, ocr.words("the CAFE ete fiscal 2026 mail")) == 6 / 7
