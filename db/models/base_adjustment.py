"""The annual base adjustment: the batch, the payroll wages it was started from, and its lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models.columns import Money

LINE_STATES = ("pending", "unchanged", "exception", "excluded", "accepted", "refused", "revoked")


class BaseAdjustment(Base):
    """One adjustment batch: a city's new limits from one month, for last year's wages."""

    __tablename__ = "base_adjustments"

    workflow_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    city: Mapped[str] = mapped_column(sa.String(32))
    effective_month: Mapped[str] = mapped_column(sa.String(7))
    maker: Mapped[str] = mapped_column(sa.String(64))
    wage_file: Mapped[str] = mapped_column(sa.String(200))
    wage_file_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class BaseAdjustmentWage(Base):
    """One payroll row as imported: her average monthly wage last year."""

    __tablename__ = "base_adjustment_wages"

    batch_id: Mapped[str] = mapped_column(sa.ForeignKey("base_adjustments.workflow_id"), primary_key=True)
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"), primary_key=True)
    average_wage: Mapped[Decimal] = mapped_column(Money)
    months_worked: Mapped[int | None] = mapped_column(sa.SmallInteger)
    row_number: Mapped[int] = mapped_column(sa.Integer)


class BaseAdjustmentLine(Base):
    """One employee's line of a batch: her old and new base, why, and what became of it."""

    __tablename__ = "base_adjustment_lines"

    batch_id: Mapped[str] = mapped_column(sa.ForeignKey("base_adjustments.workflow_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # the declaration's order
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    old_base: Mapped[Decimal | None] = mapped_column(Money)
    new_base: Mapped[Decimal | None] = mapped_column(Money)
    average_wage: Mapped[Decimal | None] = mapped_column(Money)
    outcome: Mapped[str] = mapped_column(sa.String(30))
    flags: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    state: Mapped[str] = mapped_column(sa.String(20))
    round: Mapped[int] = mapped_column(sa.Integer, server_default="0")  # the declaration round that sends it
    page: Mapped[int | None] = mapped_column(sa.Integer)
    monthly_employee: Mapped[Decimal] = mapped_column(Money, server_default="0")
    monthly_employer: Mapped[Decimal] = mapped_column(Money, server_default="0")
    cost: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")  # per insurance: employee, employer
    note: Mapped[str | None] = mapped_column(sa.Text)  # the maker's correction reason
    acceptance_no: Mapped[str | None] = mapped_column(sa.String(64))
    refusal_code: Mapped[str | None] = mapped_column(sa.String(40))
    refusal_reason: Mapped[str | None] = mapped_column(sa.Text)
    back_pay_months: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    back_pay_employee: Mapped[Decimal] = mapped_column(Money, server_default="0")
    back_pay_employer: Mapped[Decimal] = mapped_column(Money, server_default="0")
    advanced_by: Mapped[str | None] = mapped_column(sa.String(200))  # her maternity case, when it advanced her share
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint(f"state IN ({', '.join(repr(s) for s in LINE_STATES)})", name="state_known"),
        sa.UniqueConstraint("batch_id", "employee_id"),
        sa.Index(None, "batch_id", "state", "round", "page"),
    )
