"""API tokens on SQLite and PostgreSQL: a token works until it expires or is revoked, and
only its own secret opens it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from faxout.accounts.tokens import TokenRepo
from faxout.db.tables import api_tokens
from tests.db.records import NOW, add_account


def test_a_token_works_until_it_expires_or_is_revoked(engine: Engine) -> None:
    repo = TokenRepo(engine)
    account = add_account(engine)
    secret, made = repo.create(account.id, ("read",), NOW, expires_at=NOW + timedelta(days=1))
    found = repo.verify(secret, NOW + timedelta(hours=23))
    assert found is not None and (found.id, found.scopes) == (made.id, ("read",))
    assert repo.verify(secret, NOW + timedelta(days=1)) is None  # expired
    other, kept = repo.create(account.id, ("send", "read"), NOW)
    assert kept.scopes == ("read", "send")
    assert repo.verify(other, NOW) is not None and repo.verify(other + "x", NOW) is None
    assert repo.revoke(kept.id, NOW) and not repo.revoke(kept.id, NOW)
    assert repo.verify(other, NOW) is None


def test_only_a_digest_of_the_secret_is_stored(engine: Engine) -> None:
    secret, _ = TokenRepo(engine).create(add_account(engine).id, ("read",), NOW)
    with engine.connect() as conn:
        stored = [str(v) for row in conn.execute(select(api_tokens)).all() for v in row]
    assert not any(secret in v or secret[4:] in v for v in stored)
