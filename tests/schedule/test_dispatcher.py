"""The dispatch loop's step under an outage: logged once when it starts, once if its cause
changes, once when it ends, never a traceback per pass."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faxout.clock import FrozenClock
from faxout.db.engine import make_engine
from faxout.db.migrate import upgrade
from faxout.errors import DatabaseError
from faxout.schedule.dispatcher import Dispatcher
from faxout.schedule.reconciler import Reconciled, Reconciler
from faxout.taskqueue.huey_queue import open_queue


class FlakyReconciler(Reconciler):
    """Fails with the scripted errors, then works."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors

    def run_once(self, now: datetime) -> Reconciled:
        if self.errors:
            raise self.errors.pop(0)
        return Reconciled()


def test_an_outage_is_logged_once_per_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'faxout.db'}")
    upgrade(engine)
    down = DatabaseError("database error: OperationalError: connection refused")
    other = DatabaseError("database error: OperationalError: timeout")
    reconciler = FlakyReconciler([down] * 5 + [other] * 3)
    queue = open_queue(f"sqlite:///{tmp_path / 'queue.db'}")
    clock = FrozenClock(datetime(2026, 12, 1, tzinfo=UTC))
    dispatcher = Dispatcher(engine, queue, reconciler, clock, transport="simline")
    caplog.set_level(logging.INFO, logger="faxout.dispatch")
    try:
        for _ in range(10):
            dispatcher.step()
            clock.advance(10)  # past reconcile_interval: a reconciler pass at every step
    finally:
        queue.close()
        engine.dispose()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0][0] == "ERROR" and "trying again" in lines[0][1]
    assert caplog.records[0].exc_info is not None  # the first one carries the traceback
    assert lines[1] == ("ERROR", f"dispatcher still failing, now: DatabaseError: {other}")
    assert lines[2] == ("INFO", f"dispatcher working again after: DatabaseError: {other}")
