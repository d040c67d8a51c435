"""The warm workers that prepare each call's pages: warm, one call's files at a time,
replaced when they die or have served their share, and a broken call never half-made."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from faxout.errors import TransportError
from faxout.transmit import pages
from faxout.transmit.stamper import Stamper
from tests.transmit.pages import read_pages, text_page, write_tiff


def _job(first_page: int = 1):  # type: ignore[no-untyped-def]
    def job(seen: list[Path], view_out: Path) -> tuple[str, dict[str, object]]:
        spec = {"parts": [str(p) for p in seen], "first_page": first_page, "header": None,
                "out": str(view_out / "fax.tif")}  # fmt: skip
        return "stamp", {"spec": spec}

    return job


def _out(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir(exist_ok=True)
    return tmp_path / name / "fax.tif"  # the name the job writes in the worker


def _doc(path: Path, count: int) -> Path:
    return write_tiff(path, [text_page(n) for n in range(1, count + 1)])


def test_calls_reuse_one_warm_worker_and_each_sees_only_its_own_files(tmp_path: Path) -> None:
    stamper = Stamper(size=2)
    try:
        first = _doc(tmp_path / "a.tif", 2)
        got = stamper.call([first], _job(), _out(tmp_path, "one"))
        assert got == {"count": 2, "total": 2}
        assert len(read_pages(_out(tmp_path, "one"))) == 2
        (pid,) = stamper.worker_pids()
        second = _doc(tmp_path / "b.tif", 3)

        # the job names the first call's file too: the worker must no longer see it
        def both(seen: list[Path], view_out: Path) -> tuple[str, dict[str, object]]:
            name, kwargs = _job()([seen[0].parent / "a.tif", *seen], view_out)
            return name, kwargs

        with pytest.raises(TransportError, match="could not prepare the pages"):
            stamper.call([second], both, _out(tmp_path, "two"))
        assert not (_out(tmp_path, "two")).exists()
        assert stamper.call([second], _job(2), _out(tmp_path, "three")) == {"count": 2, "total": 3}
        assert stamper.worker_pids() == [pid]  # a refused call does not cost the worker
    finally:
        stamper.close()
    assert stamper.worker_pids() == []


def test_a_worker_that_died_is_replaced_before_the_next_call(tmp_path: Path) -> None:
    stamper = Stamper(size=1)
    try:
        stamper.start()
        (pid,) = stamper.worker_pids()
        os.kill(pid, signal.SIGKILL)
        doc = _doc(tmp_path / "a.tif", 1)
        assert stamper.call([doc], _job(), _out(tmp_path, "out")) == {"count": 1, "total": 1}
        (new,) = stamper.worker_pids()
        assert new != pid
    finally:
        stamper.close()


def test_a_worker_is_replaced_after_its_share_of_calls(tmp_path: Path) -> None:
    stamper = Stamper(size=1, max_jobs=2)
    try:
        doc = _doc(tmp_path / "a.tif", 1)
        seen = set()
        for n in range(5):
            stamper.call([doc], _job(), _out(tmp_path, f"out{n}"))
            seen.update(stamper.worker_pids())
        assert len(seen) == 3  # calls 1-2, 3-4, 5
    finally:
        stamper.close()


def test_prepare_goes_through_the_shared_warm_worker(tmp_path: Path) -> None:
    doc = _doc(tmp_path / "part0.tif", 2)
    for n in range(2):
        work = tmp_path / f"call{n}"
        work.mkdir()
        result = pages.prepare([doc], 1, None, work)
        assert (result.count, result.total, result.path) == (2, 2, work / "out" / "fax.tif")
    from faxout.transmit import stamper

    assert len(stamper.shared().worker_pids()) == 1  # the second call found it warm
