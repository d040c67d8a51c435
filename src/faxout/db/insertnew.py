"""``INSERT … ON CONFLICT DO NOTHING RETURNING id``: insert a row unless a unique constraint
already holds one like it, in the caller's transaction, without aborting it (PostgreSQL aborts
a transaction on a failed INSERT; catching the error would be too late)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_new(conn: Connection, table: Table, values: dict[str, Any]) -> int | None:
    """The new row's id, or None when a conflicting row exists already."""
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):  # pragma: no cover - not supported elsewhere
        raise NotImplementedError(f"faxout does not support {dialect}")
    ins = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    # RETURNING, not rowcount: psycopg may report -1 for a statement that inserted nothing.
    row = conn.execute(ins.values(**values).on_conflict_do_nothing().returning(table.c.id)).first()
    return None if row is None else int(row[0])
