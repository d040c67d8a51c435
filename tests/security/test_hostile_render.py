"""The hostile corpus against the real renderer: every attack ends harmless or refused.

Each reading, listing or writing attack is rendered twice: with the jail off, where it must
leak (so the document really is an attack and its verdict page really works), and through
the jailed render pool, where it must find nothing. No byte of a secret may reach a page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from faxout.render import (
    RefusalReason,
    RenderOptions,
    RenderPool,
    render_document,
    render_submission,
)
from faxout.render.pool import WorkerLimits
from tests.security import hostile

_LETTER = Path(__file__).parents[1] / "render" / "data" / "letter.txt"

SECRET = "CONFIDENTIAL-7f3a9c MEDICAL RECORD"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A data directory as a server keeps it under /tmp, with a database and a document."""
    data = tmp_path / "var"
    (data / "documents").mkdir(parents=True)
    (data / "faxout.db").write_bytes(b"SQLite format 3\x00" + SECRET.encode())
    (data / "documents" / "doc-1").write_text(SECRET)
    return data


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    with RenderPool(workers=1) as warm:
        yield warm


@pytest.fixture
def unjailed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAXOUT_RENDER__SANDBOX", "false")


def _attacks(victim: Path) -> dict[str, bytes]:
    return {
        "read": hostile.reader([victim / "faxout.db", victim / "documents" / "doc-1"]),
        "list": hostile.lister([victim, victim / "documents"]),
        "write": hostile.writer([victim / "planted.txt"]),
        "race": hostile.racer(f"{victim}/documents/*", SECRET, seconds=1),
    }


@pytest.mark.parametrize("attack", ["read", "list", "write", "race"])
def test_without_the_jail_the_attack_works(
    attack: str, victim: Path, tmp_path: Path, unjailed: None
) -> None:
    # The control: Ghostscript's -dSAFER alone lets each of these through under /tmp.
    source = tmp_path / f"{attack}.ps"
    source.write_bytes(_attacks(victim)[attack])
    result = render_document(source, tmp_path / "out.tif")
    assert result.ok
    assert hostile.verdict(tmp_path / "out.tif") == "leaked"


@pytest.mark.parametrize("attack", ["read", "list", "write", "race"])
def test_in_the_jail_the_attack_finds_nothing(
    attack: str, victim: Path, tmp_path: Path, pool: RenderPool
) -> None:
    source = tmp_path / f"{attack}.ps"
    source.write_bytes(_attacks(victim)[attack])
    result = pool.render_submission([source], tmp_path / "out.tif")
    assert result.ok
    assert hostile.verdict(tmp_path / "out.tif") == "harmless"  # it ran, and found nothing
    assert not (victim / "planted.txt").exists()
    assert sorted(p.name for p in victim.iterdir()) == ["documents", "faxout.db"]


def test_the_profile_of_the_warm_libreoffice_is_out_of_reach(
    tmp_path: Path, pool: RenderPool
) -> None:
    # Step one of the code-execution chain: rewrite the worker's LibreOffice profile. The
    # profile now lives inside LibreOffice's own jail; the pristine copy is read-only.
    office = tmp_path / "letter.odt"
    office.write_bytes((Path(__file__).parents[1] / "render" / "data" / "letter.odt").read_bytes())
    assert pool.render_submission([office], tmp_path / "warm.tif").ok  # soffice is running
    targets = [
        Path("/job/lo-pristine/user/registrymodifications.xcu"),
        Path("/lo/pristine/user/registrymodifications.xcu"),
        Path("/tmp/profile/user/registrymodifications.xcu"),
        Path("/job/work/registrymodifications.xcu"),
    ]
    source = tmp_path / "profile.ps"
    source.write_bytes(hostile.writer(targets))
    result = pool.render_submission([source], tmp_path / "out.tif")
    assert result.ok and hostile.verdict(tmp_path / "out.tif") == "harmless"
    assert pool.render_submission([office], tmp_path / "after.tif").ok


def test_an_endless_postscript_loop_is_stopped_at_its_limit(tmp_path: Path) -> None:
    source = tmp_path / "loop.ps"
    source.write_bytes(hostile.endless_loop())
    started = time.monotonic()
    result = render_document(source, tmp_path / "out.tif", RenderOptions(timeout_s=2))
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TIME_LIMIT
    assert time.monotonic() - started < 30  # generous: the limit is 2 s


def test_a_memory_hog_is_stopped_within_its_budget(tmp_path: Path) -> None:
    # Ghostscript is held to its address-space cap (it would take 6.5 GB); the time limit
    # ends it long before its own VMerror would.
    source = tmp_path / "memory.ps"
    source.write_bytes(hostile.memory_hog())
    result = render_document(source, tmp_path / "out.tif", RenderOptions(timeout_s=3))
    assert result.refusal is not None
    assert result.refusal.reason in (RefusalReason.TIME_LIMIT, RefusalReason.CORRUPT)


def test_a_page_kilometres_long_is_refused_without_rendering(tmp_path: Path) -> None:
    source = tmp_path / "huge.pdf"
    source.write_bytes(hostile.huge_page())
    assert len(source.read_bytes()) < 600
    result = render_document(source, tmp_path / "out.tif")
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TOO_LARGE
    assert "200 in" in result.refusal.detail


def test_an_inflation_bomb_is_refused_without_inflating(tmp_path: Path) -> None:
    source = tmp_path / "bomb.pdf"
    source.write_bytes(hostile.inflation_bomb())
    assert source.stat().st_size < 2 * 1024 * 1024  # 1 GiB of pixels in about 1 MB
    result = render_document(source, tmp_path / "out.tif")
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TOO_LARGE
    assert "million pixels" in result.refusal.detail


def test_a_document_past_the_worker_s_memory_cap_is_refused(tmp_path: Path) -> None:
    # 81 million pixels in colour: 240 MB decoded, more than a worker capped at 700 MB of
    # address space (about 400 MB of it code and libraries) may take. The worker survives.
    source = tmp_path / "big.png"
    Image.new("RGB", (9000, 9000), (200, 200, 200)).save(source, compress_level=1)
    with RenderPool(workers=1, limits=WorkerLimits(memory_mb=700)) as pool:
        before = pool.worker_pids()
        result = pool.render_submission([source], tmp_path / "out.tif")
        assert result.refusal is not None and result.refusal.reason is RefusalReason.TOO_LARGE
        assert "memory" in result.refusal.detail
        assert pool.worker_pids() == before
        assert pool.render_submission([_LETTER], tmp_path / "next.tif").ok


def test_many_slow_documents_share_one_submission_budget(tmp_path: Path) -> None:
    # 50 slow attachments used to hold a worker for 50 × the per-document limit.
    documents = []
    for n in range(5):
        source = tmp_path / f"{n:03d}-slow.ps"
        source.write_bytes(hostile.endless_loop())
        documents.append(source)
    options = RenderOptions(timeout_s=2, submission_timeout_s=3)
    with RenderPool(workers=1, grace_s=1) as pool:
        started = time.monotonic()
        result = pool.render_submission(documents, tmp_path / "out.tif", options)
        took = time.monotonic() - started
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TIME_LIMIT
    assert took < 20  # the submission's 3 s, not 5 × 2 s plus waits


def test_the_page_limit_counts_the_whole_submission(tmp_path: Path) -> None:
    documents = []
    for n in range(3):
        source = tmp_path / f"{n:03d}.txt"
        source.write_bytes(b"page\f" * 3)
        documents.append(source)
    result = render_submission(documents, tmp_path / "out.tif", RenderOptions(max_pages=7))
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TOO_MANY_PAGES
    assert "in the submission" in result.refusal.detail
