"""The members behind each monthly report figure, stored with the figures they were counted in.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_members",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("dimension", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=32), nullable=True),
        sa.Column("workflow_id", sa.String(length=200), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("outstanding", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.ForeignKeyConstraint(["month"], ["report_runs.month"], ondelete="CASCADE",
                                name=op.f("fk_report_members_month_report_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_members")),
    )
    op.create_index(op.f("ix_report_members_month_metric_dimension_id"), "report_members",
                    ["month", "metric", "dimension", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_members_month_metric_dimension_id"), table_name="report_members")
    op.drop_table("report_members")
