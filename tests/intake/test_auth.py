"""Credential checks: hashing, the verification cache, the per-(username, address) throttle."""

from __future__ import annotations

from pathlib import Path

import pytest

from faxout.accounts.passwords import Passwords
from faxout.clock import FrozenClock
from faxout.db import migrate
from faxout.intake.auth import Authenticator, AuthStatus
from faxout.ops.gateway import build_gateway
from faxout.ops.settings import Auth, Settings


class CountingPasswords(Passwords):
    def __init__(self, cfg: Auth) -> None:
        super().__init__(cfg)
        self.verifications = 0

    def verify(self, stored_hash: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(stored_hash, password)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Authenticator, CountingPasswords, FrozenClock]:
    cfg = Auth(argon2_memory_kib=1024, argon2_time_cost=1)
    clock = FrozenClock()
    gw = build_gateway(Settings(data_dir=tmp_path, auth=cfg), clock=clock)
    migrate.upgrade(gw.engine)
    passwords = CountingPasswords(cfg)
    gw.accounts.add(
        "15550001111", email="a@example.com", password_hash=passwords.hash("pw"), now=clock.now()
    )
    gw.accounts.add(
        "15550002222*9",
        email="b@example.com",
        password_hash=passwords.hash("pw"),
        now=clock.now(),
        fax_prohibited=True,
    )
    return Authenticator(gw.accounts, passwords, cfg, clock), passwords, clock


def test_ok_prohibited_and_wrong(
    setup: tuple[Authenticator, CountingPasswords, FrozenClock],
) -> None:
    auth, _, _ = setup
    assert auth.authenticate("+1 555 000 1111", "pw", "a").status is AuthStatus.OK
    assert auth.authenticate("15550002222*9", "pw", "a").status is AuthStatus.PROHIBITED
    assert auth.authenticate("15550001111", "PW", "a").status is AuthStatus.BAD_CREDENTIALS
    assert auth.authenticate("nobody", "pw", "a").status is AuthStatus.BAD_CREDENTIALS


def test_cache_skips_hashing_until_it_expires(
    setup: tuple[Authenticator, CountingPasswords, FrozenClock],
) -> None:
    auth, pw, clock = setup
    auth.authenticate("15550001111", "pw", "a")
    before = pw.verifications
    for _ in range(5):
        assert auth.authenticate("15550001111", "pw", "b").status is AuthStatus.OK
    assert pw.verifications == before
    clock.advance(301)
    auth.authenticate("15550001111", "pw", "a")
    assert pw.verifications == before + 1
    # A wrong password is never served from the cache.
    assert auth.authenticate("15550001111", "wrong", "a").status is AuthStatus.BAD_CREDENTIALS


def test_throttle_locks_one_pair_only(
    setup: tuple[Authenticator, CountingPasswords, FrozenClock],
) -> None:
    auth, pw, clock = setup
    for _ in range(10):
        assert (
            auth.authenticate("15550001111", "guess", "10.0.0.9").status
            is AuthStatus.BAD_CREDENTIALS
        )
    checks = pw.verifications
    assert auth.authenticate("15550001111", "pw", "10.0.0.9").status is AuthStatus.THROTTLED
    assert pw.verifications == checks  # no password check while locked
    assert auth.authenticate("15550001111", "pw", "10.0.0.1").status is AuthStatus.OK
    clock.advance(299)
    assert auth.authenticate("15550001111", "pw", "10.0.0.9").status is AuthStatus.THROTTLED
    clock.advance(2)
    assert auth.authenticate("15550001111", "pw", "10.0.0.9").status is AuthStatus.OK


def test_failures_outside_the_window_do_not_add_up(
    setup: tuple[Authenticator, CountingPasswords, FrozenClock],
) -> None:
    auth, _, clock = setup
    for _ in range(9):
        auth.authenticate("15550001111", "guess", "x")
    clock.advance(601)
    auth.authenticate("15550001111", "guess", "x")
    assert auth.authenticate("15550001111", "pw", "x").status is AuthStatus.OK
