"""``TaskQueue`` on huey: ``SqliteHuey`` (embedded default, its own file) or ``RedisHuey``.

Chosen by URL: ``sqlite:///relative/queue.db`` or ``sqlite:////abs/queue.db`` (SQLAlchemy's
spelling), ``redis://host:port/db`` (also ``rediss://`` and ``unix://``).

What huey guarantees and what we rely on: delivery is at-most-once (a consumer killed mid-task
loses that message), which is safe for "never dial twice"; the reconciler re-enqueues jobs
left ``queued`` too long. Messages are JSON (task name, ids, huey's bookkeeping), never pickle:
anyone who can write to Redis must not be able to run code in our workers. Results are not
stored — handlers write their results to SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.registry import Message
from huey.serializer import Serializer
from redis.exceptions import RedisError

from faxout.errors import ConfigError
from faxout.files import create_private, private_dir
from faxout.redact import shown_url
from faxout.taskqueue.embedded import EmbeddedConsumer, Wake
from faxout.taskqueue.port import (
    Handler,
    TaskQueueError,
    TaskSpec,
    UnknownTaskError,
    check_item_id,
    run_logged,
)

# Every task class gets this module name, so the wire name is "faxout.task.<name>" whatever
# module the handler lives in: producers and consumers only have to agree on the name.
_TASK_MODULE = "faxout.task"
_BROKER_ERRORS = (RedisError, sqlite3.Error, OSError)


class JsonSerializer(Serializer):  # type: ignore[misc]
    """Huey messages as JSON. Only task messages are supported (results are disabled)."""

    def _serialize(self, data: Any) -> bytes:
        if not isinstance(data, Message):
            raise TypeError(f"only task messages are serialized, not {type(data).__name__}")
        return json.dumps(data, default=_encode, separators=(",", ":")).encode()

    def _deserialize(self, data: bytes) -> Any:
        return _to_message(json.loads(data, object_hook=_decode))


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    raise TypeError(f"cannot put {type(value).__name__} in a task message")


def _decode(obj: dict[str, Any]) -> Any:
    if obj.keys() == {"$dt"}:
        return dt.datetime.fromisoformat(obj["$dt"])
    return obj


def _to_message(fields: list[Any]) -> Message:
    # json turns the namedtuple (and nested messages, args) into lists; restore the shapes.
    msg = Message(*fields)
    nested = {
        k: _to_message(getattr(msg, k))
        for k in ("on_complete", "on_error")
        if getattr(msg, k) is not None
    }
    return msg._replace(args=tuple(msg.args or ()), kwargs=msg.kwargs or {}, **nested)


class HueyTaskQueue:
    """A ``TaskQueue`` on a huey instance; consumers run as threads of this process."""

    def __init__(self, huey: Any, *, max_poll_delay: float = 1.0, health_interval: float = 10.0):
        self.huey = huey
        self._max_poll_delay = max_poll_delay
        self._health_interval = health_interval
        self._tasks: dict[str, Any] = {}
        self._wake = Wake()
        self._consumer: EmbeddedConsumer | None = None
        self._lock = threading.Lock()

    def register(
        self, name: str, fn: Handler, *, retries: int = 0, retry_delay: float = 0.0
    ) -> None:
        """Bind ``name`` to ``fn`` (see ``TaskQueue.register``); re-registering replaces."""
        if retries < 0 or retry_delay < 0:
            raise ValueError("retries and retry_delay must not be negative")
        spec = TaskSpec(name, fn, retries, retry_delay)

        def run(item_id: int) -> None:
            run_logged(spec, item_id)

        run.__module__ = _TASK_MODULE
        with self._lock:
            old = self._tasks.pop(name, None)
            if old is not None:
                old.unregister()
            self._tasks[name] = self.huey.task(name=name, retries=retries, retry_delay=retry_delay)(
                run
            )

    def enqueue(self, name: str, item_id: int) -> None:
        """Write ``name(item_id)`` to the broker and wake this process's idle workers."""
        check_item_id(item_id)
        task = self._tasks.get(name)
        if task is None:
            raise UnknownTaskError(name)
        try:
            task(item_id)
        except _BROKER_ERRORS as exc:
            raise TaskQueueError(f"could not enqueue {name}({item_id}): {exc}") from exc
        self._wake.notify()

    def start(self, workers: int = 1) -> None:
        """Start ``workers`` consumer threads (plus huey's scheduler and a supervisor)."""
        if workers < 1:
            raise ValueError("workers must be at least 1")
        with self._lock:
            if self._consumer is not None:
                raise RuntimeError("task queue consumers already started")
            self._consumer = EmbeddedConsumer(
                self.huey,
                workers=workers,
                wake=self._wake,
                max_delay=self._max_poll_delay,
                health_interval=self._health_interval,
            )
            self._consumer.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the consumer threads; running tasks finish first (see ``TaskQueue.stop``)."""
        with self._lock:
            consumer, self._consumer = self._consumer, None
        if consumer is None:
            return True
        return consumer.stop_and_join(timeout)

    def close(self) -> None:
        """Stop consumers if running and release the broker connection."""
        self.stop()
        storage = self.huey.storage
        pool = getattr(storage, "pool", None)
        if pool is not None:  # Redis: drop pooled sockets
            pool.disconnect()
        else:
            storage.close()

    def queue_size(self) -> int:
        """Messages waiting in the broker (not counting delayed retries)."""
        try:
            return int(self.huey.pending_count())
        except _BROKER_ERRORS as exc:
            raise TaskQueueError(f"could not read the queue: {exc}") from exc


def open_queue(
    url: str,
    *,
    name: str = "faxout",
    max_poll_delay: float = 1.0,
    health_interval: float = 10.0,
) -> HueyTaskQueue:
    """The huey-backed ``TaskQueue`` for ``url`` (``sqlite:///…`` or ``redis://…``).

    ``name`` separates queues sharing one broker (huey's queue name). ``max_poll_delay`` caps
    how long an idle SQLite worker waits before looking for work enqueued by another process.
    """
    common: dict[str, Any] = {"results": False, "serializer": JsonSerializer(), "utc": True}
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.name:
            raise ConfigError(f"queue URL {url!r} names no file")
        private_dir(path.parent)
        create_private(path)  # SQLite's journal files copy its mode
        # fsync=True: synchronous=FULL, so an enqueue that returned survives a power cut.
        huey: Any = SqliteHuey(name, filename=str(path), fsync=True, timeout=10, **common)
    elif url.startswith(("redis://", "rediss://", "unix://")):
        # Blocking BRPOP: workers get work at once; its 0.5 s timeout bounds how long a stop
        # request waits for an idle worker.
        huey = RedisHuey(name, url=url, blocking=True, read_timeout=0.5, **common)
    else:
        raise ConfigError(
            f"queue URL must start with sqlite:/// or redis://, not {shown_url(url)!r}"
        )
    return HueyTaskQueue(huey, max_poll_delay=max_poll_delay, health_interval=health_interval)
