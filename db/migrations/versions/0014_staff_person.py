"""Who a staff login is: the directory links a login to her employee number.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff_members", sa.Column("employee_id", sa.String(length=32), nullable=True))
    op.create_foreign_key("fk_staff_members_employee_id_employees", "staff_members", "employees",
                          ["employee_id"], ["employee_id"])
    op.create_index("ix_staff_members_employee_id", "staff_members", ["employee_id"])
    op.create_index("ix_employees_email_lower", "employees", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_employees_email_lower", table_name="employees")
    op.drop_index("ix_staff_members_employee_id", table_name="staff_members")
    op.drop_constraint("fk_staff_members_employee_id_employees", "staff_members", type_="foreignkey")
    op.drop_column("staff_members", "employee_id")
