"""Alembic environment: runs against the connection ``faxout.db.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from faxout.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the alembic CLI gets here
    raise RuntimeError("run migrations with `faxout migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite has almost no ALTER TABLE: batch mode copies and moves
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
