"""history: an account's submissions newest first, and a partial index of the rows leased now
on every growing leased table, so that a million finished faxes slow neither the lists nor
the reconciler (bench/history.py)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_LEASED = ("submissions", "jobs", "outbox", "webhook_deliveries", "inbound_mails")


def upgrade() -> None:
    op.create_index("ix_submissions_account_id_id", "submissions", ["account_id", "id"])
    held = sa.text("lease_owner IS NOT NULL")
    for table in _LEASED:
        op.create_index(
            f"ix_{table}_lease_owner",
            table,
            ["lease_owner"],
            sqlite_where=held,
            postgresql_where=held,
        )


def downgrade() -> None:
    for table in reversed(_LEASED):
        op.drop_index(f"ix_{table}_lease_owner", table_name=table)
    op.drop_index("ix_submissions_account_id_id", table_name="submissions")
