from __future__ import annotations

from pathlib import Path

import pytest

from faxout.transmit.simline import SimLineConfig, SimLineTransport
from tests.transmit.pages import text_page, write_tiff


@pytest.fixture
def sim_dir(tmp_path: Path) -> Path:
    """FAXOUT_DATA_DIR for the simulated line."""
    return tmp_path / "data"


@pytest.fixture
def simline(sim_dir: Path) -> SimLineTransport:
    """A clean G.711 A-law simulated line."""
    return SimLineTransport(SimLineConfig(data_dir=sim_dir))


@pytest.fixture
def two_pages(tmp_path: Path) -> Path:
    """A two-page fine-resolution G4 TIFF (about 1100 rows a page: quick to send)."""
    return write_tiff(tmp_path / "two.tif", [text_page(1), text_page(2)])


@pytest.fixture
def three_pages(tmp_path: Path) -> Path:
    """A three-page fine-resolution G4 TIFF."""
    return write_tiff(tmp_path / "three.tif", [text_page(n, rows=700) for n in (3, 4, 5)])
