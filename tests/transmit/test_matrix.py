"""The full modem × ECM × coding matrix, and the eight ITU charts over audio and T.38."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from faxout.transmit.result import Compression, FaxCall, Modem
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport
from tests.transmit.pages import ITU_CHARTS, assert_same_pages, text_page, write_tiff

_EXPECTED_RATE = {
    Modem.V17: ("V.17", 14400),
    Modem.V29: ("V.29", 9600),
    Modem.V27TER: ("V.27ter", 4800),
}


@pytest.fixture(scope="module")
def matrix_doc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("matrix")
    return write_tiff(folder / "doc.tif", [text_page(21, 900), text_page(22, 900)])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("modem", "ecm", "coding"), list(itertools.product(Modem, [True, False], Compression))
)
def test_matrix_round_trip(
    sim_dir: Path, matrix_doc: Path, modem: Modem, ecm: bool, coding: Compression
) -> None:
    codings = tuple(Compression)[: tuple(Compression).index(coding) + 1]
    call = FaxCall(matrix_doc, "+4930", "m", modems=(modem,), ecm=ecm, compressions=codings)
    result = SimLineTransport(SimLineConfig(sim_dir)).send(call, lambda _: None)
    assert result.success, result
    assert (result.modem, result.bit_rate) == _EXPECTED_RATE[modem]
    wire = Compression.MR if coding is Compression.MMR and not ecm else coding
    assert result.compression is wire and result.ecm is ecm
    assert_same_pages(matrix_doc, result.received_path)


@pytest.fixture(scope="module")
def itu_document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("itu")
    pages = [Image.open(p) for p in ITU_CHARTS]
    # The charts are tagged 200 × 200 dpi, which spandsp maps to R8 × fine.
    return write_tiff(folder / "itu.tif", pages, dpi=(200, 200))


@pytest.mark.slow
@pytest.mark.parametrize("medium", list(Medium))
def test_the_eight_itu_charts_arrive_pixel_identical(
    sim_dir: Path, itu_document: Path, medium: Medium
) -> None:
    transport = SimLineTransport(SimLineConfig(sim_dir, medium=medium))
    result = transport.send(FaxCall(itu_document, "+4930", f"itu-{medium}"), lambda _: None)
    assert result.success, result
    assert result.pages_confirmed == 8
    assert_same_pages(itu_document, result.received_path)
