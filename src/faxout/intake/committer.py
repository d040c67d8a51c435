"""Group commit: many concurrent acceptances share one database transaction and one fsync.

SQLite has one writer at a time, and a writer that finds the lock taken sleeps in growing steps
(its busy handler), so threads each committing their own submission spend most of their time
waiting. Instead, acceptances queue here; one thread takes whatever is waiting (up to
``max_batch``), inserts it all in one transaction and commits once. Each caller is answered only
after that commit returned, so the durability guarantee is unchanged (docs/guarantees.md). If a
batch fails, its submissions are retried one by one, so one bad submission cannot fail others.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from faxout.db.engine import transaction
from faxout.jobs.create import NewSubmission, insert_submissions

log = logging.getLogger("faxout.intake")


@dataclass
class _Pending:
    sub: NewSubmission
    keys: list[str]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[int]


def _settle(item: _Pending, result: int | BaseException) -> None:
    def apply() -> None:
        if item.future.done():
            return
        if isinstance(result, BaseException):
            item.future.set_exception(result)
        else:
            item.future.set_result(result)

    item.loop.call_soon_threadsafe(apply)


class GroupCommitter:
    """Commits submissions in batches on one writer thread."""

    def __init__(self, engine: Engine, max_batch: int = 64) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="faxout-commit", daemon=True)
        self._thread.start()

    async def commit(self, sub: NewSubmission, keys: list[str]) -> int:
        """Insert ``sub`` (documents already durable under ``keys``); the submission id once
        committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._queue.put(_Pending(sub, keys, loop, future))
        return await future

    def close(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with transaction(self._engine) as conn:
                ids = insert_submissions(conn, [(p.sub, p.keys) for p in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exc)
                return
            log.warning("group commit of %d failed (%s); retrying one by one", len(batch), exc)
            for p in batch:
                self._write([p])
            return
        for p, sub_id in zip(batch, ids, strict=True):
            _settle(p, sub_id)
