"""``faxout serve --no-workers`` (an API node) hands each accepted submission to the task queue
at once, so the workers of another process render it without waiting for the dispatcher."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from faxout.db.migrate import upgrade
from faxout.ops.gateway import build_gateway
from faxout.ops.serve import gateway_app
from faxout.ops.settings import Settings
from faxout.schedule.dispatcher import RENDER
from faxout.taskqueue.huey_queue import open_queue

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TestClient on httpx


def test_an_accepted_fax_is_enqueued_for_rendering_by_the_api_node(tmp_path: Path) -> None:
    gw = build_gateway(Settings(data_dir=tmp_path, demo_account=False))
    upgrade(gw.engine)
    gw.accounts.add(
        "16505551234",
        email="a@example.com",
        password_hash=gw.passwords.hash("secret-pass"),
        now=gw.clock.now(),
    )
    # A worker elsewhere: the same queue, consumed by another queue object.
    worker_queue = open_queue(gw.settings.queue)
    rendered: list[int] = []
    arrived = threading.Event()

    def render(submission_id: int) -> None:
        rendered.append(submission_id)
        arrived.set()

    worker_queue.register(RENDER, render)
    worker_queue.start(workers=1)
    try:
        with TestClient(gateway_app(gw, pipeline=False)) as client:
            reply = client.post(
                "/faxapi.asp",
                data={"Username": "16505551234", "Password": "secret-pass"},
                files=[
                    ("Recipient", (None, "+15550123456|Desk")),
                    ("Attachment", ("a.txt", b"hello", "text/plain")),
                ],
            )
            assert reply.text == "0"
        assert arrived.wait(20), "the render task never reached the worker's queue"
        (sub,) = gw.jobs.list_jobs()
        assert rendered == [sub.submission_id]
    finally:
        worker_queue.stop(10)
        worker_queue.close()
        gw.engine.dispose()
