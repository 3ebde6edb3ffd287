"""Everything hrflow holds about one person, read for an export of her data (PIPL art. 45).

Included, each for her alone: ``employees`` (her row; her ID number read through the model's
``resident_id_number``), ``employment_events``, ``manager_assignments`` (her line managers),
``staff_members`` (her directory entry, if she is staff too), ``cases`` (hers), the rows of her cases:
``approval_tasks``, ``case_deadlines``, ``clearance_items``; ``employee_records``, ``receivables``,
``settlements`` and the ledger lines against her receivables (``receivable_claims``),
``non_compete_payments``, ``si_changes``, ``si_enrollments``, ``transfers`` with
``transfer_branches``, ``transfer_reviews`` and ``transfer_materials`` (every version, the files
too), ``base_adjustment_wages`` and ``base_adjustment_lines`` (her wage and her lines of batches),
``notifications`` addressed to her as an employee (with when she read each,
``notification_reads``) and their ``deliveries`` (where each was sent), ``audit_events`` whose
subject is her or whose case is hers, and ``personal_data_access`` (who saw her data in full).

Left out, and why: ``sim_agency_requests`` (the simulated agency's own record, not hrflow's; a real
agency keeps its own), ``activity_steps``, ``case_requests`` and ``case_sequences`` (the engine's
idempotency bookkeeping, repeating what the tables above say), ``delivery_attempts`` (the mail
servers' answers), ``report_runs``, ``report_figures`` and ``report_members`` (monthly figures and
the snapshot of whom each counted, derived from the tables above), ``audit_chain_heads`` and
``audit_seals`` (hashes), ``action_links`` and ``sign_in_bindings`` (keys to decide a task or to sign
in as her: a file that may be forwarded must not carry them), ``person_keys`` (her encryption key,
which protects her data and is not data about her), ``delegations`` (between staff logins, about
their work), and the catalogue's and the organisation's tables (``policy_notices``,
``approval_route_versions``, ``org_units``, ``base_adjustments``), which are about no one person.
Notifications to her staff login or her role are about other people's cases and stay out too.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, inspect, or_, select
from sqlalchemy.orm import Session

from db.base import Base
from db.materials import document_bytes
from db.models import (
    ApprovalTask,
    AuditEvent,
    BaseAdjustmentLine,
    BaseAdjustmentWage,
    Case,
    CaseDeadline,
    ClearanceItem,
    Delivery,
    Employee,
    EmployeeRecord,
    EmploymentEventRow,
    ManagerAssignment,
    NonCompetePayment,
    Notification,
    NotificationRead,
    PersonalDataAccess,
    Receivable,
    ReceivableClaim,
    Settlement,
    SiChange,
    SiEnrollment,
    StaffMember,
    Transfer,
    TransferBranch,
    TransferMaterial,
    TransferReview,
)
from domain import notices

# Her row, field by field: read through the model's attributes (the ID number may be stored sealed).
EMPLOYEE_FIELDS = ("employee_id", "name", "resident_id_number", "department", "position", "hire_date",
                   "probation_end", "si_province", "si_city", "contribution_base", "email", "mobile", "language",
                   "si_status", "employment_status", "leaving_on", "manager_id", "unit_code", "created_at",
                   "updated_at")


@dataclass(frozen=True)
class Document:
    id: int
    workflow_id: str
    code: str
    filename: str
    content_type: str
    content: bytes
    current: bool


@dataclass
class PersonalData:
    """Her record, every table's rows (plain values: money as yuan strings with fen, times ISO), and
    the files."""

    employee: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    documents: list[Document] = field(default_factory=list)


def plain(value: Any) -> Any:
    """A value as JSON holds it: money ``"12000.00"`` (two decimals, never a float), ISO times and dates."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _row(row: Base, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    skipped = set(leave_out)
    return {a.key: plain(getattr(row, a.key)) for a in inspect(type(row)).column_attrs if a.key not in skipped}


def _rows(session: Session, stmt: Select[Any], leave_out: Iterable[str] = ()) -> list[dict[str, Any]]:
    return [_row(r, leave_out) for r in session.scalars(stmt)]


def collect(session: Session, employee_id: str) -> PersonalData | None:
    """Everything listed in the module's docstring about ``employee_id``; None if there is no such employee."""
    person = session.get(Employee, employee_id)
    if person is None:
        return None
    data = PersonalData(employee={name: plain(getattr(person, name)) for name in EMPLOYEE_FIELDS})
    t = data.tables
    case_ids = select(Case.workflow_id).where(Case.employee_id == employee_id)
    t["employment_events"] = _rows(session, select(EmploymentEventRow).where(
        EmploymentEventRow.employee_id == employee_id).order_by(EmploymentEventRow.id))
    t["manager_assignments"] = _rows(session, select(ManagerAssignment).where(
        ManagerAssignment.employee_id == employee_id).order_by(ManagerAssignment.effective_from))
    t["staff_members"] = _rows(session, select(StaffMember).where(StaffMember.employee_id == employee_id)
                               .order_by(StaffMember.user_id))
    t["cases"] = _rows(session, select(Case).where(Case.employee_id == employee_id).order_by(Case.opened_at, Case.id))
    t["approval_tasks"] = _rows(session, select(ApprovalTask).where(ApprovalTask.workflow_id.in_(case_ids))
                                .order_by(ApprovalTask.created_at, ApprovalTask.id))
    t["case_deadlines"] = _rows(session, select(CaseDeadline).where(CaseDeadline.employee_id == employee_id)
                                .order_by(CaseDeadline.due_at, CaseDeadline.id))
    t["clearance_items"] = _rows(session, select(ClearanceItem).where(ClearanceItem.workflow_id.in_(case_ids))
                                 .order_by(ClearanceItem.id))
    t["employee_records"] = _rows(session, select(EmployeeRecord).where(EmployeeRecord.employee_id == employee_id)
                                  .order_by(EmployeeRecord.id))
    t["receivables"] = _rows(session, select(Receivable).where(Receivable.employee_id == employee_id)
                             .order_by(Receivable.month, Receivable.id))
    t["settlements"] = _rows(session, select(Settlement).where(Settlement.employee_id == employee_id)
                             .order_by(Settlement.at, Settlement.id))
    t["receivable_claims"] = _rows(session, select(ReceivableClaim).where(ReceivableClaim.receivable_id.in_(
        select(Receivable.id).where(Receivable.employee_id == employee_id))).order_by(ReceivableClaim.id))
    t["non_compete_payments"] = _rows(session, select(NonCompetePayment).where(
        NonCompetePayment.employee_id == employee_id).order_by(NonCompetePayment.month, NonCompetePayment.id))
    t["si_changes"] = _rows(session, select(SiChange).where(SiChange.employee_id == employee_id)
                            .order_by(SiChange.created_at))
    t["si_enrollments"] = _rows(session, select(SiEnrollment).where(SiEnrollment.employee_id == employee_id)
                                .order_by(SiEnrollment.id))
    transfer_ids = select(Transfer.workflow_id).where(Transfer.employee_id == employee_id)
    t["transfers"] = _rows(session, select(Transfer).where(Transfer.employee_id == employee_id)
                           .order_by(Transfer.created_at))
    t["transfer_branches"] = _rows(session, select(TransferBranch).where(TransferBranch.workflow_id.in_(transfer_ids))
                                   .order_by(TransferBranch.id))
    t["transfer_reviews"] = _rows(session, select(TransferReview).where(TransferReview.workflow_id.in_(transfer_ids))
                                  .order_by(TransferReview.id))
    materials = list(session.scalars(select(TransferMaterial).where(TransferMaterial.workflow_id.in_(transfer_ids))
                                     .order_by(TransferMaterial.id)))
    t["transfer_materials"] = [_row(m, leave_out=("content", "sealed_with")) for m in materials]
    data.documents = [Document(m.id, m.workflow_id, m.code, m.filename, m.content_type, content, m.current)
                      for m in materials if (content := document_bytes(session, m)) is not None]
    t["base_adjustment_wages"] = _rows(session, select(BaseAdjustmentWage).where(
        BaseAdjustmentWage.employee_id == employee_id).order_by(BaseAdjustmentWage.batch_id))
    t["base_adjustment_lines"] = _rows(session, select(BaseAdjustmentLine).where(
        BaseAdjustmentLine.employee_id == employee_id).order_by(BaseAdjustmentLine.batch_id))
    t["notifications"] = _notifications(session, person)
    t["deliveries"] = _rows(session, select(Delivery).where(Delivery.notification_id.in_(
        select(Notification.id).where(Notification.recipient_kind == "employee",
                                      Notification.recipient == employee_id))).order_by(Delivery.id))
    t["audit_events"] = _rows(session, select(AuditEvent).where(
        or_(AuditEvent.subject == employee_id, AuditEvent.workflow_id.in_(case_ids))).order_by(AuditEvent.id))
    t["personal_data_access"] = _rows(session, select(PersonalDataAccess).where(
        PersonalDataAccess.employee_id == employee_id).order_by(PersonalDataAccess.at, PersonalDataAccess.id))
    return data


def _notifications(session: Session, person: Employee) -> list[dict[str, Any]]:
    """Those addressed to her as an employee, each said as she was told it, with when she read it."""
    read = (select(NotificationRead.read_at).where(NotificationRead.notification_id == Notification.id,
                                                   NotificationRead.user_id == person.employee_id).scalar_subquery())
    out = []
    for n, read_at in session.execute(select(Notification, read.label("read_at")).where(
            Notification.recipient_kind == "employee", Notification.recipient == person.employee_id)
            .order_by(Notification.id)):
        said = notices.render(n.template, n.params or {}, person.language, workflow_id=n.workflow_id)
        out.append(_row(n) | {"subject": said.subject, "body": said.body, "read_at": plain(read_at)})
    return out
