"""backlog: the dispatcher's due order and the kill-time search as indexes, so a broadcast's
10,000 waiting jobs are not sorted or scanned at every pass (bench/burst.py)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_state_kill_at", "jobs", ["state", "kill_at"])
    op.create_index(
        "ix_jobs_state_due_id",
        "jobs",
        ["state", sa.text("coalesce(next_attempt_at, send_at)"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_state_due_id", table_name="jobs")
    op.drop_index("ix_jobs_state_kill_at", table_name="jobs")
