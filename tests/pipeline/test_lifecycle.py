"""The job lifecycle with an injected clock: render once, dispatch, retry by cause, cancel."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from faxout.schedule.dispatcher import settle_submissions
from faxout.transmit.result import Modem
from tests.headerband import band_text
from tests.pipeline.harness import Harness, result


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_sent_at_once_and_rendered_once(h: Harness) -> None:
    sid = h.submit(["5551001", "5551002", "5551003"])
    h.tick()
    assert [j.state for j in h.jobs(sid)] == ["done"] * 3
    sub = h.gw.jobs.get_submission(sid)
    # Every job final: the same dispatcher pass settled the submission, exactly once.
    assert sub is not None and sub.state == "done" and sub.render_count == 1 and sub.pages == 1
    assert settle_submissions(h.gw.engine, h.clock.now()) == []  # exactly once
    assert sorted(s.number for s in h.line.sent) == ["5551001", "5551002", "5551003"]
    attempt = h.gw.jobs.attempts(h.job(sid).id)[0]
    assert (attempt.outcome, attempt.pages_confirmed, attempt.phase) == ("ok", 1, "finished")


def test_busy_retries_after_three_minutes(h: Harness) -> None:
    h.line.answers["5551001"] = [lambda n: result("busy", n)]
    sid = h.submit(["5551001"])
    h.tick()
    job = h.job(sid)
    assert (job.state, job.dials, job.tries) == ("ready", 1, 0)
    assert job.next_attempt_at == h.clock.now() + timedelta(minutes=3)
    h.tick(179)
    assert h.job(sid).state == "ready" and len(h.line.sent) == 1
    h.tick(2)
    job = h.job(sid)
    assert (job.state, job.dials, job.tries) == ("done", 2, 1)


def test_no_answer_retries_after_five_minutes(h: Harness) -> None:
    h.line.answers["5551001"] = [lambda n: result("no_answer", n)]
    sid = h.submit(["5551001"])
    h.tick()
    assert h.job(sid).next_attempt_at == h.clock.now() + timedelta(minutes=5)


def test_t30_failure_resumes_from_first_unconfirmed_page(h: Harness) -> None:
    h.line.answers["5551001"] = [lambda n: result("partial", n, 1, 21)]
    sid = h.submit(["5551001"], cover="default")  # cover + 1 document page
    h.tick()
    job = h.job(sid)
    assert (job.state, job.resume_page, job.pages_confirmed) == ("ready", 2, 1)
    assert job.next_attempt_at == h.clock.now() + timedelta(minutes=1)
    h.tick(61)
    first, second = h.line.sent
    assert (first.pages, second.pages) == (2, 1)
    # The resumed call's first page keeps its number in the fax, and says it is a resumption.
    assert "Page 1 of 2" in band_text(first.first, first.lpi)
    assert "Page 2 of 2, resumed at page 2" in band_text(second.first, second.lpi)
    job = h.job(sid)
    assert (job.state, job.pages_confirmed, job.tries) == ("done", 2, 2)


@pytest.mark.parametrize(("modem", "outcome"), [("v17", "partial"), ("v17", "failed")])
def test_a_broken_v17_call_is_retried_without_v17(h: Harness, modem: str, outcome: str) -> None:
    broken = dataclasses.replace(result(outcome, 3, 1, 15), modem=modem)
    h.line.answers["5551001"] = [lambda n: broken, lambda n: result("busy", n)]
    sid = h.submit(["5551001"])
    h.tick()
    h.tick(61)
    h.tick(181)
    first, second, third = h.line.sent
    assert Modem.V17 in first.modems
    assert second.modems == (Modem.V29, Modem.V27TER)  # stepped down, as HylaFAX does
    assert Modem.V17 in third.modems  # a busy line says nothing about the modem
    assert h.job(sid).state == "done"


@pytest.mark.parametrize("outcome", ["not_fax", "rejected"])
def test_permanent_outcomes_fail_at_once(h: Harness, outcome: str) -> None:
    h.line.answers["5551001"] = [lambda n: result(outcome, n, 0, 9)]
    sid = h.submit(["5551001"])
    h.tick()
    job = h.job(sid)
    assert job.state == "failed" and job.dials == 1
    h.tick(3600)
    assert len(h.line.sent) == 1


def test_max_tries_fails_with_the_limit_named(h: Harness) -> None:
    h.line.answers["5551001"] = [lambda n: result("failed", n, 0, 40)] * 3
    sid = h.submit(["5551001"])
    for _ in range(3):
        h.tick(61)
    job = h.job(sid)
    assert job.state == "failed" and "max tries" in job.reason and job.tries == 3


def test_future_send_time_waits_in_sql(h: Harness) -> None:
    sid = h.submit(["5551001"], send_at=h.clock.now() + timedelta(days=2))
    h.tick()
    assert h.job(sid).state == "ready" and h.line.sent == []
    h.tick(2 * 86400 - 10)
    assert h.job(sid).state == "ready"
    h.tick(11)
    assert h.job(sid).state == "done"


def test_kill_time_fails_a_job_that_kept_failing(h: Harness) -> None:
    h.line.answers["5551001"] = [lambda n: result("busy", n)] * 20
    sid = h.submit(["5551001"])
    for _ in range(60):
        h.tick(181)
    job = h.job(sid)
    assert job.state == "failed"
    assert "max dials" in job.reason or "kill time" in job.reason


def test_cancel_before_dialling(h: Harness) -> None:
    sid = h.submit(["5551001", "5551002"], send_at=h.clock.now() + timedelta(hours=1))
    h.tick()
    result_ = h.pipeline.lifecycle.cancel(h.clock.now(), submission_id=sid)
    assert len(result_.canceled) == 2 and result_.refused == []
    h.tick(7200)
    assert [j.state for j in h.jobs(sid)] == ["canceled", "canceled"] and h.line.sent == []


def test_render_failure_names_the_document(h: Harness) -> None:
    sid = h.submit(
        ["5551001"], document=b"%PDF-1.4\nthis is not really a pdf", filename="invoice.pdf"
    )
    h.tick()
    sub = h.gw.jobs.get_submission(sid)
    assert sub is not None and sub.state == "render_failed"
    assert sub.render_error is not None and "invoice.pdf" in sub.render_error
    assert h.job(sid).state == "render_failed" and h.line.sent == []


def test_stale_message_does_nothing(h: Harness) -> None:
    sid = h.submit(["5551001"])
    h.tick()
    job_id = h.job(sid).id
    h.pipeline.runner.run(job_id)  # a duplicate transmit message for a finished job
    h.pipeline.renderer.run(sid)  # and a duplicate render message
    assert len(h.line.sent) == 1
    sub = h.gw.jobs.get_submission(sid)
    assert sub is not None and sub.render_count == 1


def test_dead_worker_mid_call_is_interrupted_not_redialled(h: Harness) -> None:
    sid = h.submit(["5551001"], send_at=h.clock.now() + timedelta(seconds=10))
    h.tick()  # rendered, waiting for its send time
    h.queue.stop()  # keep the transmit message from running
    h.tick(11)
    job_id = h.job(sid).id
    claim = h.pipeline.runner.claim(job_id)
    assert claim is not None and h.pipeline.runner.mark_dialing(claim)
    # The worker dies here: its lease runs out.
    h.clock.advance(h.gw.settings.transmit.lease_seconds + 1)
    done = h.pipeline.reconciler.run_once(h.clock.now())
    assert done.interrupted == 1 and done.lines_freed == 1
    job = h.job(sid)
    assert job.state == "interrupted" and "may or may not" in job.reason
    h.queue.start()
    h.tick(3600)
    assert h.job(sid).state == "interrupted" and h.line.sent == []


def test_dead_worker_before_dialling_is_sent_again(h: Harness) -> None:
    sid = h.submit(["5551001"], send_at=h.clock.now() + timedelta(seconds=10))
    h.tick()
    h.queue.stop()
    h.tick(11)
    assert h.pipeline.runner.claim(h.job(sid).id) is not None
    h.clock.advance(h.gw.settings.transmit.lease_seconds + 1)
    assert h.pipeline.reconciler.run_once(h.clock.now()).released_claims == 1
    h.queue.start()
    h.tick()
    assert h.job(sid).state == "done" and len(h.line.sent) == 1


def test_one_report_when_the_last_job_is_final(h: Harness, tmp_path: Path) -> None:
    from faxout.report.status import report_status

    h.line.answers["5551002"] = [lambda n: result("busy", n)]
    sid = h.submit(["5551001", "5551002"])
    h.tick()
    assert report_status(h.gw.engine, sid) == []  # one job still has retries ahead
    h.line.answers["5551002"] = [lambda n: result("rejected", n, 0, 9)]
    h.tick(181)
    h.tick()
    (view,) = report_status(h.gw.engine, sid)
    assert view.kind == "final"
    h.pipeline.reports.outbox.run_once(h.clock.now())
    mails = list((tmp_path / "outbox" / "new").glob("*.eml"))
    assert len(mails) == 1
    assert "Subject: Fax to 2 recipients: 1 delivered, 1 failed" in mails[0].read_text()


def test_the_line_dials_by_its_dial_rules_and_the_job_keeps_e164(tmp_path: Path) -> None:
    h = Harness(tmp_path, dial={"country": "US", "outside_line": "9"})
    sid = h.submit(["+442079460000", "+13125550100"])
    h.tick()
    assert sorted(s.number for s in h.line.sent) == ["9011442079460000", "913125550100"]
    assert sorted(j.number for j in h.jobs(sid)) == ["+13125550100", "+442079460000"]


def test_the_report_writes_numbers_the_way_people_do(h: Harness, tmp_path: Path) -> None:
    import email

    sid = h.submit(["+442079460000"])
    h.tick()
    assert h.job(sid).state == "done"
    h.pipeline.reports.outbox.run_once(h.clock.now())
    (mail,) = (tmp_path / "outbox" / "new").glob("*.eml")
    msg = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Fax to +44 20 7946 0000: delivered (1 page)"
    text = msg.get_body(("plain",))
    assert text is not None and "+44 20 7946 0000" in text.get_content()
    assert "+442079460000" not in text.get_content()


def test_a_freed_line_goes_straight_to_the_next_due_job(tmp_path: Path) -> None:
    # One line, three recipients: one dispatcher pass queues one job (one free line); the
    # consumer that ran it hands the line it frees to the next due job itself, in due order,
    # rather than waiting for the dispatcher's next pass.
    h = Harness(tmp_path, lines=1)
    sid = h.submit(["5551011", "5551012", "5551013"])
    h.tick()
    assert [j.state for j in h.jobs(sid)] == ["done"] * 3
    assert [s.number for s in h.line.sent] == ["5551011", "5551012", "5551013"]
    assert [len(h.gw.jobs.attempts(j.id)) for j in h.jobs(sid)] == [1, 1, 1]  # once each


def test_a_freed_line_is_not_handed_to_a_job_not_yet_due(tmp_path: Path) -> None:
    h = Harness(tmp_path, lines=1)
    now = h.submit(["5551021"])
    later = h.submit(["5551022"], send_at=h.clock.now() + timedelta(hours=1))
    h.tick()
    assert h.job(now).state == "done"
    assert h.job(later).state == "ready" and [s.number for s in h.line.sent] == ["5551021"]
