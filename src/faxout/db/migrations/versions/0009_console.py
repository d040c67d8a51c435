"""console: operators, address books, login locks, shared server secrets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch): on SQLite a batch copies and drops the table, and with
    # foreign keys on, dropping accounts would delete what refers to it.
    op.add_column(
        "accounts", sa.Column("operator", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("accounts", sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("company", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contacts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index("ix_contacts_account_id_name", "contacts", ["account_id", "name"])
    op.create_table(
        "contact_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contact_groups_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_groups")),
        sa.UniqueConstraint("account_id", "name", name="uq_contact_groups_account_id_name"),
    )
    op.create_table(
        "contact_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["contact_groups.id"],
            name=op.f("fk_contact_group_members_group_id_contact_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_group_members_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "contact_id", name=op.f("pk_contact_group_members")),
    )
    op.create_index("ix_contact_group_members_contact_id", "contact_group_members", ["contact_id"])
    op.create_table(
        "login_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_locks")),
    )
    op.create_index("ix_login_locks_username", "login_locks", ["username"])
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
    op.drop_index("ix_login_locks_username", table_name="login_locks")
    op.drop_table("login_locks")
    op.drop_index("ix_contact_group_members_contact_id", table_name="contact_group_members")
    op.drop_table("contact_group_members")
    op.drop_table("contact_groups")
    op.drop_index("ix_contacts_account_id_name", table_name="contacts")
    op.drop_table("contacts")
    op.drop_column("accounts", "unlocked_at")
    op.drop_column("accounts", "operator")
