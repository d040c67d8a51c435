"""A real HTTP endpoint for webhook tests: it answers as scripted and keeps what it got."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Got:
    """One request the endpoint received."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """``answers``: what the next requests get, in order (a status, or ``"hang"`` to answer
    nothing for ``hang_seconds``); once empty, 200."""

    url: str
    answers: deque[int | str] = field(default_factory=deque)
    got: list[Got] = field(default_factory=list)
    hang_seconds: float = 2.0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Got]:
        """Block until ``count`` requests have arrived (or fail after ``timeout``)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.got) >= count, timeout):
                raise AssertionError(f"{len(self.got)} webhook requests arrived, not {count}")
            return list(self.got)


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, stopped afterwards."""
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            answer = state.answers.popleft() if state.answers else 200
            with state.arrived:
                state.got.append(
                    Got(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                state.arrived.notify_all()
            if answer == "hang":
                threading.Event().wait(state.hang_seconds)  # the client times out first
                return
            self.send_response(int(answer))
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Receiver(f"http://127.0.0.1:{server.server_port}/hooks/fax")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
