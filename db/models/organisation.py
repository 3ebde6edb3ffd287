"""The organisation: legal entities, branches and departments in one tree, and who manages whom.

A unit's ``kind`` places it: an entity (a legal employer, with its social-insurance city) at the
top, branches under an entity (each with its own city), departments under either or under another
department. Each unit may have a head. Line management is kept apart from the tree, effective-dated
(``manager_assignments``): a case asks who her manager was on the day it started, and the answer
stays the same after a reorganisation.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

UNIT_KINDS = ("entity", "branch", "department")


class OrgUnit(Base):
    __tablename__ = "org_units"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(12))
    parent_code: Mapped[str | None] = mapped_column(sa.ForeignKey("org_units.code"), index=True)
    si_city: Mapped[str | None] = mapped_column(sa.String(32))  # entities and branches
    head_employee_id: Mapped[str | None] = mapped_column(sa.ForeignKey("employees.employee_id"), index=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.text("true"))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint("kind IN ('entity', 'branch', 'department')", name="kind_known"),
        sa.CheckConstraint("kind <> 'entity' OR parent_code IS NULL", name="entity_at_top"),
        sa.CheckConstraint("kind = 'department' OR si_city IS NOT NULL", name="employer_has_city"),
    )


class ManagerAssignment(Base):
    """Her line manager from ``effective_from`` up to (not including) ``effective_to``; the open
    one (``effective_to`` null) is the newest and mirrors ``employees.manager_id``."""

    __tablename__ = "manager_assignments"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    manager_id: Mapped[str | None] = mapped_column(sa.ForeignKey("employees.employee_id"))
    effective_from: Mapped[dt.date] = mapped_column(sa.Date)
    effective_to: Mapped[dt.date | None] = mapped_column(sa.Date)

    __table_args__ = (
        sa.CheckConstraint("effective_to IS NULL OR effective_to > effective_from", name="period_order"),
        sa.CheckConstraint("manager_id IS NULL OR manager_id <> employee_id", name="not_own_manager"),
        sa.Index("ix_manager_assignments_employee", "employee_id", "effective_from"),
        sa.Index("ix_manager_assignments_current", "employee_id", unique=True,
                 postgresql_where=sa.text("effective_to IS NULL")),
        sa.Index("ix_manager_assignments_manager", "manager_id", postgresql_where=sa.text("effective_to IS NULL")),
    )
