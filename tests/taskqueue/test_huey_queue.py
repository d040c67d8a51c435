"""What only the huey wiring does: URLs, the JSON wire format, delayed retries, run_consumer."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

import pytest
from huey.registry import Message

from faxout.errors import ConfigError
from faxout.taskqueue import TaskQueueError, open_queue, run_consumer
from faxout.taskqueue.huey_queue import JsonSerializer
from tests.taskqueue.conftest import wait_for
from tests.taskqueue.test_contract import Recorder


@pytest.mark.parametrize("url", ["postgresql://x/y", "sqlite:///", "memory://", ""])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_queue(url)


def test_sqlite_url_creates_the_directory(tmp_path: Path) -> None:
    q = open_queue(f"sqlite:///{tmp_path}/data/dir/queue.db")
    try:
        q.register("t", Recorder().handler("t"))
        q.enqueue("t", 1)
        assert (tmp_path / "data/dir/queue.db").exists()
        assert q.queue_size() == 1
    finally:
        q.close()


def test_messages_on_the_wire_are_json_with_ids_only(tmp_path: Path) -> None:
    q = open_queue(f"sqlite:///{tmp_path}/queue.db")
    q.register("transmit", Recorder().handler("transmit"))
    q.enqueue("transmit", 123)
    q.close()
    with sqlite3.connect(tmp_path / "queue.db") as db:
        (raw,) = db.execute("select data from task").fetchone()
    fields = dict(zip(Message._fields, json.loads(raw), strict=False))
    assert fields["name"] == "faxout.task.transmit"
    assert fields["args"] == [123]
    assert fields["kwargs"] == {}


def test_json_serializer_round_trips_a_scheduled_message() -> None:
    eta = dt.datetime(2026, 11, 26, 21, 0, 0, 123456)
    msg = Message("id1", "faxout.task.x", eta, 2, 1.5, None, (9,), {}, None, None, None, eta)
    s = JsonSerializer()
    back = s.deserialize(s.serialize(msg))
    assert back == msg
    assert isinstance(back.args, tuple)


def test_json_serializer_refuses_anything_but_messages() -> None:
    with pytest.raises(TypeError):
        JsonSerializer().serialize({"result": object()})


def test_two_queue_names_on_one_file_are_separate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/queue.db"
    a, b = open_queue(url, name="a"), open_queue(url, name="b")
    rec = Recorder()
    try:
        a.register("t", rec.handler("a"))
        b.register("t", rec.handler("b"))
        a.enqueue("t", 1)
        b.start(1)
        b.enqueue("t", 2)
        wait_for(lambda: rec.total() == 1, what="b's task")
        assert b.stop(10)
        assert rec.runs == {("b", 2): 1}
        assert a.queue_size() == 1
    finally:
        a.close()
        b.close()


def test_delayed_infrastructure_retry_goes_through_the_schedule(tmp_path: Path) -> None:
    q = open_queue(f"sqlite:///{tmp_path}/queue.db")
    calls = Recorder()

    def flaky(item_id: int) -> None:
        calls.handler("flaky")(item_id)
        if calls.count("flaky", item_id) == 1:
            raise OSError("transient")

    q.register("flaky", flaky, retries=1, retry_delay=0.01)
    try:
        q.start(1)
        q.enqueue("flaky", 4)
        wait_for(lambda: calls.total() == 2, what="the scheduled retry")
        assert q.stop(10)
        assert calls.runs == {("flaky", 4): 2}
    finally:
        q.close()


def test_start_twice_is_an_error(tmp_path: Path) -> None:
    q = open_queue(f"sqlite:///{tmp_path}/queue.db")
    try:
        q.start(1)
        with pytest.raises(RuntimeError):
            q.start(1)
        with pytest.raises(ValueError):
            open_queue(f"sqlite:///{tmp_path}/other.db").start(0)
    finally:
        q.close()


def test_unreachable_redis_is_a_task_queue_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    q = open_queue(f"redis://127.0.0.1:{port}/0")
    q.register("t", Recorder().handler("t"))
    with pytest.raises(TaskQueueError):
        q.enqueue("t", 1)
    q.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_run_consumer_runs_until_the_stop_event(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path}/queue.db"
        if backend == "sqlite"
        else request.getfixturevalue("redis_url")
    )
    producer = open_queue(url, name="rc")
    consumer = open_queue(url, name="rc")
    rec = Recorder()
    for q in (producer, consumer):
        q.register("transmit", rec.handler("transmit"))
    stop = threading.Event()
    runner = threading.Thread(target=run_consumer, args=(consumer, 2, stop))
    runner.start()
    try:
        for i in range(20):
            producer.enqueue("transmit", i)  # another "process": no local wake-up
        wait_for(lambda: rec.total() == 20, what="20 tasks from another producer")
    finally:
        stop.set()
        runner.join(30)
        producer.close()
        consumer.close()
    assert not runner.is_alive()
    assert set(rec.runs.values()) == {1}


def test_supervisor_replaces_a_worker_thread_that_died(tmp_path: Path) -> None:
    q = open_queue(f"sqlite:///{tmp_path}/queue.db", health_interval=0.05)
    rec = Recorder()

    def fatal(item_id: int) -> None:
        raise SystemExit(1)  # escapes huey's `except Exception` and ends the worker thread

    q.register("fatal", fatal)
    q.register("ok", rec.handler("ok"))
    try:
        q.start(1)
        q.enqueue("fatal", 1)
        q.enqueue("ok", 2)
        wait_for(lambda: rec.total() == 1, what="the replacement worker")
        assert q.stop(10)
    finally:
        q.close()
