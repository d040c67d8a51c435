"""API tokens: what a program shows to use the status API on behalf of one account.

A token is ``fxo_`` and 43 characters of ``secrets.token_urlsafe(32)`` (256 random bits). It is
shown once, when created; only its SHA-256 is kept, so a copy of the database gives no token
(with 256 random bits a fast hash is as safe as a slow one). A token carries scopes: ``read``
(look at faxes) and ``send`` (submit, cancel, retry, resend). It may expire, and it can be
revoked at any time; either takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from faxout.db.engine import reading, transaction
from faxout.db.tables import accounts, api_tokens

PREFIX = "fxo_"
SCOPES = ("read", "send")
_SHOWN = 8  # characters of a token that `faxout token list` shows


class TokenError(ValueError):
    """A token request that cannot be honoured (unknown scope, expiry in the past)."""


@dataclass(frozen=True)
class Token:
    """A token as stored (never its secret)."""

    id: int
    account_id: int
    username: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """``scopes`` in canonical order, or ``TokenError`` naming the unknown one."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise TokenError(f"unknown scope {unknown[0]!r}: the scopes are {', '.join(SCOPES)}")
    if not scopes:
        raise TokenError("a token needs at least one scope")
    return tuple(s for s in SCOPES if s in scopes)


_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.account_id,
    accounts.c.username,
    api_tokens.c.prefix,
    api_tokens.c.scopes,
    api_tokens.c.created_at,
    api_tokens.c.expires_at,
    api_tokens.c.revoked_at,
    api_tokens.c.last_used_at,
)


def _token(row: object) -> Token:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    values["scopes"] = tuple(s for s in values["scopes"].split(",") if s)
    return Token(**values)


class TokenRepo:
    """Create, find, list and revoke API tokens."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        account_id: int,
        scopes: tuple[str, ...],
        now: datetime,
        expires_at: datetime | None = None,
    ) -> tuple[str, Token]:
        """A new token for the account: its secret (shown once) and its record."""
        scopes = check_scopes(scopes)
        if expires_at is not None and expires_at <= now:
            raise TokenError("the expiry must lie in the future")
        secret = PREFIX + secrets.token_urlsafe(32)
        with transaction(self._engine) as conn:
            token_id = conn.execute(
                insert(api_tokens)
                .values(
                    account_id=account_id,
                    token_hash=_digest(secret),
                    prefix=secret[: len(PREFIX) + _SHOWN],
                    scopes=",".join(scopes),
                    created_at=now,
                    expires_at=expires_at,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
        found = self.get(int(token_id))
        assert found is not None
        return secret, found

    def get(self, token_id: int) -> Token | None:
        """The token with this id."""
        with reading(self._engine) as conn:
            row = conn.execute(
                select(*_COLUMNS).join(accounts).where(api_tokens.c.id == token_id)
            ).first()
        return _token(row) if row else None

    def verify(self, secret: str, now: datetime) -> Token | None:
        """The usable token whose secret this is (its use recorded), or None."""
        if not secret.startswith(PREFIX) or len(secret) > 100:
            return None
        with reading(self._engine) as conn:
            row = conn.execute(
                select(*_COLUMNS).join(accounts).where(api_tokens.c.token_hash == _digest(secret))
            ).first()
        if row is None:
            return None
        token = _token(row)
        if not token.usable(now):
            return None
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            with transaction(self._engine) as conn:  # at most one write a minute per token
                conn.execute(
                    update(api_tokens).where(api_tokens.c.id == token.id).values(last_used_at=now)
                )
        return token

    def list(self, account_id: int) -> list[Token]:
        """The account's tokens, newest first, revoked ones included."""
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(*_COLUMNS)
                .join(accounts)
                .where(api_tokens.c.account_id == account_id)
                .order_by(api_tokens.c.id.desc())
            ).all()
        return [_token(r) for r in rows]

    def revoke(self, token_id: int, now: datetime) -> bool:
        """Revoke a token; False if there is no such token or it was revoked already."""
        with transaction(self._engine) as conn:
            res = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return bool(res.rowcount == 1)
