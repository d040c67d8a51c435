"""The console's sessions: a signed cookie, nothing kept on the server.

- The cookie holds the account's id, a fingerprint of its password hash, when the session began
  and was last used, and its CSRF token, signed (HMAC-SHA1 by itsdangerous, with a key shared
  by every server through the database: ``faxout.db.secrets``). It is ``HttpOnly``,
  ``SameSite=Lax``, and ``Secure`` over HTTPS.
- A session ends after ``session_idle_minutes`` unused or ``session_max_hours`` in all; a new
  password (any change of the stored hash: a reset, ``faxout user passwd``) ends every session
  of the account at its next request, since the fingerprint no longer matches.
- Before signing in the cookie holds only a CSRF token, so the sign-in form is protected too.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from faxout.intake.console.settings import ConsoleSettings

COOKIE = "faxout_session"
TOUCH_SECONDS = 300  # the cookie is rewritten at most this often to record use


def fingerprint(password_hash: str) -> str:
    """What a session keeps of the password hash it began with (not the hash itself)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Session:
    """One browser's session; ``account_id`` 0 before signing in."""

    csrf: str
    account_id: int = 0
    password: str = ""  # fingerprint() of the hash it signed in with
    began: float = 0.0  # Unix times
    seen: float = 0.0

    @property
    def signed_in(self) -> bool:
        """Whether an account signed in."""
        return self.account_id > 0

    @staticmethod
    def anonymous() -> Session:
        """A new session that has not signed in."""
        return Session(csrf=secrets.token_urlsafe(24))

    def signed_in_as(self, account_id: int, password_hash: str, now: float) -> Session:
        """The session after signing in: a fresh CSRF token (a token seen before sign-in
        cannot be carried into the session)."""
        return Session(
            csrf=secrets.token_urlsafe(24),
            account_id=account_id,
            password=fingerprint(password_hash),
            began=now,
            seen=now,
        )

    def touched(self, now: float) -> Session:
        """The session used at ``now``."""
        return replace(self, seen=now)


class SessionCodec:
    """Turns sessions into cookie values and back, checking signature and age."""

    def __init__(self, key: Callable[[], str], cfg: ConsoleSettings) -> None:
        self._key = key  # read at first use: the database may not be ready when the app is made
        self._made: URLSafeSerializer | None = None
        self._cfg = cfg

    @property
    def _serializer(self) -> URLSafeSerializer:
        if self._made is None:
            self._made = URLSafeSerializer(self._key(), salt="faxout.console.session")
        return self._made

    def dumps(self, session: Session) -> str:
        """The cookie value."""
        return str(
            self._serializer.dumps(
                [session.csrf, session.account_id, session.password, session.began, session.seen]
            )
        )

    def loads(self, value: str, now: float) -> Session | None:
        """The session in a cookie value; None when forged, malformed or expired."""
        try:
            csrf, account_id, password, began, seen = self._serializer.loads(value)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(csrf, str) or not isinstance(account_id, int):
            return None
        if not isinstance(began, int | float) or not isinstance(seen, int | float):
            return None
        session = Session(csrf, account_id, str(password), float(began), float(seen))
        if session.signed_in and self.expired(session, now):
            return None
        return session

    def expired(self, session: Session, now: float) -> bool:
        """Whether a signed-in session has been idle or alive too long."""
        idle = now - session.seen > self._cfg.session_idle_minutes * 60
        old = now - session.began > self._cfg.session_max_hours * 3600
        return idle or old


def unix(when: datetime) -> float:
    """A clock reading as Unix time."""
    return when.timestamp()
