"""The organisation: entities, branches and departments with heads; effective-dated line managers.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_units",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("si_city", sa.String(length=32), nullable=True),
        sa.Column("head_employee_id", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('entity', 'branch', 'department')", name="ck_org_units_kind_known"),
        sa.CheckConstraint("kind <> 'entity' OR parent_code IS NULL", name="ck_org_units_entity_at_top"),
        sa.CheckConstraint("kind = 'department' OR si_city IS NOT NULL", name="ck_org_units_employer_has_city"),
        sa.ForeignKeyConstraint(["parent_code"], ["org_units.code"], name="fk_org_units_parent_code_org_units"),
        sa.ForeignKeyConstraint(["head_employee_id"], ["employees.employee_id"],
                                name="fk_org_units_head_employee_id_employees"),
        sa.PrimaryKeyConstraint("code", name="pk_org_units"),
    )
    op.create_index("ix_org_units_parent_code", "org_units", ["parent_code"])
    op.create_index("ix_org_units_head_employee_id", "org_units", ["head_employee_id"])
    op.add_column("employees", sa.Column("unit_code", sa.String(length=32), nullable=True))
    op.create_foreign_key("fk_employees_unit_code_org_units", "employees", "org_units", ["unit_code"], ["code"])
    op.create_index("ix_employees_unit_code", "employees", ["unit_code"])
    op.create_table(
        "manager_assignments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("employee_id", sa.String(length=32), nullable=False),
        sa.Column("manager_id", sa.String(length=32), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.CheckConstraint("effective_to IS NULL OR effective_to > effective_from",
                           name="ck_manager_assignments_period_order"),
        sa.CheckConstraint("manager_id IS NULL OR manager_id <> employee_id",
                           name="ck_manager_assignments_not_own_manager"),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.employee_id"],
                                name="fk_manager_assignments_employee_id_employees"),
        sa.ForeignKeyConstraint(["manager_id"], ["employees.employee_id"],
                                name="fk_manager_assignments_manager_id_employees"),
        sa.PrimaryKeyConstraint("id", name="pk_manager_assignments"),
    )
    op.create_index("ix_manager_assignments_employee", "manager_assignments", ["employee_id", "effective_from"])
    op.create_index("ix_manager_assignments_current", "manager_assignments", ["employee_id"], unique=True,
                    postgresql_where=sa.text("effective_to IS NULL"))
    op.create_index("ix_manager_assignments_manager", "manager_assignments", ["manager_id"],
                    postgresql_where=sa.text("effective_to IS NULL"))
    # Everyone's manager as registered so far, from her hire date.
    op.execute("INSERT INTO manager_assignments (employee_id, manager_id, effective_from)"
               " SELECT employee_id, manager_id, hire_date FROM employees WHERE manager_id IS NOT NULL")


def downgrade() -> None:
    op.drop_table("manager_assignments")
    op.drop_index("ix_employees_unit_code", table_name="employees")
    op.drop_constraint("fk_employees_unit_code_org_units", "employees", type_="foreignkey")
    op.drop_column("employees", "unit_code")
    op.drop_index("ix_org_units_head_employee_id", table_name="org_units")
    op.drop_index("ix_org_units_parent_code", table_name="org_units")
    op.drop_table("org_units")
