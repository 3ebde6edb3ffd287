"""Money she owes the company and the claims against it; triggers keep the two consistent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models.columns import Money


class Receivable(Base):
    """Money the employee owes the company, one row per month and kind (never twice). ``settled``
    (recovered or written off) and ``reversed`` move only through ``ReceivableClaim`` lines, which a
    trigger applies; the check below holds for every process that recovers, in any order."""

    __tablename__ = "receivables"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    workflow_id: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(30))  # maternity_advance, ...
    month: Mapped[str] = mapped_column(sa.String(7))
    amount: Mapped[Decimal] = mapped_column(Money)
    settled: Mapped[Decimal] = mapped_column(Money, server_default="0")
    reversed: Mapped[Decimal] = mapped_column(Money, server_default="0")
    status: Mapped[str] = mapped_column(sa.String(15), server_default="open")
    booked_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    followed_up_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("employee_id", "kind", "month"),
        sa.CheckConstraint("status IN ('open', 'settled', 'written_off', 'reversed')", name="status_known"),
        sa.CheckConstraint("settled >= 0 AND reversed >= 0 AND settled + reversed <= amount", name="claims_within_amount"),
        sa.Index("ix_receivables_open", "employee_id", "booked_at", postgresql_where=sa.text("status = 'open'")),
        sa.Index("ix_receivables_open_followup", sa.text("coalesce(followed_up_at, booked_at)"), "id",
              postgresql_where=sa.text("status = 'open'")),
    )


CLAIM_METHODS = ("payroll_deduction", "repayment", "write_off", "final_pay", "reversal", "void", "before_claims")
_CLAIM_METHODS_SQL = "method IN (" + ", ".join(f"'{m}'" for m in CLAIM_METHODS) + ")"


class Settlement(Base):
    """One claim against her receivables (the claimant case and its step): a payroll deduction, a
    repayment, final pay, a write-off, a reversal, or the void of an earlier claim. Its lines say
    which receivables it took how much from."""

    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(200))  # the claimant
    step: Mapped[str] = mapped_column(sa.String(100))
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    method: Mapped[str] = mapped_column(sa.String(20))
    amount: Mapped[Decimal] = mapped_column(Money)  # what it took (0: nothing was open)
    confirmed_by: Mapped[str] = mapped_column(sa.String(64))
    reference: Mapped[str | None] = mapped_column(sa.String(100))
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    voids: Mapped[int | None] = mapped_column(sa.ForeignKey("settlements.id"), unique=True)

    __table_args__ = (
        sa.UniqueConstraint("workflow_id", "step"),
        sa.CheckConstraint(_CLAIM_METHODS_SQL, name="method_known"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
    )


class ReceivableClaim(Base):
    """One line of a claim against one receivable; append-only (a trigger applies it to the
    receivable and refuses UPDATE, DELETE and TRUNCATE). A voided claim has negative lines."""

    __tablename__ = "receivable_claims"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    settlement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("settlements.id"), index=True)
    receivable_id: Mapped[int] = mapped_column(sa.ForeignKey("receivables.id"), index=True)
    method: Mapped[str] = mapped_column(sa.String(20))
    reversal: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.text("false"))
    amount: Mapped[Decimal] = mapped_column(Money)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint("amount <> 0", name="amount_not_zero"),
        sa.CheckConstraint(_CLAIM_METHODS_SQL, name="method_known"),
    )
