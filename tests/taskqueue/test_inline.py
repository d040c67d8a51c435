"""What only the inline double does: manual draining, no nesting, recorded failures."""

from __future__ import annotations

from faxout.taskqueue import InlineTaskQueue
from tests.taskqueue.test_contract import Recorder


def test_manual_mode_runs_nothing_until_drain() -> None:
    q = InlineTaskQueue(eager=False)
    rec = Recorder()
    q.register("t", rec.handler("t"))
    q.start()
    q.enqueue("t", 1)
    q.enqueue("t", 2)
    assert rec.total() == 0
    assert q.pending == [("t", 1), ("t", 2)]
    assert q.drain() == 2
    assert rec.runs == {("t", 1): 1, ("t", 2): 1}
    assert q.pending == []
    assert q.drain() == 0


def test_drain_also_runs_work_enqueued_by_handlers() -> None:
    q = InlineTaskQueue(eager=False)
    order: list[str] = []

    def render(item_id: int) -> None:
        order.append(f"render {item_id}")
        q.enqueue("transmit", item_id)

    q.register("render", render)
    q.register("transmit", lambda i: order.append(f"transmit {i}"))
    q.enqueue("render", 1)
    q.enqueue("render", 2)
    assert q.drain() == 4
    assert order == ["render 1", "render 2", "transmit 1", "transmit 2"]


def test_eager_enqueue_from_a_handler_runs_after_it_not_inside_it() -> None:
    q = InlineTaskQueue()
    order: list[str] = []

    def render(item_id: int) -> None:
        q.enqueue("transmit", item_id)
        order.append("render done")

    q.register("render", render)
    q.register("transmit", lambda i: order.append("transmit"))
    q.start()
    q.enqueue("render", 1)
    assert order == ["render done", "transmit"]


def test_failures_are_kept_and_retries_run_at_once() -> None:
    q = InlineTaskQueue()
    calls: list[int] = []

    def broken(item_id: int) -> None:
        calls.append(item_id)
        raise ValueError("nope")

    q.register("broken", broken, retries=2, retry_delay=60)
    q.start()
    q.enqueue("broken", 9)
    assert calls == [9, 9, 9]
    assert [(n, i) for n, i, _ in q.failures] == [("broken", 9)] * 3
    assert all(isinstance(e, ValueError) for _, _, e in q.failures)


def test_stopped_eager_queue_keeps_items_for_start() -> None:
    q = InlineTaskQueue()
    rec = Recorder()
    q.register("t", rec.handler("t"))
    q.enqueue("t", 1)
    assert rec.total() == 0
    q.start()
    assert rec.runs == {("t", 1): 1}
    q.stop()
    q.enqueue("t", 2)
    assert q.pending == [("t", 2)]
