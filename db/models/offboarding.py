"""What a departure must settle: departments' records, clearance sign-offs, non-compete payments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models.columns import Money


class EmployeeRecord(Base):
    """What departments know about an employee that a departure must settle: disputes, complaints,
    violations (compliance), loans and advances (finance), assets and access (IT), agreements (HR)."""

    __tablename__ = "employee_records"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(300))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(sa.String(20), server_default="open")
    details: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    recorded_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint("kind IN ('dispute', 'complaint', 'violation', 'loan', 'advance', 'asset', 'access',"
                        " 'non_compete')", name="kind_known"),
        sa.Index("ix_employee_records_open", "employee_id", "kind", postgresql_where=sa.text("status = 'open'")),
    )


class ClearanceItem(Base):
    """One item of an offboarding gate, signed off by its owner; mirrors the workflow's state."""

    __tablename__ = "clearance_items"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(200))
    gate: Mapped[str] = mapped_column(sa.String(20))
    item_key: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[str] = mapped_column(sa.String(300))
    owner_role: Mapped[str] = mapped_column(sa.String(30))
    owner_user: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), server_default="open")
    outcome: Mapped[str | None] = mapped_column(sa.String(30))
    note: Mapped[str | None] = mapped_column(sa.Text)
    signed_by: Mapped[str | None] = mapped_column(sa.String(64))
    signed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.UniqueConstraint("workflow_id", "gate", "item_key"), sa.Index(None, "status", "due_at"))


class NonCompetePayment(Base):
    """A monthly non-compete compensation payment, once per agreement and month."""

    __tablename__ = "non_compete_payments"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(sa.String(200))  # the non-compete workflow id
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    month: Mapped[str] = mapped_column(sa.String(7))
    kind: Mapped[str] = mapped_column(sa.String(20), server_default="monthly")  # monthly, release_extra
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.UniqueConstraint("agreement_id", "kind", "month"),)
