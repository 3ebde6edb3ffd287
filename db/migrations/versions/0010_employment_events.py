"""Her employment in one place: status and last day on the employee, and each change as an event;
tasks done by hand, which outlive their case.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("employees", sa.Column("employment_status", sa.String(length=20), server_default="active",
                                         nullable=False))
    op.add_column("employees", sa.Column("leaving_on", sa.Date(), nullable=True))
    op.create_check_constraint(op.f("ck_employees_employment_status_known"), "employees",
                               "employment_status IN ('active', 'notice_given', 'departed')")
    op.create_table(
        "employment_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.String(length=250), nullable=False),
        sa.Column("employee_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("told", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('notice_given', 'notice_withdrawn', 'departed', 'rehired')",
                           name=op.f("ck_employment_events_kind_known")),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.employee_id"],
                                name=op.f("fk_employment_events_employee_id_employees")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employment_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_employment_events_event_id")),
    )
    op.create_index(op.f("ix_employment_events_employee_id"), "employment_events", ["employee_id"])
    op.add_column("approval_tasks", sa.Column("by_hand", sa.Boolean(), server_default=sa.text("false"),
                                              nullable=False))


def downgrade() -> None:
    op.drop_column("approval_tasks", "by_hand")
    op.drop_index(op.f("ix_employment_events_employee_id"), table_name="employment_events")
    op.drop_table("employment_events")
    op.drop_constraint(op.f("ck_employees_employment_status_known"), "employees", type_="check")
    op.drop_column("employees", "leaving_on")
    op.drop_column("employees", "employment_status")
