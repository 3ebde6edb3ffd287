"""Activities of a social-insurance change: re-validate, record each transition, execute at the
agency, revoke at the agency (the compensation). Agency calls are keyed by workflow id and step,
and the agency answers a repeated key with its first answer, so a retry never submits twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cases import audit_move, claim_and_move
from activities.unit import AgencyActivities, agency_refusals, append_audit, db_step
from db.base import table, upsert
from db.models import Employee, SiChange, SiEnrollment
from db.si_records import validate_against_records
from db.steps import claim_step, record_result
from domain.actors import Actor
from domain.contracts import si_change as contract
from domain.contracts.cases import ChangeStage
from domain.refusals import Refusal
from domain.si_change import ChangeKind, ChangeRefused, change_summary, check_request
from integrations.si_agency import AgencySubmission

AGENCY = Actor(user="agency")  # who the audit trail says executed a change: the agency accepted it


def refusal(field: str, rule: str, message: str) -> ApplicationError:
    return ApplicationError(message, {"field": field, "rule": rule, "message": message},
                            type=Refusal.VALIDATION_FAILED.type_name, non_retryable=True)


_CHANGES = table(SiChange)
_KEPT = ("employee_id", "city", "kind", "base", "months", "effective_month", "estimate_total", "stage", "maker",
         "approver", "agency_reason", "updated_at")
# Built once, every transition of every case writes it: upsert the change row and answer what it
# was (the statement's snapshot is from before its upsert), in one statement.
_UPSERT_ANSWERING_EARLIER = (
    select(_CHANGES.c.kind, _CHANGES.c.base, _CHANGES.c.months, _CHANGES.c.estimate_total)
    .where(_CHANGES.c.workflow_id == bindparam("workflow_id"))
    .add_cte(upsert(SiChange, ["workflow_id"], _KEPT)
             .values({c: bindparam(c) for c in ("workflow_id", "created_at", *_KEPT)}).cte("upserted")))


class SocialInsuranceActivities(AgencyActivities):
    @activity.defn(name=contract.VALIDATE.name)
    def validate(self, req: contract.ValidateChange) -> None:
        """The same checks as the API, again, at the moment the case starts (or is corrected)."""
        f = req.facts
        try:
            check_request(kind=f.kind, base=f.base, months=f.months, effective_month=f.effective_month,
                          today=req.today, policy=req.policy)
            with self._sessions() as session:
                validate_against_records(session, req.workflow_id, f)
        except ChangeRefused as exc:
            raise refusal(exc.field, exc.rule, str(exc)) from None

    @activity.defn(name=contract.TRANSITION.name)
    def transition(self, req: contract.Transition) -> None:
        """The change row, the case stage and the audit entry, and the tasks the decision closes, in
        one transaction."""
        f = req.facts
        stage = ChangeStage(workflow_id=req.workflow_id, step=req.step, stage=req.stage, status=req.status,
                            at=req.at, next_due_at=req.next_due_at, actor=req.actor,
                            details={"kind": f.kind.value, "base": f.base, "months": f.months,
                                     "estimate_total": req.estimate_total, **req.details},
                            summary=change_summary(f.kind, f.city, f.base, f.months), closes=req.closes)
        with db_step(self._sessions) as session:
            case = claim_and_move(session, stage)
            if case is None:
                return  # done before
            earlier = session.execute(_UPSERT_ANSWERING_EARLIER, {
                "workflow_id": req.workflow_id, "created_at": req.at, "employee_id": f.employee_id, "city": f.city,
                "kind": f.kind.value, "base": f.base, "months": f.months, "effective_month": f.effective_month,
                "estimate_total": req.estimate_total, "stage": req.stage, "maker": req.maker,
                "approver": req.approver, "agency_reason": req.agency_reason, "updated_at": req.at}).first()
            now = {"kind": f.kind.value, "base": f.base, "months": f.months, "estimate_total": req.estimate_total}
            before = {} if earlier is None else {  # a correction: what the facts were, for the audit
                k: v for k, v in earlier._asdict().items() if v != now[k]}
            audit_move(session, stage.model_copy(update={"before": before}), case)

    @activity.defn(name=contract.EXECUTE.name)
    def execute(self, req: contract.Execute) -> contract.Executed:
        step = f"execute-{req.attempt}"
        with self._sessions() as session:
            employee = session.get(Employee, req.facts.employee_id)
            if employee is None:
                raise ApplicationError(f"no employee {req.facts.employee_id}", type=Refusal.EMPLOYEE_MISSING.type_name,
                                       non_retryable=True)
            id_number = employee.resident_id_number
        f = req.facts
        with agency_refusals("the agency refused", details=True):
            receipt = self._agency.submit(AgencySubmission(
                reference=f"{req.workflow_id}:{step}", employee_id=f.employee_id,
                resident_id_number=id_number, city=f.city, kind=f.kind.value,
                base=str(f.base) if f.base is not None else None, months=f.months,
                effective_month=f.effective_month))
        with db_step(self._sessions) as session:
            claim = claim_step(session, req.workflow_id, step)
            if not claim.first_time:
                return contract.Executed.model_validate(claim.result)
            previous = _apply_enrollment(session, req.workflow_id, f)
            session.execute(update(SiChange).where(SiChange.workflow_id == req.workflow_id)
                            .values(acceptance_no=receipt.number))
            result = contract.Executed(acceptance_no=receipt.number, previous_base=previous)
            record_result(session, req.workflow_id, step, result.model_dump(mode="json"))
            append_audit(session, AGENCY, "si_change.executed", workflow_id=req.workflow_id, at=req.at,
                         subject=f.employee_id,
                         after={"acceptance_no": receipt.number, "kind": f.kind.value, "city": f.city})
            return result

    @activity.defn(name=contract.REVOKE.name)
    def revoke(self, req: contract.Revoke) -> contract.Revoked:
        """The compensation: ask the agency to revoke, then undo the enrollment effect."""
        with agency_refusals("the agency refused the revocation", kind=Refusal.REVOCATION_REFUSED, details=True):
            receipt = self._agency.revoke(f"{req.workflow_id}:revoke", req.acceptance_no, req.reason)
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, "revoke").first_time:
                return contract.Revoked(revocation_no=receipt.number)
            _undo_enrollment(session, req.workflow_id, req.facts, req.previous_base)
            session.execute(update(SiChange).where(SiChange.workflow_id == req.workflow_id)
                            .values(revocation_no=receipt.number))
            append_audit(session, req.actor, "si_change.revoked_at_agency", workflow_id=req.workflow_id, at=req.at,
                         subject=req.facts.employee_id,
                         after={"revocation_no": receipt.number, "acceptance_no": req.acceptance_no,
                                "reason": req.reason})
        return contract.Revoked(revocation_no=receipt.number)

    def all(self) -> list[Any]:
        return [self.validate, self.transition, self.execute, self.revoke]


def _active(session: Session, f: contract.ChangeFacts) -> SiEnrollment | None:
    return session.scalar(select(SiEnrollment).where(
        SiEnrollment.employee_id == f.employee_id, SiEnrollment.city == f.city,
        SiEnrollment.status == "active").with_for_update())


def _apply_enrollment(session: Session, workflow_id: str, f: contract.ChangeFacts) -> Decimal | None:
    """Record what the agency accepted; returns the base it replaced (for a later revocation)."""
    active = _active(session, f)
    if f.kind in (ChangeKind.ENROLLMENT, ChangeKind.BACK_PAYMENT):
        since = min([f.effective_month, *f.months])
        session.add(SiEnrollment(employee_id=f.employee_id, city=f.city, status="active", base=f.base,
                                 since_month=since, opened_by=workflow_id))
        return None
    if active is None:  # the agency accepted, so our record was behind; say so loudly
        raise ApplicationError(f"no active enrollment of {f.employee_id} in {f.city} on record",
                               type=Refusal.RECORDS_OUT_OF_STEP.type_name, non_retryable=True)
    previous = active.base
    if f.kind is ChangeKind.STOP:
        active.status, active.until_month, active.closed_by = "stopped", f.effective_month, workflow_id
    else:
        active.base = f.base
    return previous


def _undo_enrollment(session: Session, workflow_id: str, f: contract.ChangeFacts, previous_base: Decimal | None) -> None:
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
