"""drop submissions.paper: never written (the paper is each job's, jobs.paper)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never a batch: on SQLite a batch copies the table and drops the old one,
# and with foreign keys on, dropping submissions cascades to every job and document row.
# SQLite has had DROP COLUMN since 3.35 (Debian 12: 3.40). tests/db/test_migrations.py checks
# that an upgrade keeps every row.


def upgrade() -> None:
    op.drop_column("submissions", "paper")


def downgrade() -> None:
    op.add_column(
        "submissions",
        sa.Column("paper", sa.String(length=8), server_default="letter", nullable=False),
    )
