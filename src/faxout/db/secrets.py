"""Keys every server of one gateway shares, kept in its database (``server_secrets``).

The first server that asks for a name makes its value; a concurrent first ask loses the insert
race and reads the winner's, so all processes, on one machine or many, agree on one value.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from faxout.db.engine import reading, transaction
from faxout.db.tables import server_secrets


def shared_secret(engine: Engine, name: str, now: datetime) -> str:
    """The value of secret ``name`` (256 random bits, URL-safe), made on first use."""
    with reading(engine) as conn:
        found = conn.execute(
            select(server_secrets.c.value).where(server_secrets.c.name == name)
        ).scalar_one_or_none()
    if found is not None:
        return str(found)
    value = secrets.token_urlsafe(32)
    with transaction(engine) as conn:
        try:
            with conn.begin_nested():
                conn.execute(insert(server_secrets).values(name=name, value=value, created_at=now))
        except IntegrityError:
            pass  # another process made it first: theirs is the one
    with reading(engine) as conn:
        return str(
            conn.execute(
                select(server_secrets.c.value).where(server_secrets.c.name == name)
            ).scalar_one()
        )
