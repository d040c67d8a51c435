"""``faxout user`` for operators: the role, the login locks and lifting them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faxout.clock import FrozenClock
from faxout.intake.auth import AuthStatus
from faxout.ops.gateway import build_gateway
from faxout.ops.settings import Auth, Settings
from tests.server import run_cli

USER = "16505551234"


def test_the_operator_role_is_given_shown_and_taken(data_dir: Path) -> None:
    added = run_cli(
        data_dir, "user", "add", USER, "--email", "op@example.com", "--operator",
        "--password-stdin", stdin="s3cret\n",
    )  # fmt: skip
    assert added.returncode == 0 and f"operator {USER} created" in added.stdout, added.stderr
    assert run_cli(data_dir, "user", "add", "4930123456", "--email", "b@x.com").returncode == 0
    listed = run_cli(data_dir, "user", "list").stdout.splitlines()
    assert "ROLE" in listed[0]
    assert "operator" in listed[1].split() and "sender" in listed[2].split()
    users = json.loads(run_cli(data_dir, "user", "list", "--json").stdout)
    assert [u["operator"] for u in users] == [True, False]

    assert run_cli(data_dir, "user", "set", USER, "--no-operator").returncode == 0
    assert run_cli(data_dir, "user", "set", "4930123456", "--operator").returncode == 0
    users = json.loads(run_cli(data_dir, "user", "list", "--json").stdout)
    assert [u["operator"] for u in users] == [False, True]


def test_locks_are_listed_and_unlock_lets_the_account_in_again(data_dir: Path) -> None:
    cfg = Auth(argon2_memory_kib=1024, argon2_time_cost=1, throttle_failures=2)
    assert run_cli(data_dir, "user", "add", USER, "--email", "a@example.com",
                   "--password-stdin", stdin="pw\n").returncode == 0  # fmt: skip
    assert run_cli(data_dir, "user", "locks").stdout.strip() == "no login is locked"
    # A server process on the same database; its clock a little behind the command's.
    clock = FrozenClock(datetime.now(UTC) - timedelta(seconds=10))
    server = build_gateway(Settings(data_dir=data_dir, auth=cfg), clock=clock).authenticator
    for _ in range(2):
        server.authenticate(USER, "guess", "192.0.2.7")
    assert server.authenticate(USER, "pw", "192.0.2.7").status is AuthStatus.THROTTLED

    listed = run_cli(data_dir, "user", "locks")
    assert USER in listed.stdout and "192.0.2.7" in listed.stdout
    (lock,) = json.loads(run_cli(data_dir, "user", "locks", "--json").stdout)
    assert (lock["username"], lock["client_addr"]) == (USER, "192.0.2.7")

    unlocked = run_cli(data_dir, "user", "unlock", "+1 650 555 1234")
    assert unlocked.returncode == 0, unlocked.stderr
    assert f"account {USER}: unlocked from 192.0.2.7" in unlocked.stdout
    assert run_cli(data_dir, "user", "locks").stdout.strip() == "no login is locked"
    again = run_cli(data_dir, "user", "unlock", USER)
    assert "no login was locked" in again.stdout
    clock.advance(cfg.account_cache_seconds + 0.1)
    assert server.authenticate(USER, "pw", "192.0.2.7").status is AuthStatus.OK

    missing = run_cli(data_dir, "user", "unlock", "4930999999")
    assert missing.returncode == 1 and "no account" in missing.stderr
