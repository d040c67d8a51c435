"""what the recipient receives: per-account header, paper and dialling; per-job paper

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# name, type, server default
_ACCOUNT_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[str], str], ...] = (
    ("region", sa.String(length=2), ""),
    ("time_zone", sa.String(length=64), ""),
    ("station", sa.String(length=20), ""),
    ("tagline", sa.Text(), ""),
    ("paper", sa.String(length=8), ""),
    ("dial_allow", sa.Text(), "[]"),
    ("dial_deny", sa.Text(), "[]"),
)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        for name, type_, default in _ACCOUNT_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, server_default=default, nullable=False))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paper", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("rendered_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pages", sa.Integer(), nullable=True))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("render_diagnostic", sa.Text(), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("render_diagnostic")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("pages")
        batch_op.drop_column("rendered_key")
        batch_op.drop_column("paper")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        for name, _type, _default in reversed(_ACCOUNT_COLUMNS):
            batch_op.drop_column(name)
