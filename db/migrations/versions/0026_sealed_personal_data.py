"""Names, e-mail addresses, mobile numbers and uploaded documents sealed under each employee's own
key, e-mail addresses found by a keyed blind index (PIPL, issue 21).

As with 0025, the plain columns stay (nullable) only until ``hrflow migrate``'s backfill
(``db.sealed_fields.seal_plain_values``, ``db.materials.seal_plain_documents``) has sealed them:
the migration holds no key, so it seals nothing. A later release drops them.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("employees", sa.Column("name_sealed", sa.Text(), nullable=True))
    op.add_column("employees", sa.Column("email_sealed", sa.Text(), nullable=True))
    op.add_column("employees", sa.Column("email_digest", sa.String(64), nullable=True))
    op.add_column("employees", sa.Column("mobile_sealed", sa.Text(), nullable=True))
    op.create_index(op.f("ix_employees_email_digest"), "employees", ["email_digest"])
    op.alter_column("employees", "name", existing_type=sa.String(100), nullable=True)
    op.add_column("transfer_materials", sa.Column("sealed_with", sa.String(80), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    sealed = bind.scalar(sa.text("SELECT count(*) FROM employees WHERE name IS NULL"
                                 " OR email_sealed IS NOT NULL OR mobile_sealed IS NOT NULL"))
    sealed += bind.scalar(sa.text("SELECT count(*) FROM transfer_materials WHERE sealed_with IS NOT NULL"))
    if sealed:
        raise RuntimeError(f"{sealed} rows hold personal data only sealed: this downgrade would lose it."
                           " Restore a backup taken before revision 0026 instead.")
    op.drop_column("transfer_materials", "sealed_with")
    op.alter_column("employees", "name", existing_type=sa.String(100), nullable=False)
    op.drop_index(op.f("ix_employees_email_digest"), table_name="employees")
    op.drop_column("employees", "mobile_sealed")
    op.drop_column("employees", "email_digest")
    op.drop_column("employees", "email_sealed")
    op.drop_column("employees", "name_sealed")
