"""Credential checks shared by every API: argon2id, a verification cache, a login throttle.

- Hashing costs tens of milliseconds by design, so a successful verification is remembered for
  ``auth.cache_seconds`` under an HMAC of (username, password, stored hash) with a key that
  lives only in this process: the cache holds no password, and changing the password (a new
  stored hash) invalidates the entry at once.
- The account row itself is reused for ``auth.account_cache_seconds`` (2 s): a password change or
  ``--fax-prohibited`` takes effect within that time, in every worker process.
- After ``auth.throttle_failures`` failures within ``auth.throttle_window_seconds`` for one
  username from one client address, that pair is answered "authorization failed" without a
  password check for ``auth.throttle_lock_seconds``. Other addresses are not affected, so an
  attacker cannot lock the real user out from elsewhere. The address is the TCP peer's: an
  ``X-Forwarded-For`` header counts only when ``trusted_proxies`` names the peer (the server is
  started with ``faxout.intake.proxies.server_options``), else rotating the header would give
  every failure a fresh pair.
- A lock is also written to ``login_locks`` when it starts (``faxout.accounts.locks``; rare, and
  outside the in-process lock), so an operator sees every worker's locks and can lift them. The
  check stays in memory: a lock that started before the account's ``unlocked_at`` is void, and
  as the account row is reread within ``auth.account_cache_seconds``, an unlock takes effect in
  every worker process within that time. A database error while recording a lock is logged and
  never fails the login check.
- ``AuthResult.username`` is what the request log may show: a username that is not a plausible
  number (a password typed into the wrong field) is reduced to its length.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from faxout.accounts.locks import LoginLocks
from faxout.accounts.passwords import Passwords
from faxout.accounts.repo import Account, AccountRepo
from faxout.accounts.settings import Auth
from faxout.clock import Clock
from faxout.errors import FaxoutError
from faxout.jobs.numbers import InvalidNumberError, loggable_username, normalize_username

MAX_TRACKED_PAIRS = 100_000
log = logging.getLogger("faxout.auth")


class AuthStatus(enum.Enum):
    """What a credential check concluded."""

    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    THROTTLED = "throttled"
    PROHIBITED = "prohibited"


@dataclass(frozen=True)
class AuthResult:
    """The verdict and, when the credentials were right, the account."""

    status: AuthStatus
    account: Account | None = None
    username: str = ""  # fit for the log: never a mistyped password (``loggable_username``)


@dataclass(frozen=True)
class _Locked:
    """A lock in force: until when (monotonic), since when (wall time, as on record), and
    whether the username was an account's (only an account's locks can be lifted)."""

    until: float
    since: datetime
    account: bool


class _Throttle:
    """Failures per (username, address) in a sliding window, with a lock-out."""

    def __init__(self, cfg: Auth, clock: Clock) -> None:
        self._cfg = cfg
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._locked: dict[tuple[str, str], _Locked] = {}

    def locked(self, pair: tuple[str, str]) -> _Locked | None:
        """The lock on ``pair``, if one is in force."""
        lock = self._locked.get(pair)
        if lock is None:
            return None
        if self._clock.monotonic() < lock.until:
            return lock
        self.lift(pair)
        return None

    def lift(self, pair: tuple[str, str]) -> None:
        """Forget the lock on ``pair`` and its failures (run out, or lifted by an operator)."""
        self._locked.pop(pair, None)
        self._failures.pop(pair, None)

    def fail(self, pair: tuple[str, str], account: bool) -> _Locked | None:
        """Count a failure (``account``: the username is an account's); the new lock when this
        one started it."""
        now = self._clock.monotonic()
        window = self._failures.pop(pair, None) or deque()
        window.append(now)
        while window and window[0] <= now - self._cfg.throttle_window_seconds:
            window.popleft()
        self._failures[pair] = window  # most recent last, for eviction
        started = None
        if len(window) >= self._cfg.throttle_failures:
            until = now + self._cfg.throttle_lock_seconds
            started = _Locked(until, self._clock.now(), account)
            self._locked[pair] = started
        while len(self._failures) > MAX_TRACKED_PAIRS:
            old, _ = self._failures.popitem(last=False)
            self._locked.pop(old, None)
        return started

    def succeed(self, pair: tuple[str, str]) -> None:
        self._failures.pop(pair, None)


class Authenticator:
    """Checks FaxOut credentials; thread-safe (handlers call it from worker threads)."""

    def __init__(
        self,
        repo: AccountRepo,
        passwords: Passwords,
        cfg: Auth,
        clock: Clock,
        *,
        locks: LoginLocks | None = None,
    ) -> None:
        self._repo = repo
        self._locks = locks  # None: locks stay in this process's memory only
        self._passwords = passwords
        self._cfg = cfg
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, float] = OrderedDict()
        self._accounts: OrderedDict[str, tuple[float, Account]] = OrderedDict()
        self._throttle = _Throttle(cfg, clock)
        self._lock = threading.Lock()
        # Verified against when the username is unknown, so both paths cost the same.
        self._dummy_hash = passwords.hash(secrets.token_urlsafe(16))

    def _cache_key(self, username: str, password: str, stored: str) -> bytes:
        msg = b"\0".join(s.encode("utf-8", "surrogatepass") for s in (username, password, stored))
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def _cached(self, key: bytes) -> bool:
        with self._lock:
            expires = self._cache.get(key)
            if expires is None:
                return False
            if self._clock.monotonic() >= expires:
                del self._cache[key]
                return False
            return True

    def _remember(self, key: bytes) -> None:
        if self._cfg.cache_entries == 0 or self._cfg.cache_seconds == 0:
            return
        with self._lock:
            self._cache[key] = self._clock.monotonic() + self._cfg.cache_seconds
            self._cache.move_to_end(key)
            while len(self._cache) > self._cfg.cache_entries:
                self._cache.popitem(last=False)

    def _account(self, user: str) -> Account | None:
        """The account row, reused for ``account_cache_seconds`` (a changed password or a
        prohibition takes effect within that time)."""
        ttl = self._cfg.account_cache_seconds
        now = self._clock.monotonic()
        with self._lock:
            hit = self._accounts.get(user)
            if hit is not None and hit[0] > now:
                return hit[1]
        account = self._repo.get(user)
        if account is not None and ttl > 0:
            with self._lock:
                self._accounts[user] = (now + ttl, account)
                self._accounts.move_to_end(user)
                while len(self._accounts) > max(self._cfg.cache_entries, 1):
                    self._accounts.popitem(last=False)
        return account

    def authenticate(self, username: str, password: str, client_addr: str) -> AuthResult:
        """Check a username/password pair sent from ``client_addr``."""
        try:
            user = shown = normalize_username(username)
        except InvalidNumberError:
            user = username.strip()
            shown = loggable_username(user)
        pair = (user, client_addr)
        with self._lock:
            lock = self._throttle.locked(pair)
        if lock is not None:
            # A lock on a name that is no account's is never lifted: it costs no account read.
            if not (lock.account and self._unlocked_since(user, lock.since)):
                return AuthResult(AuthStatus.THROTTLED, username=shown)
            with self._lock:
                self._throttle.lift(pair)
        account = self._account(user) if user else None
        ok = False
        started: _Locked | None = None
        if account is not None and password:
            key = self._cache_key(user, password, account.password_hash)
            ok = self._cached(key) or self._passwords.verify(account.password_hash, password)
            if ok:
                self._remember(key)
        else:
            self._passwords.verify(self._dummy_hash, password or "-")
        with self._lock:
            if ok:
                self._throttle.succeed(pair)
            else:
                started = self._throttle.fail(pair, account is not None)
        if not ok:
            if started is not None:
                self._record(pair, started)
            return AuthResult(AuthStatus.BAD_CREDENTIALS, username=shown)
        assert account is not None
        if account.fax_prohibited:
            return AuthResult(AuthStatus.PROHIBITED, account, user)
        return AuthResult(AuthStatus.OK, account, user)

    def hash_password(self, password: str) -> str:
        """The stored form of a new password (argon2id, the gateway's parameters)."""
        return self._passwords.hash(password)

    def _unlocked_since(self, user: str, since: datetime) -> bool:
        """An operator lifted the account's locks after ``since`` (``LoginLocks.unlock``)."""
        account = self._account(user)
        unlocked = account.unlocked_at if account is not None else None
        # At or after: a frozen test clock, or a coarse one, gives both the same reading.
        return unlocked is not None and unlocked >= since

    def _record(self, pair: tuple[str, str], lock: _Locked) -> None:
        """Put a lock that just started on record, for the operator; a database that fails
        here must not fail the login check (the lock holds in memory regardless)."""
        if self._locks is None or self._cfg.throttle_lock_seconds <= 0:
            return
        until = lock.since + timedelta(seconds=self._cfg.throttle_lock_seconds)
        try:
            self._locks.record(pair[0], pair[1], lock.since, until)
        except FaxoutError as exc:
            log.warning("login lock of %s not recorded: %s", loggable_username(pair[0]), exc)
