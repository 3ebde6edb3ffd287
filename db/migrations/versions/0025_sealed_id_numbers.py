"""Resident ID numbers sealed under each employee's own key, with a keyed blind index (PIPL, issue 21).

The digest's unique constraint replaces the plain column's; the plain column becomes nullable and
stays only until ``db.sealed_fields.seal_plain_values`` (run by ``hrflow migrate``) has emptied it:
a later release drops it. The migration itself holds no key, so it seals nothing.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("employees", sa.Column("resident_id_sealed", sa.Text(), nullable=True))
    op.add_column("employees", sa.Column("resident_id_digest", sa.String(64), nullable=True))
    op.create_unique_constraint(op.f("uq_employees_resident_id_digest"), "employees", ["resident_id_digest"])
    op.drop_constraint("uq_employees_resident_id_number", "employees", type_="unique")
    op.alter_column("employees", "resident_id_number", existing_type=sa.String(18), nullable=True)


def downgrade() -> None:
    sealed = op.get_bind().scalar(sa.text("SELECT count(*) FROM employees WHERE resident_id_number IS NULL"))
    if sealed:
        raise RuntimeError(f"{sealed} employees' ID numbers are held only sealed: this downgrade would lose them."
                           " Restore a backup taken before revision 0025 instead.")
    op.alter_column("employees", "resident_id_number", existing_type=sa.String(18), nullable=False)
    op.create_unique_constraint("uq_employees_resident_id_number", "employees", ["resident_id_number"])
    op.drop_constraint(op.f("uq_employees_resident_id_digest"), "employees", type_="unique")
    op.drop_column("employees", "resident_id_digest")
    op.drop_column("employees", "resident_id_sealed")
