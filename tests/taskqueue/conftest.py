"""A real redis-server for the contract tests, on a free 127.0.0.1 port in a temp dir."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.services import redis_server


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds (a deadline, not a
    measurement)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a private redis-server, stopped by its own PID at the end of the session.

    Its own port and directory, so a Debian-started system redis on 6379 plays no part.
    """
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
