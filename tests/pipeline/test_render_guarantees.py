"""The render stage's guarantees: always settled, never rendered twice at once, fair."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from faxout.jobs.lifecycle import Lifecycle
from faxout.render.options import RenderOptions
from faxout.render.stage import Ran, RenderStage
from faxout.schedule.reconciler import Reconciler
from tests.pipeline.harness import Harness
from tests.security import hostile


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_an_exception_recording_the_render_still_settles_the_submission(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a send time in year 9999 once did: finish_render overflowed and the submission
    # stayed "rendering" forever, re-rendered after every lease expiry, with no report.
    def overflow(*args: object, **kwargs: object) -> bool:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(h.pipeline.lifecycle, "finish_render", overflow)
    sid = h.submit(["5551001"])
    h.tick()
    sub = h.gw.jobs.get_submission(sid)
    assert sub is not None and sub.state == "render_failed"
    assert sub.render_error is not None and "internal error" in sub.render_error
    assert h.job(sid).state == "render_failed"


def test_an_unexpected_renderer_exception_settles_the_submission(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise ValueError("a bug")

    monkeypatch.setattr(h.pipeline.renderer.pool(), "render_submission", broken)
    sid = h.submit(["5551001"])
    h.tick()
    sub = h.gw.jobs.get_submission(sid)
    assert sub is not None and sub.state == "render_failed"


@pytest.mark.parametrize("heartbeat", [True, False])
def test_a_slow_render_keeps_its_lease(
    h: Harness, monkeypatch: pytest.MonkeyPatch, heartbeat: bool
) -> None:
    # The 600 s lease was never renewed: a slow submission was reclaimed and rendered twice
    # at once. Now a live render renews its lease; without the heartbeat it would be lost.
    lifecycle = Lifecycle(h.gw.engine, h.gw.settings.retry.kill_time)
    if not heartbeat:
        monkeypatch.setattr(lifecycle, "renew_render", lambda *a, **k: True)
    stage = RenderStage(
        h.gw.engine,
        h.gw.store,
        lifecycle,
        h.clock,
        worker="render-test",
        coverpages_dir=h.gw.settings.coverpages_path,
        lease_seconds=0.8,
        render_workers=1,
        options=RenderOptions(timeout_s=2.5),
    )
    reconciler = Reconciler(h.gw.engine, redial_on_unknown=False)
    try:
        sid = h.submit(["5551001"], document=hostile.endless_loop(), filename="slow.ps")
        rendering = threading.Thread(target=stage.run, args=(sid,))
        rendering.start()
        restarted = 0
        while rendering.is_alive():
            rendering.join(0.1)
            h.clock.advance(0.1)  # the clock runs with the render, as a real one would
            restarted += reconciler.run_once(h.clock.now()).renders_restarted
        sub = h.gw.jobs.get_submission(sid)
        assert sub is not None
        if heartbeat:
            assert restarted == 0 and sub.state == "render_failed"  # its own time limit
        else:
            assert restarted >= 1  # the control: the lease expired under the render
    finally:
        stage.close()


def test_one_account_never_holds_every_worker(h: Harness) -> None:
    stage = h.pipeline.renderer
    share = max(1, stage.pool().size - 1)
    sids = [h.submit(["5551001"]) for _ in range(share + 1)]
    account = h.account.id
    stage._active[account] = share  # its share is busy rendering
    try:
        assert stage.run(sids[0]) is Ran.DEFERRED
        sub = h.gw.jobs.get_submission(sids[0])
        assert sub is not None and sub.state == "accepted"  # unclaimed: offered again later
    finally:
        del stage._active[account]
    assert stage.run(sids[0]) is Ran.RENDERED


def test_the_sender_reads_words_and_the_operator_reads_the_converter(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Ghostscript's own output ("**** Error: …", "Unrecoverable error") used to reach the report.
    caplog.set_level("WARNING", logger="faxout.render")
    sid = h.submit(["5551001"], document=b"%!PS\n1 0 div\n", filename="scan.ps")
    h.tick()
    sub = h.gw.jobs.get_submission(sid)
    assert sub is not None and sub.state == "render_failed" and sub.render_error is not None
    assert sub.render_error.startswith("scan.ps could not be rendered: corrupt: ")
    for raw in ("Error", "Ghostscript", "undefinedresult", "stack", "001-", "****"):
        assert raw not in sub.render_error
    logged = [r for r in caplog.records if r.getMessage().startswith("document refused")]
    assert logged and "undefinedresult" in str(logged[0].__dict__["fields"]["diagnostic"])
    # ... and `faxout jobs show` gives the operator the converter's own words.
    assert (
        sub.render_diagnostic.startswith("scan.ps: ") and "undefinedresult" in sub.render_diagnostic
    )


def test_warnings_name_the_sender_s_own_file(h: Harness) -> None:
    sid = h.submit(["5551001"], text="first page\f\fthird page\n", filename="memo.txt")
    h.tick()
    sub = h.gw.jobs.get_submission(sid)
    assert sub is not None and sub.render_warnings
    assert any(w.startswith("memo.txt page 2: blank page") for w in sub.render_warnings)
    assert not any("001-" in w for w in sub.render_warnings)


def test_a_broken_operator_cover_falls_back_to_the_default(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # The operator's typo used to fail the sender's fax with "fix or replace the document".
    covers = h.gw.settings.coverpages_path
    covers.mkdir(parents=True, exist_ok=True)
    (covers / "Office.html").write_text("<h1>{{ recipient_nmae }}</h1>")
    caplog.set_level("ERROR", logger="faxout.render")
    sid = h.submit(["5551001", "5551002"], cover="Office")
    h.tick()
    sub = h.gw.jobs.get_submission(sid)
    assert sub is not None and sub.state == "done"
    assert [j.state for j in h.jobs(sid)] == ["done", "done"]
    assert sub.render_warnings is not None
    notes = [w for w in sub.render_warnings if "'Office' could not be used" in w]
    assert len(notes) == 1 and "Default cover page was sent" in notes[0]
    assert all(s.pages == 2 for s in h.line.sent)  # cover + the page, for both recipients
    assert any("cover page 'Office' is broken" in r.getMessage() for r in caplog.records)
