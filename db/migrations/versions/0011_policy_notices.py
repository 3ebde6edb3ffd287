"""Operator notices for the policy catalogue: maker-checker entries of official local figures.

The content of a notice is immutable once entered: a trigger refuses any UPDATE that changes it or
that decides a notice already decided, and every DELETE.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_CONTENT = ("kind", "region", "city", "scope", "effective_from", "effective_to", "floor", "ceiling",
            "average_wage", "minimum_wage", "figures", "rule", "source_name", "source_url", "document_number",
            "source_material_id", "supersedes", "entered_by", "entered_at")


def upgrade() -> None:
    money = sa.Numeric(precision=12, scale=2)
    op.create_table(
        "policy_notices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=True),
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("floor", money, nullable=True),
        sa.Column("ceiling", money, nullable=True),
        sa.Column("average_wage", money, nullable=True),
        sa.Column("minimum_wage", money, nullable=True),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rule", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=True),
        sa.Column("document_number", sa.String(length=80), nullable=True),
        sa.Column("source_material_id", sa.BigInteger(), nullable=True),
        sa.Column("supersedes", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=12), server_default="entered", nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('contribution_base', 'contribution_rates', 'housing_fund', "
                           "'holiday_arrangement', 'maternity_leave')", name=op.f("ck_policy_notices_kind_known")),
        sa.CheckConstraint("state IN ('entered', 'approved', 'rejected', 'withdrawn')",
                           name=op.f("ck_policy_notices_state_known")),
        sa.CheckConstraint("effective_to IS NULL OR effective_to >= effective_from",
                           name=op.f("ck_policy_notices_dates_in_order")),
        sa.CheckConstraint("floor IS NULL OR ceiling IS NULL OR floor <= ceiling",
                           name=op.f("ck_policy_notices_floor_not_above_ceiling")),
        sa.CheckConstraint("(state = 'entered') = (decided_by IS NULL)", name=op.f("ck_policy_notices_decided_once")),
        sa.CheckConstraint("state <> 'approved' OR decided_by <> entered_by",
                           name=op.f("ck_policy_notices_maker_is_not_checker")),
        sa.CheckConstraint("state <> 'withdrawn' OR decided_by = entered_by",
                           name=op.f("ck_policy_notices_withdrawn_by_maker")),
        sa.CheckConstraint("state <> 'rejected' OR length(trim(reason)) > 0",
                           name=op.f("ck_policy_notices_rejection_has_reason")),
        sa.ForeignKeyConstraint(["supersedes"], ["policy_notices.id"], name=op.f("fk_policy_notices_supersedes_policy_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_notices")),
    )
    op.create_index(op.f("ix_policy_notices_scope_state"), "policy_notices", ["scope", "state"])
    op.create_index(op.f("ix_policy_notices_state_id"), "policy_notices", ["state", "id"])
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _CONTENT)
    op.execute(f"""
        CREATE FUNCTION policy_notices_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'policy_notices are immutable: a notice is never deleted';
            END IF;
            IF {changed} THEN
                RAISE EXCEPTION 'policy_notices are immutable: enter a new notice instead';
            END IF;
            IF OLD.state <> 'entered' THEN
                RAISE EXCEPTION 'policy_notices are immutable: notice % is already %', OLD.id, OLD.state;
            END IF;
            RETURN NEW;
        END $$;
    """)
    op.execute("CREATE TRIGGER policy_notices_immutable BEFORE UPDATE OR DELETE ON policy_notices "
               "FOR EACH ROW EXECUTE FUNCTION policy_notices_immutable()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS policy_notices_immutable ON policy_notices")
    op.execute("DROP FUNCTION IF EXISTS policy_notices_immutable()")
    op.drop_index(op.f("ix_policy_notices_state_id"), table_name="policy_notices")
    op.drop_index(op.f("ix_policy_notices_scope_state"), table_name="policy_notices")
    op.drop_table("policy_notices")
