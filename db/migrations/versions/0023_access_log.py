"""The personal data access log (PIPL): who saw whose data unmasked, when and why; append-only.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

KINDS = ("resident_id_number", "name", "document", "export")


def upgrade() -> None:
    op.create_table(
        "personal_data_access",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(30), nullable=False),
        sa.Column("on_behalf_of", sa.String(64)),
        sa.Column("employee_id", sa.String(32), nullable=False),
        sa.Column("what", sa.String(30), nullable=False),
        sa.Column("detail", sa.String(300)),
        sa.Column("purpose", sa.String(200)),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.CheckConstraint("what IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
                           name=op.f("ck_personal_data_access_what_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_access")),
    )
    op.create_index(op.f("ix_personal_data_access_employee_id_at"), "personal_data_access", ["employee_id", "at"])
    op.create_index(op.f("ix_personal_data_access_actor_at"), "personal_data_access", ["actor", "at"])
    # audit_events_append_only() (0001, generalised in 0020) refuses naming the table.
    op.execute("CREATE TRIGGER personal_data_access_no_change BEFORE UPDATE OR DELETE ON personal_data_access"
               " FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
    op.execute("CREATE TRIGGER personal_data_access_no_truncate BEFORE TRUNCATE ON personal_data_access"
               " FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()")


def downgrade() -> None:
    op.drop_table("personal_data_access")  # drops its triggers with it
