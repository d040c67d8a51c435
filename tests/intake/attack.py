"""Helpers for the edge-limit tests: a canary fax from another address, raw connections from
chosen source addresses, an attack paused half-way while the canary goes through, and the
server's CPU and memory."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from faxout.db.engine import make_engine
from faxout.db.tables import submissions
from tests.server import Server, running_server

CANARY_USER, CANARY_PASSWORD = "15552220000", "canary password"
USER, PASSWORD = "15553330000", "sender password"


@contextlib.contextmanager
def edge_server(factory: pytest.TempPathFactory, name: str, **env: str) -> Iterator[Server]:
    """An API-only gateway with a canary account and a sender account, stopped afterwards."""
    with running_server(
        factory.mktemp(name), "--no-workers", FAXOUT_DEMO_ACCOUNT="false", **env
    ) as server:
        server.add_user(CANARY_USER, CANARY_PASSWORD, "--email", "canary@example.com")
        server.add_user(USER, PASSWORD, "--email", "sender@example.com")
        yield server


def canary(server: Server, source: str = "127.0.0.2") -> str:
    """Send a small fax from the canary account, from ``source``; the digit answered."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        resp = client.post(
            server.url + "/faxapi.asp",
            data={
                "Username": CANARY_USER,
                "Password": CANARY_PASSWORD,
                "Recipient": "+15550123456",
            },
            files={"Attachment": ("canary.txt", b"the canary got through")},
        )
    return resp.text


def healthz(server: Server, source: str = "127.0.0.2") -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.get(server.url + "/healthz").status_code


def connect(server: Server, source: str = "127.0.0.1", timeout: float = 30) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", server.port))
    return sock


def is_open(sock: socket.socket) -> bool:
    """Whether the server still holds ``sock``'s connection (it has not closed or reset it)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Read until the server closes (or resets) the connection; (closed?, what was read)."""
    got = bytearray()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return True, bytes(got)
        if not chunk:
            return True, bytes(got)
        got += chunk
    return False, bytes(got)


def wait_for(predicate: Callable[[], bool], seconds: float = 20) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@dataclass
class Usage:
    """The server process's CPU seconds and peak RSS while an attack runs."""

    process: psutil.Process
    cpu_start: float = 0.0
    rss_start: int = 0
    rss_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    @property
    def cpu_used(self) -> float:
        return self.cpu() - self.cpu_start

    @property
    def rss_growth_mb(self) -> float:
        return (max(self.rss_peak, self.rss()) - self.rss_start) / 2**20


@contextlib.contextmanager
def usage(server: Server) -> Iterator[Usage]:
    """Sample the server's RSS every 20 ms while the block runs."""
    use = Usage(psutil.Process(server.process.pid))
    use.cpu_start = use.cpu()
    use.rss_start = use.rss_peak = use.rss()

    def sample() -> None:
        while not use._stop.wait(0.02):
            with contextlib.suppress(psutil.Error):
                use.rss_peak = max(use.rss_peak, use.rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield use
    finally:
        use._stop.set()
        thread.join()


class Halfway:
    """An attack run in a thread that pauses half-way until the canary has gone through."""

    def __init__(self, attack: Callable[[Halfway], object]) -> None:
        self._attack = attack
        self._reached = threading.Event()
        self._go_on = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._attack(self)
        except BaseException as exc:
            self.error = exc
        finally:
            self._reached.set()

    def pause(self) -> None:
        """Called by the attack: wait here until the test says go on."""
        self._reached.set()
        self._go_on.wait(60)

    def __enter__(self) -> Halfway:
        self._thread.start()
        assert self._reached.wait(60), "the attack never got half-way"
        return self

    def __exit__(self, *exc: object) -> None:
        self._go_on.set()
        self._thread.join(120)
        assert not self._thread.is_alive(), "the attack did not end"

    def outcome(self) -> object:
        if self.error is not None:
            raise self.error
        return self.result


def request_line(server: Server, request_id: str) -> str:
    """The server's log line for one FaxOut request."""
    for line in server.log().splitlines():
        if f"request_id={request_id}" in line:
            return line
    return ""


def reason_of(line: str) -> str:
    match = re.search(r'reason=("(?:[^"\\]|\\.)*"|\S+)', line)
    return match.group(1).strip('"') if match else ""


def submission_count(data_dir: Path) -> int:
    engine = make_engine(f"sqlite:///{data_dir / 'faxout.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(submissions)).scalar_one())
    finally:
        engine.dispose()


def multipart_body(
    fields: list[tuple[str, str]],
    files: list[tuple[str, str, bytes, str]] = (),  # type: ignore[assignment]
    boundary: str = "edgeB0undary",
) -> bytes:
    """A multipart body; ``files`` are (field, filename, content, extra header lines)."""
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, filename, content, extra in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\n{extra}\r\n'
        ).encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def head(
    length: int | None,
    ctype: str = "multipart/form-data; boundary=edgeB0undary",
    extra: str = "",
    path: str = "/faxapi.asp",
) -> bytes:
    size = f"Content-Length: {length}\r\n" if length is not None else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n{size}{extra}\r\n"
    ).encode()


def fax_fields(user: str = USER, password: str = PASSWORD) -> list[tuple[str, str]]:
    return [("Username", user), ("Password", password), ("Recipient", "+15550123456")]
