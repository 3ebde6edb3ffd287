"""Who works here and what happened to her employment: the rows every process starts from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models.columns import Money
from db.sealed_fields import EMAIL, ID_NUMBER, MOBILE, NAME, Sealed, install


class Employee(Base):
    __tablename__ = "employees"

    employee_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    # Her ID number, name and contact, sealed under her own key (``db.sealed_fields``): the
    # attributes without a suffix are what callers use; the digests keep numbers unique and find
    # numbers and logins. The plain columns (under the old names) hold values written before the
    # sealing until ``seal_plain_values`` empties them.
    resident_id_number = Sealed(ID_NUMBER)
    resident_id_sealed: Mapped[str | None] = mapped_column(sa.Text)
    resident_id_digest: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    resident_id_plain: Mapped[str | None] = mapped_column("resident_id_number", sa.String(18))
    name = Sealed(NAME)
    name_sealed: Mapped[str | None] = mapped_column(sa.Text)
    name_plain: Mapped[str | None] = mapped_column("name", sa.String(100))
    department: Mapped[str] = mapped_column(sa.String(100))
    position: Mapped[str] = mapped_column(sa.String(100))
    hire_date: Mapped[dt.date] = mapped_column(sa.Date)
    probation_end: Mapped[dt.date | None] = mapped_column(sa.Date)
    si_province: Mapped[str] = mapped_column(sa.String(32))
    si_city: Mapped[str] = mapped_column(sa.String(32))
    contribution_base: Mapped[Decimal] = mapped_column(Money)
    email = Sealed(EMAIL)
    email_sealed: Mapped[str | None] = mapped_column(sa.Text)
    email_digest: Mapped[str | None] = mapped_column(sa.String(64), index=True)  # who a staff login is
    email_plain: Mapped[str | None] = mapped_column("email", sa.String(200))
    mobile = Sealed(MOBILE)  # for notices by SMS when she has no e-mail
    mobile_sealed: Mapped[str | None] = mapped_column(sa.Text)
    mobile_plain: Mapped[str | None] = mapped_column("mobile", sa.String(20))
    language: Mapped[str] = mapped_column(sa.String(5), server_default="zh")
    si_status: Mapped[str] = mapped_column(sa.String(40), server_default="normal")
    employment_status: Mapped[str] = mapped_column(sa.String(20), server_default="active")
    leaving_on: Mapped[dt.date | None] = mapped_column(sa.Date)  # her last day, once notice is given
    manager_id: Mapped[str | None] = mapped_column(sa.ForeignKey("employees.employee_id"))
    unit_code: Mapped[str | None] = mapped_column(sa.ForeignKey("org_units.code", use_alter=True), index=True)  # her department in the tree
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    __table_args__ = (
        sa.CheckConstraint("contribution_base >= 0", name="base_not_negative"),
        sa.CheckConstraint("language IN ('zh', 'en')", name="language_known"),
        sa.CheckConstraint("employment_status IN ('active', 'notice_given', 'departed')", name="employment_status_known"),
        # the lapse watch: the cities where someone still employed is insured
        sa.Index("ix_employees_insured_city", "si_city", postgresql_where=sa.text("employment_status <> 'departed'")),
        # who a staff login is, by her e-mail (db.directory), for a row not sealed yet
        sa.Index("ix_employees_email_lower", sa.func.lower(email_plain)),
    )


install(Employee)


class EmploymentEventRow(Base):
    """One change of her employment, as a case announced it (``domain.employment``)."""

    __tablename__ = "employment_events"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(250), unique=True)
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    on: Mapped[dt.date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.String(200))
    told: Mapped[list[str]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))  # the cases it reached
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint("kind IN ('notice_given', 'notice_withdrawn', 'departed', 'rehired')", name="kind_known"),
    )
