"""One contract, every ``TaskQueue``: Inline, SqliteHuey, RedisHuey (huey's StorageTests pattern).

Each backend class supplies ``open_queue()``: a fresh queue object on the same broker (for
SQLite the same file, for Redis the same server and queue name), so "re-open" means what a
process restart means for that backend.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from faxout.taskqueue import (
    InlineTaskQueue,
    TaskQueue,
    UnknownTaskError,
    open_queue,
)
from tests.taskqueue.conftest import wait_for

Opener = Callable[[], TaskQueue]


class Recorder:
    """Thread-safe record of (task, id) runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: collections.Counter[tuple[str, int]] = collections.Counter()
        self.threads: set[str] = set()

    def handler(self, name: str) -> Callable[[int], None]:
        def run(item_id: int) -> None:
            with self.lock:
                self.runs[(name, item_id)] += 1
                self.threads.add(threading.current_thread().name)

        return run

    def total(self) -> int:
        with self.lock:
            return sum(self.runs.values())

    def count(self, name: str, item_id: int) -> int:
        with self.lock:
            return self.runs[(name, item_id)]


class TaskQueueContract:
    """The behaviour every ``TaskQueue`` owes its callers."""

    @pytest.fixture
    def opener(self) -> Iterator[Opener]:
        raise NotImplementedError

    @pytest.fixture
    def queue(self, opener: Opener) -> TaskQueue:
        return opener()

    def test_enqueue_runs_handler_once_with_the_id(self, queue: TaskQueue) -> None:
        rec = Recorder()
        queue.register("transmit", rec.handler("transmit"))
        queue.start(1)
        queue.enqueue("transmit", 42)
        wait_for(lambda: rec.total() == 1, what="the task to run")
        assert queue.stop(10)
        assert rec.runs == {("transmit", 42): 1}

    def test_names_route_to_their_own_handler(self, queue: TaskQueue) -> None:
        rec = Recorder()
        for name in ("render", "transmit", "report"):
            queue.register(name, rec.handler(name))
        queue.start(2)
        queue.enqueue("render", 1)
        queue.enqueue("report", 1)
        queue.enqueue("transmit", 2)
        wait_for(lambda: rec.total() == 3, what="three tasks")
        assert queue.stop(10)
        assert rec.runs == {("render", 1): 1, ("report", 1): 1, ("transmit", 2): 1}

    def test_many_items_over_several_workers_each_run_exactly_once(self, queue: TaskQueue) -> None:
        rec = Recorder()
        queue.register("transmit", rec.handler("transmit"))
        queue.start(4)
        producers = [
            threading.Thread(
                target=lambda base=base: [queue.enqueue("transmit", base + i) for i in range(50)]
            )
            for base in (0, 1000, 2000, 3000)
        ]
        for p in producers:
            p.start()
        for p in producers:
            p.join()
        wait_for(lambda: rec.total() >= 200, what="200 tasks")
        # Stopping waits for running handlers, so a late duplicate would be counted here.
        assert queue.stop(10)
        expected = {("transmit", b + i) for b in (0, 1000, 2000, 3000) for i in range(50)}
        assert set(rec.runs) == expected
        assert set(rec.runs.values()) == {1}

    def test_raising_handler_is_logged_and_consumer_goes_on(
        self, queue: TaskQueue, caplog: pytest.LogCaptureFixture
    ) -> None:
        rec = Recorder()
        calls = Recorder()

        def boom(item_id: int) -> None:
            calls.handler("boom")(item_id)
            raise RuntimeError(f"broken {item_id}")

        queue.register("boom", boom)
        queue.register("ok", rec.handler("ok"))
        caplog.set_level(logging.ERROR, logger="faxout.taskqueue")
        queue.start(1)  # one worker: it must survive the failure to run the rest
        queue.enqueue("boom", 7)
        queue.enqueue("ok", 1)
        queue.enqueue("ok", 2)
        wait_for(lambda: rec.total() == 2, what="the tasks after the failing one")
        assert queue.stop(10)
        assert calls.runs == {("boom", 7): 1}  # retries=0: run once
        assert any(
            r.name == "faxout.taskqueue" and "boom(7)" in r.getMessage() and r.exc_info
            for r in caplog.records
        )

    def test_infrastructure_retries_rerun_a_failed_handler(self, queue: TaskQueue) -> None:
        calls = Recorder()

        def flaky(item_id: int) -> None:
            calls.handler("flaky")(item_id)
            if calls.count("flaky", item_id) < 2:
                raise OSError("transient")

        queue.register("flaky", flaky, retries=2, retry_delay=0)
        queue.start(1)
        queue.enqueue("flaky", 5)
        wait_for(lambda: calls.total() == 2, what="the retry")
        assert queue.stop(10)
        assert calls.runs == {("flaky", 5): 2}  # succeeded on the 2nd run: no 3rd

    def test_stop_returns_promptly_when_idle(self, queue: TaskQueue) -> None:
        queue.register("transmit", Recorder().handler("transmit"))
        queue.start(3)
        result: list[bool] = []
        stopper = threading.Thread(target=lambda: result.append(queue.stop()))
        stopper.start()
        stopper.join(15)  # a deadline for a hang, not a timing measurement
        assert not stopper.is_alive()
        assert result == [True]

    def test_stop_lets_the_running_task_finish(self, queue: TaskQueue) -> None:
        started, release = threading.Event(), threading.Event()
        finished: list[int] = []

        def slow(item_id: int) -> None:
            started.set()
            release.wait(30)
            finished.append(item_id)

        queue.register("slow", slow)
        queue.start(1)
        # From a thread: an inline queue runs the handler in the enqueuing thread.
        threading.Thread(target=queue.enqueue, args=("slow", 3)).start()
        wait_for(started.is_set, what="the task to start")
        result: list[bool] = []
        stopper = threading.Thread(target=lambda: result.append(queue.stop(30)))
        stopper.start()
        # stop() cannot have returned: the handler it waits for is blocked until release.
        assert stopper.is_alive()
        release.set()
        stopper.join(30)
        assert not stopper.is_alive()
        assert result == [True]
        assert finished == [3]

    def test_items_enqueued_while_stopped_run_after_start_on_a_reopened_queue(
        self, opener: Opener
    ) -> None:
        rec = Recorder()
        first = opener()
        first.register("transmit", rec.handler("transmit"))
        for item_id in (1, 2, 3):
            first.enqueue("transmit", item_id)
        assert rec.total() == 0  # no consumer: nothing runs
        first.close()

        second = opener()
        second.register("transmit", rec.handler("transmit"))
        second.start(2)
        wait_for(lambda: rec.total() == 3, what="the stored tasks")
        assert second.stop(10)
        assert rec.runs == {("transmit", 1): 1, ("transmit", 2): 1, ("transmit", 3): 1}

    def test_restart_after_stop_runs_what_was_enqueued_meanwhile(self, queue: TaskQueue) -> None:
        rec = Recorder()
        queue.register("transmit", rec.handler("transmit"))
        queue.start(2)
        queue.enqueue("transmit", 1)
        wait_for(lambda: rec.total() == 1, what="the first task")
        assert queue.stop(10)
        queue.enqueue("transmit", 2)
        assert rec.count("transmit", 2) == 0
        queue.start(2)
        wait_for(lambda: rec.total() == 2, what="the task enqueued while stopped")
        assert queue.stop(10)
        assert rec.runs == {("transmit", 1): 1, ("transmit", 2): 1}

    def test_unknown_task_name_is_refused(self, queue: TaskQueue) -> None:
        with pytest.raises(UnknownTaskError):
            queue.enqueue("nope", 1)

    @pytest.mark.parametrize("bad", [True, "1", 1.0, None])
    def test_only_int_ids_are_accepted(self, queue: TaskQueue, bad: object) -> None:
        queue.register("transmit", Recorder().handler("transmit"))
        with pytest.raises(TypeError):
            queue.enqueue("transmit", bad)  # type: ignore[arg-type]


class TestInline(TaskQueueContract):
    @pytest.fixture
    def opener(self) -> Iterator[Opener]:
        # No broker to re-open: the same object keeps what was enqueued while stopped.
        q = InlineTaskQueue()
        yield lambda: q
        q.stop()


class TestSqliteHuey(TaskQueueContract):
    @pytest.fixture
    def opener(self, tmp_path: Path) -> Iterator[Opener]:
        opened: list[TaskQueue] = []

        def make() -> TaskQueue:
            q = open_queue(f"sqlite:///{tmp_path / 'queue.db'}")
            opened.append(q)
            return q

        yield make
        for q in opened:
            q.close()


class TestRedisHuey(TaskQueueContract):
    @pytest.fixture
    def opener(self, redis_url: str) -> Iterator[Opener]:
        name = f"t{uuid.uuid4().hex}"  # one server for the session, one queue per test
        opened: list[TaskQueue] = []

        def make() -> TaskQueue:
            q = open_queue(redis_url, name=name)
            opened.append(q)
            return q

        yield make
        for q in opened:
            q.close()
