"""A staff login's scope: the unit whose people she works for (a branch's HR sees its branch).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff_members", sa.Column("unit_code", sa.String(length=32), nullable=True))
    op.create_foreign_key("fk_staff_members_unit_code_org_units", "staff_members", "org_units",
                          ["unit_code"], ["code"])
    op.create_index("ix_staff_members_unit_code", "staff_members", ["unit_code"])


def downgrade() -> None:
    op.drop_index("ix_staff_members_unit_code", table_name="staff_members")
    op.drop_constraint("fk_staff_members_unit_code_org_units", "staff_members", type_="foreignkey")
    op.drop_column("staff_members", "unit_code")
