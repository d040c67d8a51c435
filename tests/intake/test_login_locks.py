"""Login locks on record (``faxout.accounts.locks``) and their lifting through ``unlocked_at``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from faxout.accounts.locks import LoginLocks
from faxout.accounts.passwords import Passwords
from faxout.accounts.repo import AccountError
from faxout.clock import FrozenClock
from faxout.db import migrate
from faxout.errors import DatabaseError
from faxout.intake.auth import Authenticator, AuthStatus
from faxout.ops.gateway import Gateway, build_gateway
from faxout.ops.settings import Auth, Settings

USER = "15550001111"
CFG = Auth(argon2_memory_kib=1024, argon2_time_cost=1, throttle_failures=3)


@pytest.fixture
def gw(tmp_path: Path) -> Gateway:
    gw = build_gateway(Settings(data_dir=tmp_path, auth=CFG), clock=FrozenClock())
    migrate.upgrade(gw.engine)
    gw.accounts.add(
        USER, email="a@example.com", password_hash=gw.passwords.hash("pw"), now=gw.clock.now()
    )
    return gw


def _worker(gw: Gateway) -> Authenticator:
    """Another worker process's authenticator: its own memory, the same database."""
    return Authenticator(gw.accounts, Passwords(CFG), CFG, gw.clock, locks=LoginLocks(gw.engine))


def _lock_out(auth: Authenticator, addr: str = "10.0.0.9") -> None:
    for _ in range(CFG.throttle_failures):
        assert auth.authenticate(USER, "guess", addr).status is AuthStatus.BAD_CREDENTIALS
    assert auth.authenticate(USER, "pw", addr).status is AuthStatus.THROTTLED


def test_a_lock_is_recorded_and_listed_until_it_runs_out(gw: Gateway) -> None:
    clock = gw.clock
    assert isinstance(clock, FrozenClock)
    locks = LoginLocks(gw.engine)
    _lock_out(gw.authenticator)
    [lock] = locks.active(clock.now())
    assert (lock.username, lock.client_addr) == (USER, "10.0.0.9")
    assert lock.locked_until - lock.locked_at == timedelta(seconds=CFG.throttle_lock_seconds)
    clock.advance(CFG.throttle_lock_seconds + 1)
    assert locks.active(clock.now()) == []
    # The next lock to start sweeps the rows that ran out.
    _lock_out(gw.authenticator, "10.0.0.7")
    assert [x.client_addr for x in locks.active(clock.now())] == ["10.0.0.7"]
    with gw.engine.connect() as conn:
        from faxout.db.tables import login_locks

        assert len(conn.execute(login_locks.select()).all()) == 1


def test_unlock_lifts_the_lock_in_every_worker_within_the_account_cache(gw: Gateway) -> None:
    clock = gw.clock
    assert isinstance(clock, FrozenClock)
    one, two = gw.authenticator, _worker(gw)
    _lock_out(one)
    _lock_out(two)
    clock.advance(1)
    lifted = LoginLocks(gw.engine).unlock("+1 555 000 1111", clock.now())
    assert [x.client_addr for x in lifted] == ["10.0.0.9", "10.0.0.9"]
    assert LoginLocks(gw.engine).active(clock.now()) == []
    account = gw.accounts.get(USER)
    assert account is not None and account.unlocked_at == clock.now()
    clock.advance(CFG.account_cache_seconds + 0.1)  # each worker rereads the account row
    assert one.authenticate(USER, "pw", "10.0.0.9").status is AuthStatus.OK
    assert two.authenticate(USER, "pw", "10.0.0.9").status is AuthStatus.OK


def test_a_lock_that_starts_after_the_unlock_holds(gw: Gateway) -> None:
    clock = gw.clock
    assert isinstance(clock, FrozenClock)
    LoginLocks(gw.engine).unlock(USER, clock.now())
    clock.advance(5)
    _lock_out(gw.authenticator)
    clock.advance(CFG.account_cache_seconds + 0.1)
    assert gw.authenticator.authenticate(USER, "pw", "10.0.0.9").status is AuthStatus.THROTTLED


def test_a_name_that_is_no_account_is_locked_without_reading_accounts(gw: Gateway) -> None:
    auth = gw.authenticator
    for _ in range(CFG.throttle_failures):
        auth.authenticate("15559999999", "guess", "x")
    reads = []
    real = gw.accounts.get
    gw.accounts.get = lambda user: reads.append(user) or real(user)  # type: ignore[method-assign]
    assert auth.authenticate("15559999999", "pw", "x").status is AuthStatus.THROTTLED
    assert reads == []


def test_unlock_of_no_account_says_so(gw: Gateway) -> None:
    with pytest.raises(AccountError, match="no account"):
        LoginLocks(gw.engine).unlock("15557777777", gw.clock.now())


def test_a_database_that_fails_to_record_does_not_fail_the_login_check(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(LoginLocks):
        def record(self, *args: object) -> None:  # type: ignore[override]
            raise DatabaseError("database is locked")

    auth = Authenticator(gw.accounts, Passwords(CFG), CFG, gw.clock, locks=Broken(gw.engine))
    _lock_out(auth)
    assert "login lock of 15550001111 not recorded" in caplog.text
