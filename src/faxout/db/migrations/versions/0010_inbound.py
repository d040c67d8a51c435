"""inbound: inboxes, routing rules, block lists, received faxes, fax-to-email, retention

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["accounts.id"],
        name=op.f(f"fk_{table}_account_id_accounts"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    # Plain ADD COLUMN (no batch): see 0009.
    op.add_column("accounts", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("inbound_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_inbound_id", "webhook_deliveries", ["inbound_id"], unique=False
    )
    op.create_table(
        "inboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.Text(), server_default="", nullable=False),
        sa.Column("attach", sa.String(length=8), server_default="pdf", nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _account_fk("inboxes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inboxes")),
        sa.UniqueConstraint("name", name=op.f("uq_inboxes_name")),
    )
    op.create_index("ix_inboxes_account_id", "inboxes", ["account_id"], unique=False)
    op.create_table(
        "inbound_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("called", sa.String(length=64), server_default="", nullable=False),
        sa.Column("caller", sa.String(length=64), server_default="", nullable=False),
        sa.Column("csid", sa.String(length=64), server_default="", nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inboxes.id"],
            name=op.f("fk_inbound_routes_inbox_id_inboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_routes")),
    )
    op.create_index("ix_inbound_routes_position", "inbound_routes", ["position"], unique=False)
    op.create_table(
        "inbound_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        _when("created_at"),
        _account_fk("inbound_blocks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_blocks")),
    )
    op.create_index("ix_inbound_blocks_account_id", "inbound_blocks", ["account_id"], unique=False)
    op.create_table(
        "inbound_faxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=40), nullable=False),
        sa.Column("call_ref", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("caller", sa.String(length=64), server_default="", nullable=False),
        sa.Column("caller_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("csid", sa.String(length=40), server_default="", nullable=False),
        sa.Column("called", sa.String(length=64), server_default="", nullable=False),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("resolution", sa.String(length=16), server_default="", nullable=False),
        sa.Column("bit_rate", sa.Integer(), nullable=True),
        sa.Column("ecm", sa.Boolean(), nullable=True),
        sa.Column("compression", sa.String(length=10), nullable=True),
        sa.Column("line_seconds", sa.Float(), nullable=True),
        sa.Column("t30_code", sa.Integer(), nullable=True),
        sa.Column("t30_text", sa.Text(), server_default="", nullable=False),
        sa.Column("notes", sa.Text(), server_default="[]", nullable=False),
        sa.Column("spool_path", sa.String(length=500), nullable=True),
        sa.Column("blob_key", sa.String(length=200), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("receiver", sa.String(length=100), nullable=False),
        _when("started_at"),
        _when("finished_at", nullable=True),
        _when("updated_at"),
        _when("read_at", nullable=True),
        _when("archived_at", nullable=True),
        _when("purged_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inboxes.id"],
            name=op.f("fk_inbound_faxes_inbox_id_inboxes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_faxes")),
        sa.UniqueConstraint("transport", "call_ref", name=op.f("uq_inbound_faxes_transport")),
    )
    op.create_index(
        "ix_inbound_faxes_inbox_id_started_at",
        "inbound_faxes",
        ["inbox_id", "started_at"],
        unique=False,
    )
    op.create_index("ix_inbound_faxes_state", "inbound_faxes", ["state"], unique=False)
    op.create_table(
        "inbound_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=True),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("tries", sa.Integer(), server_default="0", nullable=False),
        _when("next_at", nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        _when("lease_until", nullable=True),
        _when("created_at"),
        _when("updated_at"),
        _when("sent_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_faxes.id"],
            name=op.f("fk_inbound_mails_inbound_id_inbound_faxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mails")),
        sa.UniqueConstraint("inbound_id", name=op.f("uq_inbound_mails_inbound_id")),
    )
    op.create_index(
        "ix_inbound_mails_state_next_at", "inbound_mails", ["state", "next_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("inbound_mails")
    op.drop_table("inbound_faxes")
    op.drop_table("inbound_blocks")
    op.drop_table("inbound_routes")
    op.drop_table("inboxes")
    op.drop_index("ix_webhook_deliveries_inbound_id", table_name="webhook_deliveries")
    op.drop_column("webhook_deliveries", "inbound_id")
    op.drop_column("accounts", "retention_days")
