"""The lapse watch: a standing case without an employee for HR admins' policy tasks, and the index
the daily sweep reads the cities where someone employed is insured through.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("cases", "employee_id", existing_type=sa.String(length=32), nullable=True)
    op.create_index("ix_employees_insured_city", "employees", ["si_city"],
                    postgresql_where=sa.text("employment_status <> 'departed'"))


def downgrade() -> None:
    op.drop_index("ix_employees_insured_city", table_name="employees")
    op.execute("DELETE FROM approval_tasks WHERE workflow_id IN (SELECT workflow_id FROM cases WHERE employee_id IS NULL)")
    op.execute("DELETE FROM cases WHERE employee_id IS NULL")
    op.alter_column("cases", "employee_id", existing_type=sa.String(length=32), nullable=False)
