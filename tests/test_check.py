"""``faxout check`` against the real components: all good when they are up, a FAIL line naming
the component and what to do (and exit status 1) when any one of them is down or missing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.opstack import SECRETS, Stack, stack
from tests.pgserver import PgServer
from tests.procs import free_port
from tests.services import AWS_UNSET, aws_test_env, create_bucket, moto_s3
from tests.transmit import hylafax_server as lab_mod

pytestmark = pytest.mark.slow

COMPONENTS = ("database", "task queue", "document store", "report relay", "transport")


@pytest.fixture
def up(tmp_path: Path, pg_server: PgServer) -> Iterator[Stack]:
    with stack(tmp_path, pg_server) as running:
        yield running


def lines(said: str) -> dict[str, str]:
    """The check's lines by component."""
    found = {}
    for line in said.splitlines():
        for name in COMPONENTS:
            if line[5:].startswith(name):
                found[name] = line
    return found


def failing(said: str) -> list[str]:
    return [name for name, line in lines(said).items() if line.startswith("FAIL")]


def test_all_good_with_every_component_up(up: Stack) -> None:
    status, said = up.cli("check")
    assert status == 0 and said.rstrip().endswith("All good."), said
    found = lines(said)
    assert "PostgreSQL postgresql+psycopg://" in found["database"] and "***@" in found["database"]
    assert "Redis at redis://:***@127.0.0.1" in found["task queue"]
    assert f"shared directory {up.store}" in found["document store"]
    assert "STARTTLS, login as reports accepted (no mail sent)" in found["report relay"]
    assert found["transport"].startswith("ok   transport        simline")
    assert up.relay.received == []  # EHLO and AUTH only
    assert not [s for s in SECRETS if s in said]


def test_a_dead_database_fails(up: Stack) -> None:
    dead = f"postgresql+psycopg://faxout:x@127.0.0.1:{free_port()}/faxout"
    status, said = up.cli("check", FAXOUT_DATABASE_URL=dead)
    assert status == 1 and failing(said) == ["database"], said
    assert "does not answer" in said and "start PostgreSQL or correct database_url" in said


def test_an_old_schema_fails(up: Stack, pg_server: PgServer) -> None:
    empty = pg_server.url(pg_server.create_database())
    status, said = up.cli("check", FAXOUT_DATABASE_URL=empty)
    assert status == 1 and failing(said) == ["database"], said
    assert "schema at nothing" in said and "run `faxout migrate`" in said


def test_redis_down_fails(up: Stack) -> None:
    up.stop_redis.close()  # the real server, stopped by its PID
    status, said = up.cli("check")
    assert status == 1 and failing(said) == ["task queue"], said
    line = lines(said)["task queue"]
    assert "Redis at redis://:***@127.0.0.1" in line and "does not answer" in line
    assert "start Redis there or correct queue_url (FAXOUT_QUEUE_URL)" in line
    assert not [s for s in SECRETS if s in said]


def test_a_wrong_redis_password_fails(up: Stack) -> None:
    wrong = up.redis_url.replace(":Redis-pw-77c1e@", ":not-it@")
    status, said = up.cli("check", FAXOUT_QUEUE_URL=wrong)
    assert status == 1 and failing(said) == ["task queue"], said
    assert "refused the login" in lines(said)["task queue"] and "not-it" not in said


def test_a_missing_shared_store_fails_and_is_not_created(up: Stack, tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    status, said = up.cli("check", FAXOUT_STORE_URL=f"file://{missing}")
    assert status == 1 and failing(said) == ["document store"], said
    line = lines(said)["document store"]
    assert f"shared directory {missing}" in line and "does not exist: mount it" in line
    assert not missing.exists()


def test_a_dead_relay_fails_and_says_where_reports_wait(up: Stack) -> None:
    up.relay.stop()
    status, said = up.cli("check")
    assert status == 1 and failing(said) == ["report relay"], said
    line = lines(said)["report relay"]
    assert f"SMTP relay 127.0.0.1:{up.relay.port}: cannot talk to it" in line
    assert "reports wait in the report outbox (in the database)" in line
    assert "`faxout report show ID`" in line


def test_a_refused_smtp_login_fails(up: Stack) -> None:
    status, said = up.cli("check", FAXOUT_REPORT__SMTP__PASSWORD="wrong-one")
    assert status == 1 and failing(said) == ["report relay"], said
    assert "refused the login as reports" in said and "wrong-one" not in said


def test_no_relay_says_where_reports_go(tmp_path: Path) -> None:
    from tests.server import run_cli

    run_cli(tmp_path / "var", "migrate")
    done = run_cli(tmp_path / "var", "check")
    line = lines(done.stdout)["report relay"]
    assert line.startswith("ok   report relay     no SMTP relay configured"), line
    assert f"{tmp_path / 'var' / 'outbox' / 'new'}" in line and "the dispatcher" in line


def test_s3_store_up_and_bucket_missing(up: Stack, tmp_path: Path) -> None:
    bucket = f"faxout-{uuid.uuid4().hex[:12]}"
    aws = aws_test_env(tmp_path)
    with pytest.MonkeyPatch.context() as mp, moto_s3() as endpoint:
        for name in AWS_UNSET:
            mp.delenv(name, raising=False)
        create_bucket(endpoint, bucket)
        url = f"s3://{bucket}/prod?endpoint_url={endpoint}&region=us-east-1"
        status, said = up.cli("check", FAXOUT_STORE_URL=url, **aws)
        assert status == 0, said
        assert "a probe object written and deleted" in lines(said)["document store"]
        other = url.replace(bucket, "no-such-bucket")
        status, said = up.cli("check", FAXOUT_STORE_URL=other, **aws)
    assert status == 1 and failing(said) == ["document store"], said
    assert "bucket 'no-such-bucket' does not exist" in said


def test_hylafax_up_and_down(up: Stack, tmp_path: Path) -> None:
    assert not lab_mod.missing(), lab_mod.missing()
    lab = lab_mod.start_lab(tmp_path / "hylafax", modems=False)
    env = {
        "FAXOUT_TRANSMIT__TRANSPORT": "hylafax",
        "FAXOUT_TRANSMIT__HYLAFAX__PORT": str(lab.port),
        "FAXOUT_TRANSMIT__HYLAFAX__USER": lab_mod.USER,
        "FAXOUT_TRANSMIT__HYLAFAX__PASSWORD": lab_mod.PASSWORD,
    }
    try:
        status, said = up.cli("check", **env)
        assert status == 0, said
        assert "login works" in lines(said)["transport"]
    finally:
        lab.stop()
    status, said = up.cli("check", **env)
    assert status == 1 and failing(said) == ["transport"], said
    assert "start hfaxd there, or correct transmit.hylafax" in said
    assert lab_mod.PASSWORD not in said
