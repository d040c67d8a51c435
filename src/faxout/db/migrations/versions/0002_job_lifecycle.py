"""job lifecycle

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 20:46:06.374047
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "lines",
        sa.Column("transport", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("transport", "line_no", name=op.f("pk_lines")),
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=12), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("transport", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("first_page", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("t30_code", sa.Integer(), nullable=True),
        sa.Column("t30_text", sa.Text(), nullable=True),
        sa.Column("pages_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pages_confirmed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pages_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("modem", sa.String(length=20), nullable=True),
        sa.Column("bit_rate", sa.Integer(), nullable=True),
        sa.Column("ecm", sa.Boolean(), nullable=True),
        sa.Column("compression", sa.String(length=10), nullable=True),
        sa.Column("remote_csid", sa.String(length=40), nullable=True),
        sa.Column("line_seconds", sa.Float(), nullable=True),
        sa.Column("wall_seconds", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dialing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_attempts_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempts_job_id"), ["job_id"], unique=False)

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kill_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cover_key", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("resume_page", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("pages_confirmed", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paper", sa.String(length=8), server_default="letter", nullable=False)
        )
        batch_op.add_column(sa.Column("rendered_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pages", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("render_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("render_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("render_warnings", sa.Text(), server_default="[]", nullable=False)
        )
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_submissions_state", ["state"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_state")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("render_warnings")
        batch_op.drop_column("render_error")
        batch_op.drop_column("render_count")
        batch_op.drop_column("pages")
        batch_op.drop_column("rendered_key")
        batch_op.drop_column("paper")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("finished_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("reason")
        batch_op.drop_column("pages_confirmed")
        batch_op.drop_column("resume_page")
        batch_op.drop_column("cover_key")
        batch_op.drop_column("kill_at")

    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempts_job_id"))

    op.drop_table("attempts")
    op.drop_table("lines")
