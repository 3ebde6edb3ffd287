"""Activities of a maternity case: the employee's social-insurance status, notifications, the
monthly advance booked as a receivable, settlements confirmed by finance, the entitlement
recomputed after the birth, and the allowance claim at the agency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cases import Actor
from activities import outbox
from activities.outbox import Notify
from activities.unit import db_step
from db import audit, ledger
from db.models import Employee
from db.steps import claim_step, record_result
from domain.maternity import months_on_leave_at_cutoff
from domain.policy import BirthFacts, PolicyError, pin_maternity
from domain.policy.pinning import MaternitySnapshot
from integrations.si_agency import AgencyRejected, AllowanceClaim, SocialInsuranceAgency

ADVANCE = "maternity_advance"


class SetSiStatus(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    status: str
    at: dt.datetime
    actor: Actor = Field(default_factory=Actor)




class BookAdvance(BaseModel):
    workflow_id: str
    employee_id: str
    month: str
    amount: Decimal
    at: dt.datetime


class Settle(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    method: str
    amount: Decimal
    reference: str | None = None
    at: dt.datetime
    actor: Actor


class OpenBalance(BaseModel):
    workflow_id: str
    employee_id: str


class ReconcileReturn(BaseModel):
    workflow_id: str
    employee_id: str
    leave_start: dt.date
    returned_on: dt.date
    cutoff_day: int
    amount: Decimal
    at: dt.datetime


class Recompute(BaseModel):
    province: str
    city: str | None
    facts: BirthFacts
    on: dt.date


class ClaimAllowance(BaseModel):
    workflow_id: str
    employee_id: str
    city: str
    birth_date: dt.date
    leave_days: int
    expected_amount: Decimal


class MaternityActivities:
    def __init__(self, session_factory: sessionmaker[Session], agency: SocialInsuranceAgency) -> None:
        self._sessions = session_factory
        self._agency = agency

    @activity.defn(name="maternity.set_si_status")
    def set_si_status(self, req: SetSiStatus) -> str:
        """Set the employee's social-insurance status; returns the one it replaced (for undo)."""
        with db_step(self._sessions) as session:
            claim = claim_step(session, req.workflow_id, req.step)
            if not claim.first_time:
                return str(claim.result)
            employee = session.get(Employee, req.employee_id, with_for_update=True)
            if employee is None:
                raise ApplicationError(f"no employee {req.employee_id}", type="EmployeeMissing", non_retryable=True)
            previous, employee.si_status = employee.si_status, req.status
            record_result(session, req.workflow_id, req.step, previous)
            audit.append(session, audit.AuditEntry(
                actor=req.actor.user, actor_role=req.actor.role, action="employee.si_status_changed",
                workflow_id=req.workflow_id, subject=req.employee_id, request_id=req.actor.request_id,
                before={"si_status": previous}, after={"si_status": req.status}), at=req.at)
            return previous

    @activity.defn(name="maternity.notify")
    def notify(self, req: Notify) -> None:
        outbox.write(self._sessions, req)

    @activity.defn(name="maternity.book_advance")
    def book_advance(self, req: BookAdvance) -> bool:
        """One month's advance of her personal contribution, booked once per month."""
        with db_step(self._sessions) as session:
            booked = ledger.book(session, employee_id=req.employee_id, workflow_id=req.workflow_id,
                                 kind=ADVANCE, month=req.month, amount=req.amount, at=req.at)
            if booked and claim_step(session, req.workflow_id, f"booked-{req.month}").first_time:
                audit.append(session, audit.AuditEntry(
                    actor="system", actor_role="system", action="receivable.booked",
                    workflow_id=req.workflow_id, subject=req.employee_id,
                    after={"kind": ADVANCE, "month": req.month, "amount": req.amount}), at=req.at)
            return booked

    @activity.defn(name="maternity.settle")
    def settle(self, req: Settle) -> Decimal:
        """A settlement finance confirmed (deduction, repayment) or a write-off; returns what is left."""
        with db_step(self._sessions) as session:
            try:
                left = ledger.settle(session, workflow_id=req.workflow_id, step=req.step,
                                     employee_id=req.employee_id, method=req.method, amount=req.amount,
                                     confirmed_by=req.actor.user, reference=req.reference, at=req.at)
            except ledger.OverSettlement as exc:
                raise ApplicationError(str(exc), type="OverSettlement", non_retryable=True) from None
            audit.append(session, audit.AuditEntry(
                actor=req.actor.user, actor_role=req.actor.role, action=f"receivable.{req.method}",
                workflow_id=req.workflow_id, subject=req.employee_id, request_id=req.actor.request_id,
                after={"amount": req.amount, "reference": req.reference, "outstanding": left}), at=req.at)
            return left

    @activity.defn(name="maternity.open_balance")
    def open_balance(self, req: OpenBalance) -> Decimal:
        """What is still open on this case's receivables, as the ledger has it now (another case,
        final pay say, may have recovered part of it)."""
        with db_step(self._sessions) as session:
            return ledger.outstanding(session, req.employee_id, req.workflow_id)

    @activity.defn(name="maternity.reconcile_return")
    def reconcile_return(self, req: ReconcileReturn) -> dict[str, Decimal]:
        """Advances follow the day she actually came back, not the day HR confirmed it: every cut-off
        she was away for is booked, one she was back for is reversed. Returns the months that count."""
        away = {f"{day:%Y-%m}" for day in months_on_leave_at_cutoff(
            req.leave_start, req.returned_on - dt.timedelta(days=1), req.cutoff_day)}
        with db_step(self._sessions) as session:
            booked = ledger.booked_months(session, workflow_id=req.workflow_id, kind=ADVANCE)
            added = [m for m in sorted(away - set(booked))
                     if ledger.book(session, employee_id=req.employee_id, workflow_id=req.workflow_id,
                                    kind=ADVANCE, month=m, amount=req.amount, at=req.at)]
            reversed_ = [m for m in sorted(set(booked) - away)
                         if ledger.reverse(session, workflow_id=req.workflow_id, kind=ADVANCE, month=m, at=req.at)]
            if (added or reversed_) and claim_step(session, req.workflow_id, "return-reconciled").first_time:
                audit.append(session, audit.AuditEntry(
                    actor="system", actor_role="system", action="receivable.reconciled_with_return",
                    workflow_id=req.workflow_id, subject=req.employee_id,
                    after={"returned_on": req.returned_on, "booked": added, "reversed": reversed_}), at=req.at)
            return ledger.booked_months(session, workflow_id=req.workflow_id, kind=ADVANCE)

    @activity.defn(name="maternity.recompute")
    def recompute(self, req: Recompute) -> MaternitySnapshot:
        """The entitlement for the actual birth, under the rules in force when the case started."""
        try:
            return pin_maternity(req.province, req.city, req.facts, on=req.on)
        except PolicyError as exc:
            raise ApplicationError(str(exc), exc.detail(), type="ValidationFailed", non_retryable=True) from None

    @activity.defn(name="maternity.claim_allowance")
    def claim_allowance(self, req: ClaimAllowance) -> str:
        with self._sessions() as session:
            id_number = session.scalar(select(Employee.resident_id_number)
                                       .where(Employee.employee_id == req.employee_id))
        try:
            receipt = self._agency.claim_allowance(AllowanceClaim(
                reference=f"{req.workflow_id}:allowance", employee_id=req.employee_id,
                resident_id_number=id_number or "", city=req.city, birth_date=req.birth_date.isoformat(),
                leave_days=req.leave_days, expected_amount=str(req.expected_amount)))
        except AgencyRejected as exc:
            raise ApplicationError(f"the agency refused the claim: {exc.reason}", type="AgencyRejected",
                                   non_retryable=True) from None
        return receipt.number

    def all(self) -> list[Any]:
        return [self.set_si_status, self.notify, self.book_advance, self.settle, self.open_balance, self.reconcile_return,
                self.recompute, self.claim_allowance]
