"""No password ever reaches the terminal or the logs: every command an operator runs on the
distributed topology, with a password in the database URL, the Redis URL, the S3 endpoint and
the SMTP settings, up and down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faxout.redact import secrets_of, shown_url, without_secrets
from tests.opstack import SECRETS, Stack, stack
from tests.pgserver import PgServer
from tests.procs import free_port
from tests.server import start_server
from tests.services import start_faxout

pytestmark = pytest.mark.slow

ENDPOINT_PASSWORD = "Endpoint-pw-91d"


@pytest.fixture
def up(tmp_path: Path, pg_server: PgServer) -> Iterator[Stack]:
    with stack(tmp_path, pg_server) as running:
        yield running


def leaked(said: str) -> list[str]:
    return [s for s in (*SECRETS, ENDPOINT_PASSWORD) if s in said]


def test_the_running_topology_never_prints_a_password(up: Stack) -> None:
    said = [up.cli("check")[1], up.cli("migrate")[1]]
    api = start_server(up.data, "--no-workers", **up.env)
    try:
        workers = [
            start_faxout(name, [name], {**api_env(up)}, up.data / "logs", f"faxout {role} running")
            for name, role in (("worker", "worker"), ("dispatch", "dispatcher"))
        ]
        for proc in workers:
            proc.stop()
            said.append(proc.log())
    finally:
        api.kill()
    said.append(api.log())
    assert not leaked("\n".join(said)), "\n".join(said)
    banner = api.log()
    assert "API node (--no-workers)" in banner and "`faxout worker`" in banner
    assert "redis://:***@" in banner and "postgresql+psycopg://" in banner and ":***@" in banner
    assert "Redis" in said[2] and "task consumers only" in said[2]
    assert "report sender (reports mailed through 127.0.0.1:" in said[3]


def api_env(up: Stack) -> dict[str, str]:
    from tests.server import faxout_env

    return faxout_env(up.data, **up.env)


def test_components_down_or_mistyped_never_print_a_password(up: Stack) -> None:
    dead = free_port()
    down = {
        "FAXOUT_DATABASE_URL": up.env["FAXOUT_DATABASE_URL"].rsplit("@", 1)[0]
        + f"@127.0.0.1:{dead}/faxout",
        "FAXOUT_QUEUE_URL": f"redis://:{SECRETS[1]}@127.0.0.1:{dead}/0",
        "FAXOUT_STORE_URL": f"s3://faxout-b/p?endpoint_url=http://minio:{ENDPOINT_PASSWORD}"
        f"@127.0.0.1:{dead}&region=us-east-1",
        "FAXOUT_REPORT__SMTP__PORT": str(dead),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    runs = [up.cli("check", **down), up.cli("migrate", **down), up.cli("worker", **down)]
    runs += [up.cli("dispatch", **down), up.cli("user", "list", **down)]
    typos = {
        "FAXOUT_QUEUE_URL": f"redis:/:{SECRETS[1]}@127.0.0.1:{dead}/0",
        "FAXOUT_STORE_URL": f"file://faxout:{ENDPOINT_PASSWORD}@nas/srv/store",
    }
    runs += [up.cli("check", **typos), up.cli("worker", **typos)]
    said = "\n".join(out for _, out in runs)
    assert all(status != 0 for status, _ in runs), said
    assert not leaked(said), said
    assert "FAIL database" in runs[0][1] and "FAIL task queue" in runs[0][1]
    assert "FAIL document store" in runs[0][1] and "FAIL report relay" in runs[0][1]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("rediss://u:pw@h/0?password=pw2&x=1", "rediss://u:***@h/0?password=***&x=1"),
        ("redis:/:pw@h", "redis:/:***@h"),
        ("s3://b/p?endpoint_url=https://k:sk@m:9000", "s3://b/p?endpoint_url=https://k:***@m:9000"),
        ("file:///srv/store", "file:///srv/store"),
        ("redis://h:6379/0", "redis://h:6379/0"),
    ],
)
def test_shown_url(url: str, shown: str) -> None:
    assert shown_url(url) == shown
    for secret in secrets_of(url):
        assert secret not in without_secrets(f"failed: {url} said {secret}", url)
