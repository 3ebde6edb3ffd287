"""Cases and the decisions they wait on: what the inbox, the case list and the API read."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Case(Base):
    """One row per case (a workflow id; continue-as-new keeps the id, so it keeps the row)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    # None only for the standing policy-watch case (db.reminders.POLICY_WATCH): tasks about the catalogue
    employee_id: Mapped[str | None] = mapped_column(sa.ForeignKey("employees.employee_id"))
    stage: Mapped[str] = mapped_column(sa.String(60))
    status: Mapped[str] = mapped_column(sa.String(20), server_default="open")
    summary: Mapped[str | None] = mapped_column(sa.Text)
    policy_version: Mapped[str | None] = mapped_column(sa.String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    next_due_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('open', 'completed', 'withdrawn', 'rejected', 'revoked', 'abandoned', 'failed')",
            name="status_known",
        ),
        sa.Index(None, "employee_id", "opened_at"),
        sa.Index(None, "status", "kind", "opened_at", "id"),
    )


class ApprovalTask(Base):
    """Something a role must decide on a case; the inbox lists the open ones for the caller."""

    __tablename__ = "approval_tasks"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.workflow_id"))
    task_key: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(30))
    assignee: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), server_default="open")
    due_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(sa.String(30))
    actor: Mapped[str | None] = mapped_column(sa.String(64))
    actor_role: Mapped[str | None] = mapped_column(sa.String(30))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Work a person does outside the process (at an agency counter, by hand): it outlives its case
    # and is closed by that person (POST /tasks/{id}/done), never by the system.
    by_hand: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.text("false"))

    __table_args__ = (
        sa.UniqueConstraint("workflow_id", "task_key"),
        sa.CheckConstraint("status IN ('open', 'decided', 'cancelled')", name="status_known"),
        sa.Index(None, "role", "status", "due_at", "id"),
        # the reminder sweep: overdue tasks, and tasks with no due date open too long
        sa.Index("ix_approval_tasks_open_due", "due_at", "id", postgresql_where=sa.text("status = 'open'")),
        sa.Index("ix_approval_tasks_open_undated", "created_at", "id",
              postgresql_where=sa.text("status = 'open' AND due_at IS NULL")),
        sa.Index("ix_approval_tasks_open_role_id", "role", "id", postgresql_where=sa.text("status = 'open'")),  # the inbox
        # the inbox's "mine or my role's": open tasks alone in id order (the OR keeps it off the role index)
        sa.Index("ix_approval_tasks_open_id", "id", postgresql_where=sa.text("status = 'open'")),
    )
