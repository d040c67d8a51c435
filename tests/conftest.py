from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import Server, start_server

pytest_plugins = ["tests.conftest_pg"]

USER = "15551230000"
PASSWORD = "correct horse"
BLOCKED = "15551239999"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real gateway with one active and one fax-prohibited account."""
    srv = start_server(tmp_path_factory.mktemp("gw"), "--no-workers", FAXOUT_DEMO_ACCOUNT="false")
    try:
        srv.add_user(USER, PASSWORD, "--email", "sender@example.com", "--name", "Sender")
        srv.add_user(BLOCKED, PASSWORD, "--email", "b@example.com", "--fax-prohibited")
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"
