"""Activities of a maternity case: the employee's social-insurance status, notifications, the
monthly advance booked as a receivable, settlements confirmed by finance, the entitlement
recomputed after the birth, and the allowance claim at the agency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.unit import AgencyActivities, agency_refusals, append_audit, audit_once, db_step
from db import ledger
from db.models import Employee
from db.steps import claim_step, record_result
from domain.actors import SYSTEM
from domain.contracts import maternity as contract
from domain.maternity import months_on_leave_at_cutoff
from domain.policy import PolicyError, pin_maternity
from domain.policy.pinning import MaternitySnapshot
from domain.refusals import Refusal
from integrations.si_agency import AllowanceClaim

ADVANCE = "maternity_advance"


class MaternityActivities(AgencyActivities):
    @activity.defn(name=contract.SET_SI_STATUS.name)
    def set_si_status(self, req: contract.SetSiStatus) -> str:
        """Set the employee's social-insurance status; returns the one it replaced (for undo)."""
        with db_step(self._sessions) as session:
            claim = claim_step(session, req.workflow_id, req.step)
            if not claim.first_time:
                return str(claim.result)
            employee = session.get(Employee, req.employee_id, with_for_update=True)
            if employee is None:
                raise ApplicationError(f"no employee {req.employee_id}", type=Refusal.EMPLOYEE_MISSING.type_name,
                                       non_retryable=True)
            previous, employee.si_status = employee.si_status, req.status
            record_result(session, req.workflow_id, req.step, previous)
            append_audit(session, req.actor, "employee.si_status_changed", workflow_id=req.workflow_id, at=req.at,
                         subject=req.employee_id, before={"si_status": previous}, after={"si_status": req.status})
            return previous

    @activity.defn(name=contract.BOOK_ADVANCE.name)
    def book_advance(self, req: contract.BookAdvance) -> bool:
        """One month's advance of her personal contribution, booked once per month."""
        with db_step(self._sessions) as session:
            booked = ledger.book(session, employee_id=req.employee_id, workflow_id=req.workflow_id,
                                 kind=ADVANCE, month=req.month, amount=req.amount, at=req.at)
            if booked:
                audit_once(session, f"booked-{req.month}", SYSTEM, "receivable.booked",
                           workflow_id=req.workflow_id, at=req.at, subject=req.employee_id,
                           after={"kind": ADVANCE, "month": req.month, "amount": req.amount})
            return booked

    @activity.defn(name=contract.SETTLE.name)
    def settle(self, req: contract.Settle) -> Decimal:
        """A settlement finance confirmed (deduction, repayment) or a write-off; returns what is left."""
        with db_step(self._sessions) as session:
            try:
                left = ledger.settle(session, workflow_id=req.workflow_id, step=req.step,
                                     employee_id=req.employee_id, method=req.method, amount=req.amount,
                                     confirmed_by=req.actor.user, reference=req.reference, at=req.at)
            except ledger.OverSettlement as exc:
                raise ApplicationError(str(exc), type=Refusal.OVER_SETTLEMENT.type_name, non_retryable=True) from None
            append_audit(session, req.actor, f"receivable.{req.method}", workflow_id=req.workflow_id, at=req.at,
                         subject=req.employee_id,
                         after={"amount": req.amount, "reference": req.reference, "outstanding": left})
            return left

    @activity.defn(name=contract.OPEN_BALANCE.name)
    def open_balance(self, req: contract.OpenBalance) -> Decimal:
        """What is still open on this case's receivables, as the ledger has it now (another case,
        final pay say, may have recovered part of it)."""
        with db_step(self._sessions) as session:
            return ledger.outstanding(session, req.employee_id, req.workflow_id)

    @activity.defn(name=contract.RECONCILE_RETURN.name)
    def reconcile_return(self, req: contract.ReconcileReturn) -> dict[str, Decimal]:
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
            if added or reversed_:
                audit_once(session, "return-reconciled", SYSTEM, "receivable.reconciled_with_return",
                           workflow_id=req.workflow_id, at=req.at, subject=req.employee_id,
                           after={"returned_on": req.returned_on, "booked": added, "reversed": reversed_})
            return ledger.booked_months(session, workflow_id=req.workflow_id, kind=ADVANCE)

    @activity.defn(name=contract.RECOMPUTE.name)
    def recompute(self, req: contract.Recompute) -> MaternitySnapshot:
        """The entitlement for the actual birth, under the rules in force when the case started."""
        try:
            return pin_maternity(req.province, req.city, req.facts, on=req.on)
        except PolicyError as exc:
            raise ApplicationError(str(exc), exc.detail(), type=Refusal.VALIDATION_FAILED.type_name,
                                   non_retryable=True) from None

    @activity.defn(name=contract.CLAIM_ALLOWANCE.name)
    def claim_allowance(self, req: contract.ClaimAllowance) -> str:
        id_number = self._resident_id(req.employee_id)
        with agency_refusals("the agency refused the claim"):
            receipt = self._agency.claim_allowance(AllowanceClaim(
                reference=f"{req.workflow_id}:allowance", employee_id=req.employee_id,
                resident_id_number=id_number, city=req.city, birth_date=req.birth_date.isoformat(),
                leave_days=req.leave_days, expected_amount=str(req.expected_amount)))
        return receipt.number

    def all(self) -> list[Any]:
        return [self.set_si_status, self.book_advance, self.settle, self.open_balance, self.reconcile_return,
                self.recompute, self.claim_allowance]
