"""A real redis-server for the contract tests, on a free 127.0.0.1 port in a temp dir."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds (a deadline, not a
    measurement)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a private redis-server, stopped by its own PID at the end of the session.

    Its own port and directory, so a Debian-started system redis on 6379 plays no part.
    """
    exe = shutil.which("redis-server")
    assert exe, "redis-server is required (deps/apt.txt)"
    workdir: Path = tmp_path_factory.mktemp("redis")
    for _ in range(5):  # the port may be taken between probing and binding
        port = _free_port()
        proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(workdir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        up = False
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(redis.exceptions.ConnectionError):
                up = bool(client.ping())
                break
            time.sleep(0.01)
        client.close()
        if up:
            break
        proc.kill()
        proc.wait()
    else:
        raise RuntimeError("could not start redis-server")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
