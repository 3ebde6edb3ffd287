"""The platform's tables: employees, cases, approval tasks, the audit trail and idempotent steps.

Process issues add their own tables (ledgers, materials) in modules of their own. Money columns are
``Numeric(12, 2)`` in yuan; times are ``timestamptz``. Relationships are not declared: queries say
what they join, so nothing loads lazily behind a caller's back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

Money = Numeric(12, 2)


class Employee(Base):
    __tablename__ = "employees"

    employee_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    resident_id_number: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(100))
    hire_date: Mapped[dt.date] = mapped_column(Date)
    probation_end: Mapped[dt.date | None] = mapped_column(Date)
    si_province: Mapped[str] = mapped_column(String(32))
    si_city: Mapped[str] = mapped_column(String(32))
    contribution_base: Mapped[Decimal] = mapped_column(Money)
    email: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), server_default="zh")
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("employees.employee_id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        UniqueConstraint("resident_id_number"),
        CheckConstraint("contribution_base >= 0", name="base_not_negative"),
        CheckConstraint("language IN ('zh', 'en')", name="language_known"),
    )


class Case(Base):
    """One row per case (a workflow id; continue-as-new keeps the id, so it keeps the row)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    stage: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), server_default="open")
    summary: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'completed', 'withdrawn', 'rejected', 'abandoned', 'failed')",
            name="status_known",
        ),
        Index(None, "employee_id", "opened_at"),
        Index(None, "status", "kind", "opened_at", "id"),
    )


class ApprovalTask(Base):
    """Something a role must decide on a case; the inbox lists the open ones for the caller."""

    __tablename__ = "approval_tasks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("cases.workflow_id"))
    task_key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    assignee: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), server_default="open")
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(String(30))
    actor: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("workflow_id", "task_key"),
        CheckConstraint("status IN ('open', 'decided', 'cancelled')", name="status_known"),
        Index(None, "role", "status", "due_at", "id"),
    )


class AuditEvent(Base):
    """Append-only, hash-chained operation log; a trigger rejects UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(80))
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[Any | None] = mapped_column(JSONB)
    after: Mapped[Any | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index(None, "workflow_id", "id"), Index(None, "subject", "id"))


class ActivityStep(Base):
    """Marks a (workflow id, step) as done in the same transaction as its effect, so a retried
    activity finds the marker and returns the stored result instead of writing twice."""

    __tablename__ = "activity_steps"

    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    step: Mapped[str] = mapped_column(String(200), primary_key=True)
    result: Mapped[Any | None] = mapped_column(JSONB)
    completed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
