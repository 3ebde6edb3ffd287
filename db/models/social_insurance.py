"""Social-insurance changes, the enrollments they execute, and the simulated agency's own record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models.columns import Money


class SiChange(Base):
    """One social-insurance change as the business sees it; the workflow keeps it current."""

    __tablename__ = "si_changes"

    workflow_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    city: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(20))
    base: Mapped[Decimal | None] = mapped_column(Money)
    months: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    effective_month: Mapped[str] = mapped_column(sa.String(7))
    estimate_total: Mapped[Decimal] = mapped_column(Money)
    stage: Mapped[str] = mapped_column(sa.String(30))
    maker: Mapped[str] = mapped_column(sa.String(64))
    approver: Mapped[str | None] = mapped_column(sa.String(64))
    acceptance_no: Mapped[str | None] = mapped_column(sa.String(64))
    revocation_no: Mapped[str | None] = mapped_column(sa.String(64))
    agency_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint("kind IN ('enrollment', 'back_payment', 'stop', 'base_adjustment')", name="kind_known"),
        sa.Index(None, "employee_id", "city", "stage"),
        sa.Index(None, "stage", "updated_at"),
    )


class SiEnrollment(Base):
    """The employee's enrollment per city as executed at the agency; one active per city."""

    __tablename__ = "si_enrollments"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    city: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(10))
    base: Mapped[Decimal | None] = mapped_column(Money)
    since_month: Mapped[str] = mapped_column(sa.String(7))
    until_month: Mapped[str | None] = mapped_column(sa.String(7))
    opened_by: Mapped[str] = mapped_column(sa.String(200))  # the workflow that executed it
    closed_by: Mapped[str | None] = mapped_column(sa.String(200))

    __table_args__ = (
        sa.CheckConstraint("status IN ('active', 'stopped', 'revoked')", name="status_known"),
        sa.Index("uq_si_enrollments_one_active", "employee_id", "city", unique=True,
              postgresql_where=sa.text("status = 'active'")),
    )


class SimAgencyRequest(Base):
    """The simulated agency's own record of what it received (by the caller's reference)."""

    __tablename__ = "sim_agency_requests"

    reference: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    operation: Mapped[str] = mapped_column(sa.String(20))
    payload: Mapped[Any] = mapped_column(JSONB)
    outcome: Mapped[str] = mapped_column(sa.String(20))  # accepted, rejected
    number: Mapped[str | None] = mapped_column(sa.String(64))  # acceptance or revocation number
    code: Mapped[str | None] = mapped_column(sa.String(40))  # refusal code
    reason: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.BigInteger, server_default="1")
    received_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    # What the agency looks up: a person's accepted requests in a city (is she insured there?) and
    # the revocation of an acceptance (``integrations.si_agency``), without reading every record.
    __table_args__ = (
        sa.Index("ix_sim_agency_requests_person_city", sa.text("(payload ->> 'person')"), sa.text("(payload ->> 'city')"),
                 postgresql_where=sa.text("operation = 'submit' AND outcome = 'accepted'")),
        sa.Index("ix_sim_agency_requests_revoked", sa.text("(payload ->> 'acceptance_no')"),
                 postgresql_where=sa.text("operation = 'revoke' AND outcome = 'accepted'")),
    )
