"""A signed-in console over a gateway that sends: a pipeline in this process (inline task
queue, a scripted line, ``tests.pipeline.harness``) renders and calls when told to
(``Sending.run``), and its report outbox delivers to the Maildir when asked (``reports``)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from faxout.ops.runtime import Pipeline
from faxout.report.outbox import Outbox
from faxout.taskqueue.port import InlineTaskQueue
from tests.intake.apiapp import InProcess, in_process
from tests.intake.console.signedin import sign_in
from tests.pipeline.harness import InertReports, LineScript


@dataclass
class Sending:
    """The app and its gateway, the client, its CSRF token, the line and the pipeline."""

    made: InProcess
    client: TestClient
    csrf: str
    line: LineScript
    pipeline: Pipeline
    outbox: Outbox

    def fax(self, *to: tuple[str, str], text: bytes = b"Hello\n", **fields: Any) -> int:
        """A new fax through the status API (not sent yet: ``run``); its id."""
        body = {
            "to": [{"number": n, "name": name} for n, name in to],
            "documents": [
                {"filename": "memo.txt", "content_base64": base64.b64encode(text).decode()}
            ],
            **fields,
        }
        answer = self.client.post("/api/v1/faxes", json=body, headers=self.made.auth)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def run(self, seconds: float = 0) -> None:
        """Advance the clock, then one dispatcher pass: render, then call (tasks run inline)."""
        self.made.clock.advance(seconds)
        self.pipeline.dispatch_once()

    def reports(self) -> None:
        """One pass of the report outbox: queue what is due, deliver it to the Maildir."""
        self.outbox.run_once(self.made.clock.now())

    def api(self, path: str) -> dict[str, Any]:
        """``GET /api/v1…`` as JSON."""
        answer = self.client.get(f"/api/v1{path}", headers=self.made.auth)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data


@contextmanager
def sending(tmp: Path) -> Iterator[Sending]:
    """The console signed in as ``USER``, over a gateway that renders and sends."""
    made = in_process(tmp)
    line = LineScript()
    pipeline = Pipeline(made.gw, queue=InlineTaskQueue(), transport=line, dispatcher=False)
    outbox = pipeline.reports.outbox
    pipeline.reports = InertReports()  # type: ignore[assignment]  # passes run when asked
    pipeline.start()
    try:
        with TestClient(made.app, base_url="http://testserver") as client:
            yield Sending(made, client, sign_in(client), line, pipeline, outbox)
    finally:
        pipeline.stop()
