"""Activities of a social-insurance change: re-validate, record each transition, execute at the
agency, revoke at the agency (the compensation). Agency calls are keyed by workflow id and step,
and the agency answers a repeated key with its first answer, so a retry never submits twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cases import Actor, ChangeStage, apply_stage_change
from db import audit
from db.models import Employee, SiChange, SiEnrollment
from activities.unit import db_step
from db.steps import claim_step, record_result
from domain.identity import InvalidResidentId, parse_resident_id
from domain.policy.pinning import SiChangeSnapshot
from domain.si_change import ChangeKind, ChangeRefused, check_request
from integrations.si_agency import (
    AgencyRejected,
    AgencySubmission,
    SocialInsuranceAgency,
)

OPEN_STAGES = ("submitted", "approved", "executing", "rejected", "agency_rejected")


class ChangeFacts(BaseModel):
    """What the change is, as the maker last submitted it."""

    employee_id: str
    city: str
    kind: ChangeKind
    base: Decimal | None = None
    months: list[str] = Field(default_factory=list)
    effective_month: str


class ValidateChange(BaseModel):
    workflow_id: str
    facts: ChangeFacts
    today: dt.date
    policy: SiChangeSnapshot


class Transition(BaseModel):
    workflow_id: str
    step: str
    facts: ChangeFacts
    stage: str
    status: str | None = None
    estimate_total: Decimal
    maker: str
    approver: str | None = None
    agency_reason: str | None = None
    at: dt.datetime
    next_due_at: dt.datetime | None = None
    actor: Actor = Field(default_factory=Actor)
    details: dict[str, Any] = Field(default_factory=dict)


class Execute(BaseModel):
    workflow_id: str
    attempt: int = Field(description="approval round; each round is one agency submission")
    facts: ChangeFacts
    at: dt.datetime


class Executed(BaseModel):
    acceptance_no: str
    previous_base: Decimal | None = None


class Revoke(BaseModel):
    workflow_id: str
    facts: ChangeFacts
    acceptance_no: str
    previous_base: Decimal | None = None
    reason: str
    at: dt.datetime
    actor: Actor


class Revoked(BaseModel):
    revocation_no: str


def refusal(field: str, rule: str, message: str) -> ApplicationError:
    return ApplicationError(message, {"field": field, "rule": rule, "message": message},
                            type="ValidationFailed", non_retryable=True)


def validate_against_records(session: Session, workflow_id: str, facts: ChangeFacts) -> Employee:
    """The checks that need the database: the employee, the ID number, duplicate enrollments."""
    employee = session.get(Employee, facts.employee_id)
    if employee is None:
        raise ChangeRefused("employee_id", "employee_exists", f"no employee {facts.employee_id}")
    try:
        parse_resident_id(employee.resident_id_number)
    except InvalidResidentId as exc:
        raise ChangeRefused("resident_id_number", f"resident_id_{exc.part}",
                            f"the employee's resident ID number is wrong: {exc}") from None
    active = session.scalar(select(SiEnrollment).where(
        SiEnrollment.employee_id == facts.employee_id, SiEnrollment.city == facts.city,
        SiEnrollment.status == "active"))
    if facts.kind in (ChangeKind.ENROLLMENT, ChangeKind.BACK_PAYMENT) and active is not None:
        raise ChangeRefused("city", "no_second_active_enrollment",
                            f"{facts.employee_id} is already enrolled in {facts.city}"
                            f" since {active.since_month}")
    if facts.kind in (ChangeKind.STOP, ChangeKind.BASE_ADJUSTMENT) and active is None:
        raise ChangeRefused("city", "active_enrollment_required",
                            f"{facts.employee_id} has no active enrollment in {facts.city}")
    competing = session.scalar(select(SiChange.workflow_id).where(
        SiChange.employee_id == facts.employee_id, SiChange.city == facts.city,
        SiChange.stage.in_(OPEN_STAGES), SiChange.workflow_id != workflow_id))
    if competing is not None:
        raise ChangeRefused("employee_id", "one_open_change_per_city",
                            f"change {competing} for {facts.employee_id} in {facts.city} is still open")
    return employee


class SocialInsuranceActivities:
    def __init__(self, session_factory: sessionmaker[Session], agency: SocialInsuranceAgency) -> None:
        self._sessions = session_factory
        self._agency = agency

    @activity.defn(name="si.validate")
    def validate(self, req: ValidateChange) -> None:
        """The same checks as the API, again, at the moment the case starts (or is corrected)."""
        f = req.facts
        try:
            check_request(kind=f.kind, base=f.base, months=f.months, effective_month=f.effective_month,
                          today=req.today, policy=req.policy)
            with self._sessions() as session:
                validate_against_records(session, req.workflow_id, f)
        except ChangeRefused as exc:
            raise refusal(exc.field, exc.rule, str(exc)) from None

    @activity.defn(name="si.transition")
    def transition(self, req: Transition) -> None:
        """The change row, the case stage and the audit entry, in one transaction."""
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, req.step).first_time:
                return
            f = req.facts
            values = dict(employee_id=f.employee_id, city=f.city, kind=f.kind.value, base=f.base,
                          months=f.months, effective_month=f.effective_month,
                          estimate_total=req.estimate_total, stage=req.stage, maker=req.maker,
                          approver=req.approver, agency_reason=req.agency_reason, updated_at=req.at)
            session.execute(insert(SiChange).values(workflow_id=req.workflow_id, created_at=req.at, **values)
                            .on_conflict_do_update(index_elements=[SiChange.workflow_id], set_=values))
            apply_stage_change(session, ChangeStage(
                workflow_id=req.workflow_id, step=req.step, stage=req.stage, status=req.status,
                at=req.at, next_due_at=req.next_due_at, actor=req.actor,
                details={"kind": f.kind.value, "base": f.base, "months": f.months,
                         "estimate_total": req.estimate_total, **req.details}))

    @activity.defn(name="si.execute")
    def execute(self, req: Execute) -> Executed:
        step = f"execute-{req.attempt}"
        with self._sessions() as session:
            employee = session.get(Employee, req.facts.employee_id)
            if employee is None:
                raise ApplicationError(f"no employee {req.facts.employee_id}", type="EmployeeMissing",
                                       non_retryable=True)
            id_number = employee.resident_id_number
        f = req.facts
        try:
            receipt = self._agency.submit(AgencySubmission(
                reference=f"{req.workflow_id}:{step}", employee_id=f.employee_id,
                resident_id_number=id_number, city=f.city, kind=f.kind.value,
                base=str(f.base) if f.base is not None else None, months=f.months,
                effective_month=f.effective_month))
        except AgencyRejected as exc:
            raise ApplicationError(f"the agency refused: {exc.reason}", {"code": exc.code, "reason": exc.reason},
                                   type="AgencyRejected", non_retryable=True) from None
        with db_step(self._sessions) as session:
            claim = claim_step(session, req.workflow_id, step)
            if not claim.first_time:
                return Executed.model_validate(claim.result)
            previous = _apply_enrollment(session, req.workflow_id, f)
            session.execute(SiChange.__table__.update().where(SiChange.workflow_id == req.workflow_id)
                            .values(acceptance_no=receipt.number))
            result = Executed(acceptance_no=receipt.number, previous_base=previous)
            record_result(session, req.workflow_id, step, result.model_dump(mode="json"))
            audit.append(session, audit.AuditEntry(
                actor="agency", actor_role="system", action="si_change.executed",
                workflow_id=req.workflow_id, subject=f.employee_id,
                after={"acceptance_no": receipt.number, "kind": f.kind.value, "city": f.city}), at=req.at)
            return result

    @activity.defn(name="si.revoke")
    def revoke(self, req: Revoke) -> Revoked:
        """The compensation: ask the agency to revoke, then undo the enrollment effect."""
        try:
            receipt = self._agency.revoke(f"{req.workflow_id}:revoke", req.acceptance_no, req.reason)
        except AgencyRejected as exc:
            raise ApplicationError(f"the agency refused the revocation: {exc.reason}",
                                   {"code": exc.code, "reason": exc.reason},
                                   type="RevocationRefused", non_retryable=True) from None
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, "revoke").first_time:
                return Revoked(revocation_no=receipt.number)
            _undo_enrollment(session, req.workflow_id, req.facts, req.previous_base)
            session.execute(SiChange.__table__.update().where(SiChange.workflow_id == req.workflow_id)
                            .values(revocation_no=receipt.number))
            audit.append(session, audit.AuditEntry(
                actor=req.actor.user, actor_role=req.actor.role, action="si_change.revoked_at_agency",
                workflow_id=req.workflow_id, subject=req.facts.employee_id, request_id=req.actor.request_id,
                after={"revocation_no": receipt.number, "acceptance_no": req.acceptance_no,
                       "reason": req.reason}), at=req.at)
        return Revoked(revocation_no=receipt.number)

    def all(self) -> list[Any]:
        return [self.validate, self.transition, self.execute, self.revoke]


def _active(session: Session, f: ChangeFacts) -> SiEnrollment | None:
    return session.scalar(select(SiEnrollment).where(
        SiEnrollment.employee_id == f.employee_id, SiEnrollment.city == f.city,
        SiEnrollment.status == "active").with_for_update())


def _apply_enrollment(session: Session, workflow_id: str, f: ChangeFacts) -> Decimal | None:
    """Record what the agency accepted; returns the base it replaced (for a later revocation)."""
    active = _active(session, f)
    if f.kind in (ChangeKind.ENROLLMENT, ChangeKind.BACK_PAYMENT):
        since = min([f.effective_month, *f.months])
        session.add(SiEnrollment(employee_id=f.employee_id, city=f.city, status="active", base=f.base,
                                 since_month=since, opened_by=workflow_id))
        return None
    if active is None:  # the agency accepted, so our record was behind; say so loudly
        raise ApplicationError(f"no active enrollment of {f.employee_id} in {f.city} on record",
                               type="RecordsOutOfStep", non_retryable=True)
    previous = active.base
    if f.kind is ChangeKind.STOP:
        active.status, active.until_month, active.closed_by = "stopped", f.effective_month, workflow_id
    else:
        active.base = f.base
    return previous


def _undo_enrollment(session: Session, workflow_id: str, f: ChangeFacts, previous_base: Decimal | None) -> None:
    if f.kind in (ChangeKind.ENROLLMENT, ChangeKind.BACK_PAYMENT):
        row = session.scalar(select(SiEnrollment).where(SiEnrollment.opened_by == workflow_id).with_for_update())
        if row is not None:
            row.status, row.closed_by = "revoked", workflow_id
    elif f.kind is ChangeKind.STOP:
        row = session.scalar(select(SiEnrollment).where(SiEnrollment.closed_by == workflow_id).with_for_update())
        if row is not None:
            row.status, row.until_month, row.closed_by = "active", None, None
    else:
        active = _active(session, f)
        if active is not None:
            active.base = previous_base
