"""Each employee's data key, wrapped by a master key; destroying it is her erasure.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("employee_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_with", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("destroyed_by", sa.String(200), nullable=True),
        sa.CheckConstraint("(wrapped IS NULL) = (destroyed_at IS NOT NULL)",
                           name=op.f("ck_person_keys_destroyed_means_no_key")),
        sa.PrimaryKeyConstraint("employee_id", "version", name=op.f("pk_person_keys")),
    )
    # A destroyed key stays destroyed: no one brings it back by writing the old bytes into the row.
    op.execute("""
CREATE FUNCTION person_keys_stay_destroyed() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'person_keys are never deleted: destroy the key instead';
  END IF;
  IF OLD.destroyed_at IS NOT NULL THEN
    RAISE EXCEPTION 'person key %/% was destroyed on %', OLD.employee_id, OLD.version, OLD.destroyed_at;
  END IF;
  IF NEW.wrapped IS NOT NULL AND NEW.wrapped IS DISTINCT FROM OLD.wrapped AND NEW.wrapped_with = OLD.wrapped_with THEN
    RAISE EXCEPTION 'a person key is only ever re-wrapped under another master key, never replaced';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
""")
    op.execute("CREATE TRIGGER person_keys_stay_destroyed BEFORE UPDATE OR DELETE ON person_keys"
               " FOR EACH ROW EXECUTE FUNCTION person_keys_stay_destroyed()")


def downgrade() -> None:
    op.drop_table("person_keys")
    op.execute("DROP FUNCTION person_keys_stay_destroyed()")
