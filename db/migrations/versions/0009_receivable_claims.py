"""Receivable claims: every recovery, write-off and reversal is a claim line against one receivable.

A trigger applies each line to its receivable in the same statement (settled, reversed, status), and
the receivable's check constraint then holds "settled + reversed <= amount" for every path,
whichever process claims and in whichever order. Lines are append-only; a voided claim is undone
by negative lines, never by editing.

Backfill: what was settled before is one line per receivable (method ``before_claims``), and a
reversed month one ``reversal`` line.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

METHODS = ("payroll_deduction", "repayment", "write_off", "final_pay", "reversal", "void", "before_claims")
_METHODS_SQL = ", ".join(f"'{m}'" for m in METHODS)

APPLY = """
CREATE FUNCTION receivable_claim_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r receivables%ROWTYPE;
BEGIN
    SELECT * INTO r FROM receivables WHERE id = NEW.receivable_id FOR UPDATE;
    IF NEW.reversal THEN
        r.reversed := r.reversed + NEW.amount;
    ELSE
        r.settled := r.settled + NEW.amount;
    END IF;
    UPDATE receivables SET settled = r.settled, reversed = r.reversed,
        status = CASE
            WHEN r.settled + r.reversed < r.amount THEN 'open'
            WHEN r.reversed = r.amount THEN 'reversed'
            WHEN NEW.method = 'write_off' THEN 'written_off'
            ELSE 'settled' END
    WHERE id = NEW.receivable_id;
    RETURN NEW;
END $$;
"""

APPEND_ONLY = """
CREATE FUNCTION receivable_claims_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'receivable_claims is append-only: void a claim with a new one';
END $$;
"""


def upgrade() -> None:
    op.add_column("receivables", sa.Column("reversed", sa.Numeric(12, 2), server_default="0", nullable=False))
    op.execute("UPDATE receivables SET reversed = amount WHERE status = 'reversed'")
    op.drop_constraint(op.f("ck_receivables_settled_within_amount"), "receivables", type_="check")
    op.create_check_constraint(op.f("ck_receivables_claims_within_amount"), "receivables",
                               "settled >= 0 AND reversed >= 0 AND settled + reversed <= amount")

    op.drop_constraint(op.f("ck_settlements_method_known"), "settlements", type_="check")
    op.create_check_constraint(op.f("ck_settlements_method_known"), "settlements", f"method IN ({_METHODS_SQL})")
    op.drop_constraint(op.f("ck_settlements_amount_positive"), "settlements", type_="check")
    op.create_check_constraint(op.f("ck_settlements_amount_not_negative"), "settlements", "amount >= 0")
    op.add_column("settlements", sa.Column("voids", sa.BigInteger(), nullable=True))
    op.create_foreign_key(op.f("fk_settlements_voids_settlements"), "settlements", "settlements", ["voids"], ["id"])
    op.create_unique_constraint(op.f("uq_settlements_voids"), "settlements", ["voids"])

    op.create_table(
        "receivable_claims",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("settlement_id", sa.BigInteger(), nullable=True),
        sa.Column("receivable_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("reversal", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_receivable_claims_amount_not_zero")),
        sa.CheckConstraint(f"method IN ({_METHODS_SQL})", name=op.f("ck_receivable_claims_method_known")),
        sa.ForeignKeyConstraint(["receivable_id"], ["receivables.id"],
                                name=op.f("fk_receivable_claims_receivable_id_receivables")),
        sa.ForeignKeyConstraint(["settlement_id"], ["settlements.id"],
                                name=op.f("fk_receivable_claims_settlement_id_settlements")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivable_claims")),
    )
    op.create_index(op.f("ix_receivable_claims_receivable_id"), "receivable_claims", ["receivable_id"])
    op.create_index(op.f("ix_receivable_claims_settlement_id"), "receivable_claims", ["settlement_id"])
    # What was settled or reversed before claims were kept, one line each (the trigger is not yet there).
    op.execute("INSERT INTO receivable_claims (receivable_id, method, reversal, amount, at)"
               " SELECT id, 'before_claims', false, settled, coalesce(followed_up_at, booked_at)"
               " FROM receivables WHERE settled > 0")
    op.execute("INSERT INTO receivable_claims (receivable_id, method, reversal, amount, at)"
               " SELECT id, 'reversal', true, reversed, booked_at FROM receivables WHERE reversed > 0")
    op.execute(APPLY)
    op.execute("CREATE TRIGGER receivable_claims_apply AFTER INSERT ON receivable_claims"
               " FOR EACH ROW EXECUTE FUNCTION receivable_claim_apply()")
    op.execute(APPEND_ONLY)
    op.execute("CREATE TRIGGER receivable_claims_no_change BEFORE UPDATE OR DELETE ON receivable_claims"
               " FOR EACH ROW EXECUTE FUNCTION receivable_claims_append_only()")
    op.execute("CREATE TRIGGER receivable_claims_no_truncate BEFORE TRUNCATE ON receivable_claims"
               " FOR EACH STATEMENT EXECUTE FUNCTION receivable_claims_append_only()")


def downgrade() -> None:
    op.execute("DROP TABLE receivable_claims")
    op.execute("DROP FUNCTION receivable_claims_append_only()")
    op.execute("DROP FUNCTION receivable_claim_apply()")
    op.drop_constraint(op.f("uq_settlements_voids"), "settlements", type_="unique")
    op.drop_constraint(op.f("fk_settlements_voids_settlements"), "settlements", type_="foreignkey")
    op.drop_column("settlements", "voids")
    op.execute("DELETE FROM settlements WHERE method IN ('final_pay', 'reversal', 'void', 'before_claims')"
               " OR amount = 0")
    op.drop_constraint(op.f("ck_settlements_amount_not_negative"), "settlements", type_="check")
    op.create_check_constraint(op.f("ck_settlements_amount_positive"), "settlements", "amount > 0")
    op.drop_constraint(op.f("ck_settlements_method_known"), "settlements", type_="check")
    op.create_check_constraint(op.f("ck_settlements_method_known"), "settlements",
                               "method IN ('payroll_deduction', 'repayment', 'write_off')")
    op.drop_constraint(op.f("ck_receivables_claims_within_amount"), "receivables", type_="check")
    op.create_check_constraint(op.f("ck_receivables_settled_within_amount"), "receivables",
                               "settled >= 0 AND settled <= amount")
    op.drop_column("receivables", "reversed")
