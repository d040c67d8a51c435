"""A render worker told to warm up does, in the background: it answers at once, its soffice
is up before any office document arrives, and the jobs it then takes render as usual."""

from __future__ import annotations

import time
from pathlib import Path

from faxout.render import CoverSheet, RenderPool
from tests.render.fax import DATA, read_fax


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            frontier += children
    return found


def _commands(pids: list[int]) -> list[str]:
    names = []
    for pid in pids:
        try:
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            continue
    return names


def test_a_warming_worker_starts_soffice_before_any_office_document(tmp_path: Path) -> None:
    with RenderPool(workers=1, warm_up=("cover", "office")) as pool:
        worker = pool.worker_pids()[0]
        deadline = time.monotonic() + 90  # soffice takes seconds on a loaded machine
        while time.monotonic() < deadline:
            if any(name.startswith("soffice") for name in _commands(_descendants(worker))):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no soffice under the warming worker")
        cover = pool.render_cover(CoverSheet(sender_name="Ann", pages=2), tmp_path / "c.tif")
        assert cover.ok and len(read_fax(tmp_path / "c.tif")) == 1
        doc = pool.render_submission([DATA / "letter_a4.pdf"], tmp_path / "d.tif")
        assert doc.ok and doc.pages == 1


def test_a_worker_not_told_to_warm_starts_no_soffice(tmp_path: Path) -> None:
    with RenderPool(workers=1) as pool:
        result = pool.render_submission([DATA / "letter_a4.pdf"], tmp_path / "d.tif")
        assert result.ok
        names = _commands(_descendants(pool.worker_pids()[0]))
        assert not any(name.startswith("soffice") for name in names)
