"""The background pipeline of one process, wired: task consumers, the dispatcher (with the
reconciler), the report runner and the hourly retention pass. What each does is in its own
package; this module only connects them.

``faxout serve`` runs it inside the HTTP process (the embedded default: no other service);
``faxout worker`` runs consumers only and ``faxout dispatch`` the dispatcher only, for the
distributed topology (docs/deployment.md). The task queue carries ids; every task reloads its
row and moves it by compare-and-set, so a duplicate or late message does nothing.
"""

from __future__ import annotations

import logging
import queue
import threading

from faxout.inbound.retention import Retention
from faxout.jobs.lifecycle import Lifecycle
from faxout.ops.gateway import Gateway
from faxout.ops.receivers import Receivers
from faxout.periodic import Periodic
from faxout.render.stage import Ran, RenderStage
from faxout.report.runner import report_runner
from faxout.sandbox import jail, workspace
from faxout.schedule.dispatcher import RENDER, TRANSMIT, Dispatcher, Timing
from faxout.schedule.lines import sync_lines
from faxout.schedule.reconciler import Reconciler, worker_id
from faxout.taskqueue.huey_queue import open_queue
from faxout.taskqueue.port import TaskQueue
from faxout.transmit import stamper
from faxout.transmit.attempt import AttemptRunner
from faxout.transmit.behaviour import BehaviourTable
from faxout.transmit.hylafax import HylaFaxTransport
from faxout.transmit.pages import HeaderStyle
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport
from faxout.transmit.transport import FaxTransport
from faxout.webhooks.outbox import WebhookOutbox
from faxout.webhooks.runner import WebhookRunner

log = logging.getLogger("faxout.runtime")
DEFERRED_RENDER_SECONDS = 1.0  # a submission whose account has its share of the workers
RETENTION_SECONDS = 3600.0  # retention is counted in days: an hour late is on time


def simline_transport(gw: Gateway) -> SimLineTransport:
    """The embedded transport: the simulated line with its virtual fax machines."""
    medium = Medium.T38 if gw.settings.transmit.medium == "t38" else Medium.AUDIO
    return SimLineTransport(
        SimLineConfig(data_dir=gw.settings.data_dir, medium=medium, behaviours=BehaviourTable()),
        clock=gw.clock,
    )


def make_transport(gw: Gateway) -> FaxTransport:
    """The configured transport: the simulated line (default), HylaFAX's modems or SIP."""
    if gw.settings.transmit.transport == "hylafax":
        return HylaFaxTransport(gw.settings.transmit.hylafax)
    if gw.settings.transmit.transport == "sip":
        from faxout.transmit.sip.transport import SipTransport

        return SipTransport(gw.settings.transmit.sip)
    return simline_transport(gw)


class Pipeline:
    """Consumers + dispatcher + reconciler for one process; ``start``/``stop``."""

    def __init__(
        self,
        gw: Gateway,
        *,
        queue: TaskQueue | None = None,
        transport: FaxTransport | None = None,
        consumers: bool = True,
        dispatcher: bool = True,
        dispatch_on_release: bool = False,
    ) -> None:
        self.gw = gw
        s = gw.settings
        jail.set_enabled(s.render.sandbox)
        workspace.configure(s.data_dir / "run")  # private work dirs; a crashed run's removed
        self.queue = queue or open_queue(s.queue)
        self.lifecycle = Lifecycle(gw.engine, s.retry.kill_time)
        self.reconciler = Reconciler(gw.engine, redial_on_unknown=s.transmit.redial_on_unknown)
        self.dispatcher = Dispatcher(
            gw.engine,
            self.queue,
            self.reconciler,
            gw.clock,
            transport=s.transmit.transport,
            timing=Timing(
                s.runtime.dispatch_interval,
                s.runtime.reconcile_interval,
                s.runtime.requeue_after,
            ),
            on_settled=self.on_settled,
        )
        self._consumers = consumers
        self._dispatcher = dispatcher
        self._dispatch_on_release = dispatch_on_release
        self.transport = transport or make_transport(gw)
        self.runner = AttemptRunner(
            gw.engine,
            gw.store,
            self.transport,
            transport_name=s.transmit.transport,
            worker=worker_id("transmit"),
            clock=gw.clock,
            policy=s.retry,
            lease_seconds=s.transmit.lease_seconds,
            per_number=s.transmit.per_number_calls,
            ident=s.transmit.ident,
            header=HeaderStyle(s.header.enabled, s.header.format, s.header.time_zone),
            dial=s.transmit.dial,
        )
        self.renderer = RenderStage(
            gw.engine,
            gw.store,
            self.lifecycle,
            gw.clock,
            worker=worker_id("render"),
            coverpages_dir=s.coverpages_path,
            render_workers=s.runtime.render_workers,
            options=s.render.options(),
            limits=s.render.worker_limits(),
            warm_up=s.render.warm_up_steps(),
        )
        self.reports = report_runner(
            gw.engine,
            gw.store,
            s.report,
            data_dir=s.data_dir,
            clock=gw.clock,
            worker=worker_id("report"),
            console_url=s.console_base,
        )
        self.webhooks = WebhookRunner(
            WebhookOutbox(gw.engine, s.webhooks, clock=gw.clock, worker=worker_id("webhooks"))
        )
        self.receivers = Receivers(gw, on_final=self._received)
        self.purge = Retention(gw.engine, gw.store, gw.clock, default_days=s.inbound.retention_days)
        self._stopping = threading.Event()  # ends a retention pass at its next batch
        self._draining = threading.Event()  # a stopping consumer takes no new call
        self.retention = Periodic(
            "retention",
            self._retain,
            RETENTION_SECONDS,
            lambda exc: log.error("retention pass failed; next in an hour", exc_info=exc),
        )
        self.queue.register(RENDER, self._render)
        self.queue.register(TRANSMIT, self._transmit)

    def _received(self, _fax: object) -> None:
        # its mail and its webhook events are queued: send them now, not at the next pass
        self.reports.poke()
        self.webhooks.poke()

    def _retain(self) -> None:
        self.purge.run(stop=self._stopping.is_set)  # it logs what it removed, audits each item

    def _render(self, submission_id: int) -> None:
        if self.renderer.run(submission_id) is Ran.DEFERRED:
            # Offer it again at the dispatcher's next pass after a short wait, not in 60 s.
            self.dispatcher.offer_render_again(submission_id, DEFERRED_RENDER_SECONDS)
            return
        self.reports.poke(submission_id)  # a render failure is reported at once
        self.webhooks.poke()
        self.poke()  # its jobs may be due now

    def _transmit(self, job_id: int) -> None:
        # The line this call frees goes straight to the next due job, in this thread: through
        # the dispatcher and the task queue, each freed line idled 85-225 ms before its next
        # call (bench/burst.py). Only when nothing is handed over is the dispatcher woken.
        running: int | None = job_id
        while running is not None:
            try:
                self.runner.run(running)
            except BaseException:
                self.poke()
                raise
            self.reports.poke_job(running)
            self.webhooks.poke()
            running = None if self._draining.is_set() else self._hand_over()
        self.poke()

    def _hand_over(self) -> int | None:
        try:
            return self.dispatcher.take_due()
        except Exception:
            log.exception("handing the freed line over failed; the dispatcher will do it")
            return None

    def poke(self) -> None:
        """Something changed (a submission accepted, a line freed): dispatch now.

        With ``dispatch_on_release`` (``faxout worker``: the dispatcher runs in another process)
        this process queues due jobs itself, so a freed line is used at once rather than at the
        dispatcher's next pass.
        """
        self.dispatcher.wake()
        if self._dispatch_on_release:
            try:
                self.dispatcher.queue_due()
            except Exception:
                log.exception("dispatch after a freed line failed; the dispatcher will do it")

    def _warm_stamper(self) -> None:
        try:
            stamper.shared().start()
        except Exception:  # the first call will meet the same trouble and report it
            log.exception("the page stamper did not start")

    def start(self) -> None:
        """Start the consumer threads and the dispatcher thread."""
        s = self.gw.settings
        sync_lines(self.gw.engine, s.transmit.transport, s.transmit.line_count())
        if self._consumers:
            self.renderer.start()  # the jailed workers warm up now, not at the first fax
            threading.Thread(target=self._warm_stamper, name="faxout-stamper", daemon=True).start()
            threads = s.runtime.consumer_threads or s.transmit.line_count() + 2
            self.queue.start(workers=threads)
        if self._dispatcher:
            self.dispatcher.start()
            self.reports.start()
            self.webhooks.start()
            self.receivers.start()
            self.retention.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop dispatching, let running tasks finish (up to ``timeout``), close the queue."""
        self._draining.set()
        if self._dispatcher:
            self._stopping.set()
            self.retention.stop(timeout)
            self.receivers.stop()
            self.dispatcher.stop(timeout)
            self.reports.stop(timeout)
            self.webhooks.stop(timeout)
        if self._consumers:
            self.queue.stop(timeout)
        self.queue.close()
        self.renderer.close()
        stamper.shared().close()

    def dispatch_once(self) -> int:
        """One dispatcher pass (tests step the pipeline with it)."""
        return self.dispatcher.dispatch_once()

    def accepted(self, submission_id: int) -> None:
        """A submission was committed by this process's HTTP intake: dispatch now."""
        self.webhooks.poke()  # its fax.queued
        self.poke()

    def on_settled(self, submission_id: int) -> None:
        """Every job of the submission is final (done, failed, interrupted, canceled)."""
        self.reports.poke(submission_id)


class ApiNode:
    """What runs beside the HTTP intake of ``faxout serve --no-workers``: no pipeline, only a
    handle on the task queue, so a new submission is enqueued for rendering at once instead of
    waiting for the dispatcher's next pass in another process. (A render message the
    dispatcher sends as well is harmless: the render claim is a compare-and-set.)

    The enqueue is a broker write (a commit, an fsync on the embedded queue) that the request
    must not wait for: ``accepted`` runs on the server's event loop, so it only hands the id
    to a thread of this node's, which writes it. An id that thread never writes (a crash, a
    broker outage) only waits for the dispatcher's next pass: the submission is committed."""

    def __init__(self, gw: Gateway) -> None:
        self._url = gw.settings.queue
        self._queue: TaskQueue | None = None
        self._waiting: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open the task queue and start the thread that writes to it."""
        self._queue = open_queue(self._url)
        # Huey sends only tasks it knows; this process never consumes them (workers do).
        self._queue.register(RENDER, _consumed_elsewhere)
        self._thread = threading.Thread(target=self._enqueue, name="faxout-enqueue", daemon=True)
        self._thread.start()

    def accepted(self, submission_id: int) -> None:
        """Have ``submission_id`` enqueued for rendering, without waiting for the broker."""
        if self._thread is not None:
            self._waiting.put(submission_id)

    def _enqueue(self) -> None:
        while (submission_id := self._waiting.get()) is not None:
            if self._queue is None:
                continue
            try:
                self._queue.enqueue(RENDER, submission_id)
            except Exception:
                log.warning(
                    "could not enqueue the render; the dispatcher will",
                    extra={"fields": {"submission": submission_id}},
                    exc_info=True,
                )

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is waiting (up to ``timeout``), then close the task queue."""
        if self._thread is not None:
            self._waiting.put(None)
            self._thread.join(timeout)
            self._thread = None
        if self._queue is not None:
            self._queue.close()
            self._queue = None


def _consumed_elsewhere(item_id: int) -> None:
    raise RuntimeError(f"an API node does not run tasks (got {item_id})")
