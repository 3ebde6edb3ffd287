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
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
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
    si_status: Mapped[str] = mapped_column(String(40), server_default="normal")
    employment_status: Mapped[str] = mapped_column(String(20), server_default="active")
    leaving_on: Mapped[dt.date | None] = mapped_column(Date)  # her last day, once notice is given
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("employees.employee_id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        UniqueConstraint("resident_id_number"),
        CheckConstraint("contribution_base >= 0", name="base_not_negative"),
        CheckConstraint("language IN ('zh', 'en')", name="language_known"),
        CheckConstraint("employment_status IN ('active', 'notice_given', 'departed')", name="employment_status_known"),
        # the lapse watch: the cities where someone still employed is insured
        Index("ix_employees_insured_city", "si_city", postgresql_where=text("employment_status <> 'departed'")),
    )


class EmploymentEventRow(Base):
    """One change of her employment, as a case announced it (``domain.employment``)."""

    __tablename__ = "employment_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(250), unique=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    told: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))  # the cases it reached
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('notice_given', 'notice_withdrawn', 'departed', 'rehired')", name="kind_known"),
    )


class Case(Base):
    """One row per case (a workflow id; continue-as-new keeps the id, so it keeps the row)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    # None only for the standing policy-watch case (db.reminders.POLICY_WATCH): tasks about the catalogue
    employee_id: Mapped[str | None] = mapped_column(ForeignKey("employees.employee_id"))
    stage: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), server_default="open")
    summary: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'completed', 'withdrawn', 'rejected', 'revoked', 'abandoned', 'failed')",
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
    # Work a person does outside the process (at an agency counter, by hand): it outlives its case
    # and is closed by that person (POST /tasks/{id}/done), never by the system.
    by_hand: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (
        UniqueConstraint("workflow_id", "task_key"),
        CheckConstraint("status IN ('open', 'decided', 'cancelled')", name="status_known"),
        Index(None, "role", "status", "due_at", "id"),
        # the reminder sweep: overdue tasks, and tasks with no due date open too long
        Index("ix_approval_tasks_open_due", "due_at", "id", postgresql_where=text("status = 'open'")),
        Index("ix_approval_tasks_open_undated", "created_at", "id",
              postgresql_where=text("status = 'open' AND due_at IS NULL")),
        Index("ix_approval_tasks_open_role_id", "role", "id", postgresql_where=text("status = 'open'")),  # the inbox
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

    __table_args__ = (
        Index(None, "workflow_id", "id"),
        Index(None, "subject", "id"),
        Index(None, "action", "occurred_at"),  # the monthly report reads returns and departures by action
    )


class ActivityStep(Base):
    """Marks a (workflow id, step) as done in the same transaction as its effect, so a retried
    activity finds the marker and returns the stored result instead of writing twice."""

    __tablename__ = "activity_steps"

    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    step: Mapped[str] = mapped_column(String(200), primary_key=True)
    result: Mapped[Any | None] = mapped_column(JSONB)
    completed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CaseSequence(Base):
    """Per-prefix counters for readable workflow ids (``si-change-E1001-3``)."""

    __tablename__ = "case_sequences"

    prefix: Mapped[str] = mapped_column(String(150), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger)


class CaseRequest(Base):
    """Which workflow id an API request was given, so a retried request reaches the same case."""

    __tablename__ = "case_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SiChange(Base):
    """One social-insurance change as the business sees it; the workflow keeps it current."""

    __tablename__ = "si_changes"

    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    city: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))
    base: Mapped[Decimal | None] = mapped_column(Money)
    months: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    effective_month: Mapped[str] = mapped_column(String(7))
    estimate_total: Mapped[Decimal] = mapped_column(Money)
    stage: Mapped[str] = mapped_column(String(30))
    maker: Mapped[str] = mapped_column(String(64))
    approver: Mapped[str | None] = mapped_column(String(64))
    acceptance_no: Mapped[str | None] = mapped_column(String(64))
    revocation_no: Mapped[str | None] = mapped_column(String(64))
    agency_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('enrollment', 'back_payment', 'stop', 'base_adjustment')", name="kind_known"),
        Index(None, "employee_id", "city", "stage"),
        Index(None, "stage", "updated_at"),
    )


class SiEnrollment(Base):
    """The employee's enrollment per city as executed at the agency; one active per city."""

    __tablename__ = "si_enrollments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    city: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(10))
    base: Mapped[Decimal | None] = mapped_column(Money)
    since_month: Mapped[str] = mapped_column(String(7))
    until_month: Mapped[str | None] = mapped_column(String(7))
    opened_by: Mapped[str] = mapped_column(String(200))  # the workflow that executed it
    closed_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("status IN ('active', 'stopped', 'revoked')", name="status_known"),
        Index("uq_si_enrollments_one_active", "employee_id", "city", unique=True,
              postgresql_where=text("status = 'active'")),
    )


class SimAgencyRequest(Base):
    """The simulated agency's own record of what it received (by the caller's reference)."""

    __tablename__ = "sim_agency_requests"

    reference: Mapped[str] = mapped_column(String(250), primary_key=True)
    operation: Mapped[str] = mapped_column(String(20))
    payload: Mapped[Any] = mapped_column(JSONB)
    outcome: Mapped[str] = mapped_column(String(20))  # accepted, rejected
    number: Mapped[str | None] = mapped_column(String(64))  # acceptance or revocation number
    code: Mapped[str | None] = mapped_column(String(40))  # refusal code
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(BigInteger, server_default="1")
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Receivable(Base):
    """Money the employee owes the company, one row per month and kind (never twice). ``settled``
    (recovered or written off) and ``reversed`` move only through ``ReceivableClaim`` lines, which a
    trigger applies; the check below holds for every process that recovers, in any order."""

    __tablename__ = "receivables"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    workflow_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))  # maternity_advance, ...
    month: Mapped[str] = mapped_column(String(7))
    amount: Mapped[Decimal] = mapped_column(Money)
    settled: Mapped[Decimal] = mapped_column(Money, server_default="0")
    reversed: Mapped[Decimal] = mapped_column(Money, server_default="0")
    status: Mapped[str] = mapped_column(String(15), server_default="open")
    booked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    followed_up_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("employee_id", "kind", "month"),
        CheckConstraint("status IN ('open', 'settled', 'written_off', 'reversed')", name="status_known"),
        CheckConstraint("settled >= 0 AND reversed >= 0 AND settled + reversed <= amount", name="claims_within_amount"),
        Index("ix_receivables_open", "employee_id", "booked_at", postgresql_where=text("status = 'open'")),
        Index("ix_receivables_open_followup", text("coalesce(followed_up_at, booked_at)"), "id",
              postgresql_where=text("status = 'open'")),
    )


CLAIM_METHODS = ("payroll_deduction", "repayment", "write_off", "final_pay", "reversal", "void", "before_claims")
_CLAIM_METHODS_SQL = "method IN (" + ", ".join(f"'{m}'" for m in CLAIM_METHODS) + ")"


class Settlement(Base):
    """One claim against her receivables (the claimant case and its step): a payroll deduction, a
    repayment, final pay, a write-off, a reversal, or the void of an earlier claim. Its lines say
    which receivables it took how much from."""

    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))  # the claimant
    step: Mapped[str] = mapped_column(String(100))
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    method: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Money)  # what it took (0: nothing was open)
    confirmed_by: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    voids: Mapped[int | None] = mapped_column(ForeignKey("settlements.id"), unique=True)

    __table_args__ = (
        UniqueConstraint("workflow_id", "step"),
        CheckConstraint(_CLAIM_METHODS_SQL, name="method_known"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )


class ReceivableClaim(Base):
    """One line of a claim against one receivable; append-only (a trigger applies it to the
    receivable and refuses UPDATE, DELETE and TRUNCATE). A voided claim has negative lines."""

    __tablename__ = "receivable_claims"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlements.id"), index=True)
    receivable_id: Mapped[int] = mapped_column(ForeignKey("receivables.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    reversal: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    amount: Mapped[Decimal] = mapped_column(Money)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint(_CLAIM_METHODS_SQL, name="method_known"),
    )


class Notification(Base):
    """The outbox: processes write here; the delivery sweep sends each row once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(250), unique=True)
    recipient_kind: Mapped[str] = mapped_column(String(10))  # role, user, employee
    recipient: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(60))
    params: Mapped[Any] = mapped_column(JSONB)
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("recipient_kind IN ('role', 'user', 'employee')", name="recipient_kind_known"),
        Index("ix_notifications_pending", "created_at", postgresql_where=text("status = 'pending'")),
        Index(None, "recipient_kind", "recipient", "id"),
    )


class EmployeeRecord(Base):
    """What departments know about an employee that a departure must settle: disputes, complaints,
    violations (compliance), loans and advances (finance), assets and access (IT), agreements (HR)."""

    __tablename__ = "employee_records"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(20), server_default="open")
    details: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('dispute', 'complaint', 'violation', 'loan', 'advance', 'asset', 'access',"
                        " 'non_compete')", name="kind_known"),
        Index("ix_employee_records_open", "employee_id", "kind", postgresql_where=text("status = 'open'")),
    )


class ClearanceItem(Base):
    """One item of an offboarding gate, signed off by its owner; mirrors the workflow's state."""

    __tablename__ = "clearance_items"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    gate: Mapped[str] = mapped_column(String(20))
    item_key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    owner_role: Mapped[str] = mapped_column(String(30))
    owner_user: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), server_default="open")
    outcome: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    signed_by: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("workflow_id", "gate", "item_key"), Index(None, "status", "due_at"))


class NonCompetePayment(Base):
    """A monthly non-compete compensation payment, once per agreement and month."""

    __tablename__ = "non_compete_payments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(String(200))  # the non-compete workflow id
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    month: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(20), server_default="monthly")  # monthly, release_extra
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("agreement_id", "kind", "month"),)


class Transfer(Base):
    """A cross-province transfer of social insurance and housing fund, as HR and the stats see it."""

    __tablename__ = "transfers"

    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    department: Mapped[str] = mapped_column(String(100))
    origin_province: Mapped[str] = mapped_column(String(32))
    origin_city: Mapped[str] = mapped_column(String(32))
    destination_province: Mapped[str] = mapped_column(String(32))
    destination_city: Mapped[str] = mapped_column(String(32))
    types: Mapped[list[str]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    applicant: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index(None, "created_at"), Index(None, "stage", "updated_at"))


class TransferBranch(Base):
    """One insurance type's progress within a transfer."""

    __tablename__ = "transfer_branches"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("transfers.workflow_id"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    current_step: Mapped[str | None] = mapped_column(String(40))
    step_due: Mapped[dt.date | None] = mapped_column(Date)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("workflow_id", "kind"),
        CheckConstraint("status IN ('awaiting_review', 'submitted', 'accepted', 'transferring', 'completed',"
                        " 'rejected', 'cancelled')", name="status_known"),
        Index(None, "kind", "completed_at"),
        Index("ix_transfer_branches_active_due", "step_due", "id",
              postgresql_where=text("status IN ('submitted', 'accepted', 'transferring')")),
    )


class TransferMaterial(Base):
    """An uploaded document, kept in the database: never on a path built from its file name."""

    __tablename__ = "transfer_materials"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("transfers.workflow_id"))
    code: Mapped[str] = mapped_column(String(60))  # the requirement it satisfies
    filename: Mapped[str] = mapped_column(String(255))  # as the uploader named it; display only
    content_type: Mapped[str] = mapped_column(String(40))  # sniffed from the bytes
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    current: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = (Index(None, "workflow_id", "code"),)


class TransferReview(Base):
    """An HR decision on a transfer application; rejection reasons feed the statistics."""

    __tablename__ = "transfer_reviews"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("transfers.workflow_id"))
    decision: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("decision IN ('approved', 'rejected')", name="decision_known"),
        Index(None, "decision", "at"),
        Index(None, "workflow_id"),  # rejection statistics join reviews to the period's transfers
    )


class CaseDeadline(Base):
    """A date a case must meet that people should be reminded of: her return to work, the
    post-departure filings, a non-compete proof. The reminder sweep reads only the open ones."""

    __tablename__ = "case_deadlines"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("cases.workflow_id"))
    kind: Mapped[str] = mapped_column(String(40))  # maternity_return, departure_filing, non_compete_proof
    ref: Mapped[str] = mapped_column(String(60))  # which one within the case (a month, "return")
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10), server_default="open")
    details: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("workflow_id", "kind", "ref"),
        CheckConstraint("status IN ('open', 'met', 'cancelled')", name="status_known"),
        Index("ix_case_deadlines_open", "kind", "due_at", "id", postgresql_where=text("status = 'open'")),
    )


class StaffMember(Base):
    """Who holds a role, at which level, and how to reach them. Reminders to a role go to its
    level-1 members; an overdue task escalates one level at a time."""

    __tablename__ = "staff_members"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the token's subject
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    level: Mapped[int] = mapped_column(server_default="1")
    email: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), server_default="zh")
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        CheckConstraint("language IN ('zh', 'en')", name="language_known"),
        Index(None, "role", "level", postgresql_where=text("active")),
    )


class Delivery(Base):
    """One notification to one address over one channel: retried with backoff until sent, never
    sent again once it is (the row is claimed before the send and marked after)."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    channel: Mapped[str] = mapped_column(String(10))  # email, webhook
    address: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("notification_id", "channel", "address"),
        CheckConstraint("channel IN ('email', 'webhook')", name="channel_known"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status_known"),
        Index("ix_deliveries_due", "next_attempt_at", "id", postgresql_where=text("status IN ('pending', 'sending')")),
    )


class DeliveryAttempt(Base):
    """Every try of a delivery, with what the server answered: the trail an operator reads."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    attempt: Mapped[int]
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(10))  # sent, error
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("delivery_id", "attempt"),)


class NotificationRead(Base):
    """In-app: who has read which notification (a role's notification is read per person)."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    read_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ReportRun(Base):
    """A computed monthly risk and compliance report: when, with which thresholds, what alerted."""

    __tablename__ = "report_runs"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    thresholds: Mapped[Any] = mapped_column(JSONB)
    alerts: Mapped[Any] = mapped_column(JSONB)


class ReportFigure(Base):
    """One figure of a monthly report: a metric for one dimension (a department, a position, an
    ageing bucket), with the counts it came from so a reader can check it."""

    __tablename__ = "report_figures"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    month: Mapped[str] = mapped_column(ForeignKey("report_runs.month", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(40))
    dimension: Mapped[str] = mapped_column(String(100))  # department, position, bucket or "all"
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    numerator: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    denominator: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    alert: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (UniqueConstraint("month", "metric", "dimension"), Index(None, "metric", "month"))


class PolicyNotice(Base):
    """An operator notice (``domain.policy.notices``): figures from an official text, entered by one
    admin and approved by another. Its content never changes after entry (a trigger refuses it);
    only the decision (state, by whom, when, why) is written once, from ``entered``."""

    __tablename__ = "policy_notices"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    region: Mapped[str] = mapped_column(String(32))  # province code, or national
    city: Mapped[str | None] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(120))  # two approved notices of a scope never overlap
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    floor: Mapped[Decimal | None] = mapped_column(Money)
    ceiling: Mapped[Decimal | None] = mapped_column(Money)
    average_wage: Mapped[Decimal | None] = mapped_column(Money)
    minimum_wage: Mapped[Decimal | None] = mapped_column(Money)
    figures: Mapped[Any] = mapped_column(JSONB)  # the checked figures of its kind
    rule: Mapped[Any | None] = mapped_column(JSONB)  # the catalogue rule as entered (None: a calendar)
    source_name: Mapped[str] = mapped_column(String(200))
    source_url: Mapped[str | None] = mapped_column(String(500))
    document_number: Mapped[str | None] = mapped_column(String(80))
    source_material_id: Mapped[int | None] = mapped_column(BigInteger)  # an uploaded copy, by reference
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("policy_notices.id"))
    state: Mapped[str] = mapped_column(String(12), server_default="entered")
    entered_by: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("kind IN ('contribution_base', 'contribution_rates', 'housing_fund', "
                        "'holiday_arrangement', 'maternity_leave')", name="kind_known"),
        CheckConstraint("state IN ('entered', 'approved', 'rejected', 'withdrawn')", name="state_known"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="dates_in_order"),
        CheckConstraint("floor IS NULL OR ceiling IS NULL OR floor <= ceiling", name="floor_not_above_ceiling"),
        CheckConstraint("(state = 'entered') = (decided_by IS NULL)", name="decided_once"),
        CheckConstraint("state <> 'approved' OR decided_by <> entered_by", name="maker_is_not_checker"),
        CheckConstraint("state <> 'withdrawn' OR decided_by = entered_by", name="withdrawn_by_maker"),
        CheckConstraint("state <> 'rejected' OR length(trim(reason)) > 0", name="rejection_has_reason"),
        Index(None, "scope", "state"),
        Index(None, "state", "id"),
    )
