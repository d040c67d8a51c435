"""Keeping a lease alive while its holder works: one thread that renews it on a period.

A lease (a job's, a line's, a submission's render) expires unless renewed, so a dead worker's
work is reclaimed. Its live holder renews it from this thread every ``period`` seconds while the
``with`` block runs; ``renew`` returns False when the lease was lost, which ends the renewals.
A renewal that breaks (the database is briefly away) is logged and tried at the next period.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping

from faxout.errors import FaxoutError

log = logging.getLogger("faxout.lease")


@contextlib.contextmanager
def heartbeat(
    renew: Callable[[], bool], period: float, *, what: Mapping[str, object]
) -> Iterator[None]:
    """Call ``renew`` every ``period`` seconds until the block ends; ``what`` names the lease
    in the log (``{"job": 7}``)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(period):
            try:
                if not renew():
                    log.warning("lease lost", extra={"fields": what})
                    return
            except FaxoutError:
                log.warning("lease renewal failed; trying again", extra={"fields": what})

    thread = threading.Thread(target=beat, daemon=True, name="faxout-lease")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
