"""What the reminder sweep reads: dated obligations, and who holds a role at which level."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class CaseDeadline(Base):
    """A date a case must meet that people should be reminded of: her return to work, the
    post-departure filings, a non-compete proof. The reminder sweep reads only the open ones."""

    __tablename__ = "case_deadlines"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.workflow_id"))
    kind: Mapped[str] = mapped_column(sa.String(40))  # maternity_return, departure_filing, non_compete_proof
    ref: Mapped[str] = mapped_column(sa.String(60))  # which one within the case (a month, "return")
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    due_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(10), server_default="open")
    details: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("workflow_id", "kind", "ref"),
        sa.CheckConstraint("status IN ('open', 'met', 'cancelled')", name="status_known"),
        sa.Index("ix_case_deadlines_open", "kind", "due_at", "id", postgresql_where=sa.text("status = 'open'")),
    )


class StaffMember(Base):
    """Who holds a role, at which level, and how to reach them. Reminders to a role go to its
    level-1 members; an overdue task escalates one level at a time. ``employee_id`` says who the
    login is as an employee, so that nobody decides on her own case whatever her token claims;
    ``unit_code`` whose people she works for (a branch's HR: the branch and the units under it)."""

    __tablename__ = "staff_members"

    user_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # the token's subject
    display_name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(30))
    level: Mapped[int] = mapped_column(server_default="1")
    email: Mapped[str | None] = mapped_column(sa.String(200))
    language: Mapped[str] = mapped_column(sa.String(5), server_default="zh")
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.text("true"))
    employee_id: Mapped[str | None] = mapped_column(sa.ForeignKey("employees.employee_id"), index=True)
    unit_code: Mapped[str | None] = mapped_column(sa.ForeignKey("org_units.code"), index=True)  # her scope (None: all)

    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        sa.CheckConstraint("language IN ('zh', 'en')", name="language_known"),
        sa.Index(None, "role", "level", postgresql_where=sa.text("active")),
    )
