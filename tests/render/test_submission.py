"""A submission: several documents into one fax file, or one refusal naming the document."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from faxout.render import (
    CoverSheet,
    RefusalReason,
    RenderOptions,
    RenderPool,
    RenderResult,
    render_submission,
)
from tests.render.fax import DATA, read_fax


def test_documents_are_concatenated_in_order(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"
    docs = [DATA / "letter.txt", DATA / "ccitt-itu1.tif", DATA / "letter_a4.pdf"]
    result = render_submission(docs, out)
    assert result.ok and result.pages == 3
    pages = read_fax(out)
    assert len(pages) == 3
    assert len(result.page_bytes) == 3


def test_one_refused_document_refuses_the_submission(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    out = tmp_path / "out.tif"
    result = render_submission([DATA / "letter.txt", junk], out)
    assert result.refusal is not None
    assert result.refusal.reason is RefusalReason.UNSUPPORTED
    assert result.refusal.document == "junk.bin"
    assert "junk.bin" in str(result.refusal)
    assert not out.exists()


def test_no_documents_is_a_refusal(tmp_path: Path) -> None:
    result = render_submission([], tmp_path / "out.tif")
    assert result.refusal is not None and result.refusal.reason is RefusalReason.EMPTY


def test_warnings_name_their_document(tmp_path: Path) -> None:
    result = render_submission(
        [DATA / "letter.txt", DATA / "skimage-camera.png"], tmp_path / "o.tif"
    )
    assert result.warnings and all(w.document == "skimage-camera.png" for w in result.warnings)


def test_warm_pool_renders_and_recycles_workers(tmp_path: Path) -> None:
    with RenderPool(workers=1, max_documents=2) as pool:
        pids = []
        for n in range(3):
            pids.append(pool.worker_pids())
            out = tmp_path / f"{n}.tif"
            result = pool.render_submission([DATA / "letter_a4.pdf"], out)
            assert result.ok and result.pages == 1 and len(read_fax(out)) == 1
        assert pids[0] == pids[1] != pids[2]  # replaced after two submissions


def test_pool_renders_cover_pages(tmp_path: Path) -> None:
    with RenderPool(workers=1) as pool:
        out = tmp_path / "cover.tif"
        result = pool.render_cover(CoverSheet(sender_name="A", pages=2), out, template="Modern")
        assert result.pages == 1 and len(read_fax(out)) == 1


def test_pool_renders_the_operator_s_private_cover_pages(tmp_path: Path) -> None:
    # The data directory is 0700 and its files 0600; the jailed workers run as another uid,
    # so the pool hands them a readable copy, refreshed when the operator changes a page.
    covers = tmp_path / "coverpages"
    covers.mkdir(mode=0o700)
    page = covers / "Office.html"
    page.write_text("<h1>{{ sender_name }}</h1><p>one</p>")
    page.chmod(0o600)
    with RenderPool(workers=1, covers_dir=covers) as pool:
        sheet = CoverSheet(sender_name="A", pages=2)
        first = pool.render_cover(sheet, tmp_path / "a.tif", template="Office", template_dir=covers)
        assert first.pages == 1
        page.write_text("<h1>{{ sender_name }}</h1>" + '<p style="page-break-before:always">2</p>')
        os.utime(page, (1, 1))
        again = pool.render_cover(sheet, tmp_path / "b.tif", template="Office", template_dir=covers)
        assert again.pages == 2  # the changed page is used


def test_pool_kills_a_worker_that_overruns(tmp_path: Path) -> None:
    endless = tmp_path / "loop.ps"
    endless.write_text("%!PS\n{ } loop\n")
    with RenderPool(workers=1) as pool:
        before = pool.worker_pids()
        # timeout_s=0.5: Ghostscript is stopped inside the worker and the refusal comes back
        result = pool.render_submission([endless], tmp_path / "o.tif", RenderOptions(timeout_s=0.5))
        assert result.refusal is not None and result.refusal.reason is RefusalReason.TIME_LIMIT
        assert pool.worker_pids() == before  # a refusal is an answer: the worker stays
        again = pool.render_submission([DATA / "letter.txt"], tmp_path / "p.tif")
        assert again.ok


def _stall(pool: RenderPool, sig: int, tmp_path: Path, options: RenderOptions) -> RenderResult:
    """Signal the (idle) worker, then submit: it hangs (SIGSTOP) or is dead (SIGKILL) when
    the job arrives, as if that had happened mid-document, without depending on timing."""
    (pid,) = pool.worker_pids()
    os.kill(pid, sig)
    return pool.render_submission([DATA / "letter_a4.pdf"], tmp_path / "o.tif", options)


def test_pool_replaces_a_worker_that_hangs(tmp_path: Path) -> None:
    with RenderPool(workers=1, grace_s=0.5) as pool:
        before = pool.worker_pids()
        result = _stall(pool, signal.SIGSTOP, tmp_path, RenderOptions(timeout_s=0.5))
        assert result.refusal is not None and result.refusal.reason is RefusalReason.TIME_LIMIT
        assert pool.worker_pids() != before and not (tmp_path / "o.tif").exists()
        assert pool.render_submission([DATA / "letter.txt"], tmp_path / "p.tif").ok


def test_pool_survives_a_worker_crash(tmp_path: Path) -> None:
    with RenderPool(workers=1) as pool:
        before = pool.worker_pids()
        result = _stall(pool, signal.SIGKILL, tmp_path, RenderOptions())
        assert result.refusal is not None and result.refusal.reason is RefusalReason.CORRUPT
        assert "crashed" in str(result.refusal)
        assert pool.worker_pids() != before
        assert pool.render_submission([DATA / "letter.txt"], tmp_path / "p.tif").ok
