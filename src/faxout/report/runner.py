"""The outbox's own thread: a pass every ``report.interval`` seconds, or at once when poked.
Each pass delivers the due reports, then the due mails of received faxes (fax-to-email, which
runs whether or not reports are enabled).

It runs apart from the dispatcher because a relay that is slow to answer (timeouts of tens of
seconds) must not hold up faxes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.periodic import Periodic
from faxout.report.inboundmail import InboundMailbox
from faxout.report.mailer import Mailer, open_mailer
from faxout.report.outbox import Outbox
from faxout.report.settings import Report

log = logging.getLogger("faxout.report")


class ReportRunner:
    """``start``/``poke``/``stop`` around ``Outbox.run_once``."""

    def __init__(
        self,
        outbox: Outbox,
        interval: float | None = None,
        inbound: InboundMailbox | None = None,
    ) -> None:
        self.outbox = outbox
        self.inbound = inbound
        self._loop = Periodic(
            "faxout-reports", self._pass, interval or outbox.settings.interval, self._failed
        )

    def start(self) -> None:
        """Start the thread (a no-op when reports are disabled and no fax is mailed)."""
        if self.outbox.settings.enabled or self.inbound is not None:
            self._loop.start()

    def poke(self, submission_id: int | None = None) -> None:
        """A job changed: queue the submission's report if it is complete, and run a pass now."""
        if submission_id is not None:
            try:
                self.outbox.submission_changed(submission_id)
            except Exception:
                log.exception("could not queue the report of submission %s", submission_id)
        self._loop.wake()

    def poke_job(self, job_id: int) -> None:
        """``poke`` for the submission of ``job_id`` (after a transmit task)."""
        try:
            self.outbox.job_changed(job_id)
        except Exception:
            log.exception("could not queue the report for job %s", job_id)
        self._loop.wake()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current pass."""
        self._loop.stop(timeout)

    def _pass(self) -> None:
        done = self.outbox.run_once(self.outbox.clock.now())
        if done.sent or done.failed or done.deferred:
            log.info("reports: %s", done)
        if self.inbound is not None:
            mailed = self.inbound.deliver_pending(self.inbound.clock.now())
            if mailed.sent or mailed.failed or mailed.deferred:
                log.info("received-fax mails: %s", mailed)

    def _failed(self, _exc: Exception) -> None:
        log.exception("report pass failed; trying again")


def report_runner(
    engine: Engine,
    store: BlobStore,
    settings: Report,
    *,
    data_dir: Path,
    clock: Clock,
    worker: str = "report",
    mailer: Mailer | None = None,
    console_url: str = "",
) -> ReportRunner:
    """The runner for ``settings``: the relay it names, or the Maildir ``DATA_DIR/outbox``;
    received faxes go out through the same relay (``console_url``: for privacy-mode links)."""
    mailer = mailer or open_mailer(settings.smtp, data_dir)
    outbox = Outbox(engine, store, settings, mailer, clock=clock, worker=worker)
    inbound = InboundMailbox(
        engine, store, settings, mailer, clock=clock, worker=worker, console_url=console_url
    )
    return ReportRunner(outbox, inbound=inbound)
