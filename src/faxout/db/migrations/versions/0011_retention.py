"""retention: submissions.purged_at, the indexes retention searches by, and one on each column
that names a stored blob (faxout.db.blobrefs asks whether a key is still named)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


# (table, column) of every blob key: without an index, each check would scan the table.
_KEYS = (
    ("documents", "blob_key"),
    ("submissions", "rendered_key"),
    ("jobs", "rendered_key"),
    ("jobs", "cover_key"),
    ("inbound_faxes", "blob_key"),
)


def upgrade() -> None:
    # Plain ADD COLUMN (no batch): see 0009.
    op.add_column("submissions", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_submissions_purged_at_created_at",
        "submissions",
        ["purged_at", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_inbound_faxes_purged_at_finished_at",
        "inbound_faxes",
        ["purged_at", "finished_at"],
        unique=False,
    )
    for table, column in _KEYS:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(_KEYS):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    op.drop_index("ix_inbound_faxes_purged_at_finished_at", table_name="inbound_faxes")
    op.drop_index("ix_submissions_purged_at_created_at", table_name="submissions")
    op.drop_column("submissions", "purged_at")
