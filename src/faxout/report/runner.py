"""The outbox's own thread: a pass every ``report.interval`` seconds, or at once when poked.

It runs apart from the dispatcher because a relay that is slow to answer (timeouts of tens of
seconds) must not hold up faxes.
"""

from __future__ import annotations

import logging
import threading

from faxout.ops.gateway import Gateway
from faxout.report.mailer import Mailer, open_mailer
from faxout.report.outbox import Outbox
from faxout.report.settings import Report

log = logging.getLogger("faxout.report")


class ReportRunner:
    """``start``/``poke``/``stop`` around ``Outbox.run_once``."""

    def __init__(self, outbox: Outbox, interval: float | None = None) -> None:
        self.outbox = outbox
        self._interval = interval or outbox.settings.interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (a no-op when reports are disabled)."""
        if not self.outbox.settings.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="faxout-reports", daemon=True)
        self._thread.start()

    def poke(self, submission_id: int | None = None) -> None:
        """A job changed: queue the submission's report if it is complete, and run a pass now."""
        if submission_id is not None:
            try:
                self.outbox.submission_changed(submission_id)
            except Exception:
                log.exception("could not queue the report of submission %s", submission_id)
        self._wake.set()

    def poke_job(self, job_id: int) -> None:
        """``poke`` for the submission of ``job_id`` (after a transmit task)."""
        try:
            self.outbox.job_changed(job_id)
        except Exception:
            log.exception("could not queue the report for job %s", job_id)
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current pass."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                done = self.outbox.run_once(self.outbox.clock.now())
                if done.sent or done.failed or done.deferred:
                    log.info("reports: %s", done)
            except Exception:
                log.exception("report pass failed; trying again")
            self._wake.wait(self._interval)


def report_runner(
    gw: Gateway, *, worker: str = "report", mailer: Mailer | None = None
) -> ReportRunner:
    """The runner for a gateway: ``settings.report`` (defaults until the main settings carry
    it), the relay it names or the Maildir ``DATA_DIR/outbox``."""
    settings = getattr(gw.settings, "report", None)
    if not isinstance(settings, Report):
        settings = Report()
    outbox = Outbox(
        gw.engine,
        gw.store,
        settings,
        mailer or open_mailer(settings.smtp, gw.settings.data_dir),
        clock=gw.clock,
        worker=worker,
    )
    return ReportRunner(outbox)
