"""The task queue: the only package in faxout that imports huey (see ``port`` for the seam)."""

from faxout.taskqueue.embedded import run_consumer
from faxout.taskqueue.huey_queue import HueyTaskQueue, open_queue
from faxout.taskqueue.port import (
    Handler,
    InlineTaskQueue,
    TaskQueue,
    TaskQueueError,
    UnknownTaskError,
)

__all__ = [
    "Handler",
    "HueyTaskQueue",
    "InlineTaskQueue",
    "TaskQueue",
    "TaskQueueError",
    "UnknownTaskError",
    "open_queue",
    "run_consumer",
]
