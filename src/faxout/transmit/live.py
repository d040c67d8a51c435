"""A call's live progress, from the call's thread to the database without ever blocking it.

The transport reports ``CallProgress`` on the thread that runs the call (for spandsp, the thread
that feeds it audio or packets), where a database write would stall the line. ``LiveProgress``
is that thread's sink: it folds each event into a small snapshot under a lock and wakes a writer
thread, which records the newest snapshot with ``record``. A writer that falls behind (a slow
database) skips the snapshots in between, never queues them; confirmed pages are counts, so
nothing is lost by skipping. When the call ends the last snapshot is recorded before the
attempt finishes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType

from faxout.errors import FaxoutError
from faxout.transmit.result import CallProgress
from faxout.transmit.transport import ProgressSink

log = logging.getLogger("faxout.transmit")
RETRY_SECONDS = 5.0  # a write the database refused is tried again this soon


@dataclass(frozen=True)
class Snapshot:
    """Where a call is, counted in this call's document: pages confirmed (MCF), the page on
    the line (0 before the first), and the pages to send."""

    pages_confirmed: int = 0
    page_now: int = 0
    pages_total: int = 0


class LiveProgress:
    """The sink for one call: ``live(event)`` on the call's thread, ``with live:`` around it.

    ``record(snapshot)`` runs on the writer thread and returns False when the call is no longer
    ours to record (the job moved on); writing then stops. ``forward`` also gets every event,
    on the call's thread (the caller's own display).
    """

    def __init__(
        self,
        record: Callable[[Snapshot], bool],
        forward: ProgressSink = lambda _p: None,
        *,
        what: dict[str, object] | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._record = record
        self._forward = forward
        self._what = what or {}
        self._retry = retry_seconds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._now = Snapshot()
        self._pending: Snapshot | None = None
        self._verdicts: dict[int, str] = {}  # page -> its last verdict (a resent page's counts)
        self._stopping = False
        self._given_up = False
        self._thread: threading.Thread | None = None

    # -- the call's thread ----------------------------------------------------------------

    def __call__(self, event: CallProgress) -> None:
        """Fold ``event`` into the snapshot; never blocks beyond a short lock."""
        with self._lock:
            snap = self._now
            if event.pages:
                snap = replace(snap, pages_total=event.pages)
            if event.stage == "sending" and event.page:
                snap = replace(snap, page_now=event.page)
            elif event.stage == "page" and event.page and event.verdict:
                self._verdicts[event.page] = event.verdict
                confirmed = sum(1 for v in self._verdicts.values() if v == "MCF")
                snap = replace(snap, pages_confirmed=confirmed)
            if snap != self._now:
                self._now = self._pending = snap
                self._wake.set()
        self._forward(event)

    # -- the writer thread ----------------------------------------------------------------

    def drain(self) -> bool:
        """Record the newest snapshot not recorded yet. False when a write failed and should be
        tried again (the snapshot stays pending unless a newer one came meanwhile)."""
        with self._lock:
            snap, self._pending = self._pending, None
            self._wake.clear()
        if snap is None or self._given_up:
            return True
        try:
            if not self._record(snap):
                self._given_up = True  # the job moved on: nothing more is ours to write
            return True
        except FaxoutError:
            log.warning("call progress not recorded; trying again", extra={"fields": self._what})
            with self._lock:
                if self._pending is None:
                    self._pending = snap
            return False

    def _run(self) -> None:
        failed = False
        while True:
            if not self._stopping:  # read first: a stop may come while the drain below runs
                self._wake.wait(self._retry if failed else None)
            stopping = self._stopping
            failed = not self.drain()
            if stopping or self._given_up:
                return

    def __enter__(self) -> LiveProgress:
        self._thread = threading.Thread(target=self._run, daemon=True, name="faxout-progress")
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Record what is pending (one try), then stop the writer."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
