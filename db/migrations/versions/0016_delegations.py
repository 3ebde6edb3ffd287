"""Delegations, and the audit trail's "on behalf of".

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delegator", sa.String(length=64), nullable=False),
        sa.Column("delegate", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("processes", postgresql.ARRAY(sa.String(length=20)), server_default="{}", nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("ends_at > starts_at", name="ck_delegations_period_order"),
        sa.CheckConstraint("delegator <> delegate", name="ck_delegations_not_to_oneself"),
        sa.ForeignKeyConstraint(["delegator"], ["staff_members.user_id"], name="fk_delegations_delegator_staff_members"),
        sa.ForeignKeyConstraint(["delegate"], ["staff_members.user_id"], name="fk_delegations_delegate_staff_members"),
        sa.PrimaryKeyConstraint("id", name="pk_delegations"),
    )
    op.create_index("ix_delegations_delegate", "delegations", ["delegate", "delegator"],
                    postgresql_where=sa.text("revoked_at IS NULL"))
    op.add_column("audit_events", sa.Column("on_behalf_of", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_events", "on_behalf_of")
    op.drop_table("delegations")
