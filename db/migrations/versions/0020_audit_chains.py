"""One audit hash chain per case, each chain's head, and the seals that fold moved heads into one
global chain; append-only like the events.

Rows already written keep their hashes: their chain is NULL and they stay one chain in id order.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The same refusal for every append-only table, naming the table.
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("chain", sa.String(length=210), nullable=True))
    op.add_column("audit_events", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_audit_events_chain_seq"), "audit_events", ["chain", "seq"], unique=True)
    op.create_table(
        "audit_chain_heads",
        sa.Column("chain", sa.String(length=210), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_seq", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_index("ix_audit_chain_heads_unsealed", "audit_chain_heads", ["chain"],
                    postgresql_where=sa.text("seq > sealed_seq"))
    op.create_table(
        "audit_seals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heads", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_seals_hash")),
    )
    op.create_index(op.f("ix_audit_seals_heads"), "audit_seals", ["heads"], postgresql_using="gin")
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute("CREATE TRIGGER audit_seals_no_change BEFORE UPDATE OR DELETE ON audit_seals"
               " FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
    op.execute("CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals"
               " FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()")


def downgrade() -> None:
    op.drop_table("audit_seals")
    op.drop_table("audit_chain_heads")
    op.drop_index(op.f("ix_audit_events_chain_seq"), table_name="audit_events")
    op.drop_column("audit_events", "seq")
    op.drop_column("audit_events", "chain")
