"""The annual contribution-base adjustment: batches, their imported wages and their lines.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(12, 2)
STATES = ("pending", "unchanged", "exception", "excluded", "accepted", "refused", "revoked")


def _keys(table: str) -> tuple[sa.ForeignKeyConstraint, sa.ForeignKeyConstraint]:
    return (sa.ForeignKeyConstraint(["batch_id"], ["base_adjustments.workflow_id"],
                                    name=op.f(f"fk_{table}_batch_id_base_adjustments")),
            sa.ForeignKeyConstraint(["employee_id"], ["employees.employee_id"],
                                    name=op.f(f"fk_{table}_employee_id_employees")))


def upgrade() -> None:
    op.create_table(
        "base_adjustments",
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("city", sa.String(32), nullable=False),
        sa.Column("effective_month", sa.String(7), nullable=False),
        sa.Column("maker", sa.String(64), nullable=False),
        sa.Column("wage_file", sa.String(200), nullable=False),
        sa.Column("wage_file_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_base_adjustments")),
    )
    op.create_table(
        "base_adjustment_wages",
        sa.Column("batch_id", sa.String(200), nullable=False),
        sa.Column("employee_id", sa.String(32), nullable=False),
        sa.Column("average_wage", MONEY, nullable=False),
        sa.Column("months_worked", sa.SmallInteger),
        sa.Column("row_number", sa.Integer, nullable=False),
        *_keys("base_adjustment_wages"),
        sa.PrimaryKeyConstraint("batch_id", "employee_id", name=op.f("pk_base_adjustment_wages")),
    )
    op.create_table(
        "base_adjustment_lines",
        sa.Column("batch_id", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("employee_id", sa.String(32), nullable=False),
        sa.Column("old_base", MONEY),
        sa.Column("new_base", MONEY),
        sa.Column("average_wage", MONEY),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("flags", JSONB, nullable=False, server_default="[]"),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("round", sa.Integer, nullable=False, server_default="0"),
        sa.Column("page", sa.Integer),
        sa.Column("monthly_employee", MONEY, nullable=False, server_default="0"),
        sa.Column("monthly_employer", MONEY, nullable=False, server_default="0"),
        sa.Column("cost", JSONB, nullable=False, server_default="{}"),
        sa.Column("note", sa.Text),
        sa.Column("acceptance_no", sa.String(64)),
        sa.Column("refusal_code", sa.String(40)),
        sa.Column("refusal_reason", sa.Text),
        sa.Column("back_pay_months", JSONB, nullable=False, server_default="[]"),
        sa.Column("back_pay_employee", MONEY, nullable=False, server_default="0"),
        sa.Column("back_pay_employer", MONEY, nullable=False, server_default="0"),
        sa.Column("advanced_by", sa.String(200)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"state IN ({', '.join(repr(s) for s in STATES)})",
                           name=op.f("ck_base_adjustment_lines_state_known")),
        sa.UniqueConstraint("batch_id", "employee_id", name=op.f("uq_base_adjustment_lines_batch_id_employee_id")),
        *_keys("base_adjustment_lines"),
        sa.PrimaryKeyConstraint("batch_id", "seq", name=op.f("pk_base_adjustment_lines")),
    )
    op.create_index(op.f("ix_base_adjustment_lines_batch_id_state_round_page"), "base_adjustment_lines",
                    ["batch_id", "state", "round", "page"])


def downgrade() -> None:
    op.drop_table("base_adjustment_lines")
    op.drop_table("base_adjustment_wages")
    op.drop_table("base_adjustments")
