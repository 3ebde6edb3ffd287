"""Activities of an offboarding case: the risk assessment, clearance items and their sign-offs,
access revocation and restoration, the housing-fund stop, the separation certificate.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.unit import AgencyActivities, append_audit, audit_once, db_step
from db import ledger
from db.models import AuditEvent, Case, ClearanceItem, Employee, EmployeeRecord, SiEnrollment
from db.steps import claim_step, record_result
from domain.actors import SYSTEM, Actor
from domain.contracts import offboarding as contract
from domain.refusals import Refusal

COMPLIANCE_KINDS = ("dispute", "complaint", "violation")
FINANCE_KINDS = ("loan", "advance")
IT_KINDS = ("asset", "access")


class OffboardingActivities(AgencyActivities):
    @activity.defn(name=contract.ASSESS_RISK.name)
    def assess_risk(self, req: contract.Assess) -> contract.RiskReport:
        """Everything open on the employee, with a one-line verdict every approver sees."""
        with db_step(self._sessions) as session:
            employee = session.get(Employee, req.employee_id)
            if employee is None:
                raise ApplicationError(f"no employee {req.employee_id}", type=Refusal.EMPLOYEE_MISSING.type_name,
                                       non_retryable=True)
            records = list(session.scalars(select(EmployeeRecord).where(
                EmployeeRecord.employee_id == req.employee_id, EmployeeRecord.status == "open")
                .order_by(EmployeeRecord.id)))

            def items(kinds: tuple[str, ...]) -> list[contract.RiskItem]:
                return [contract.RiskItem(record_id=r.id, kind=r.kind, title=r.title, amount=r.amount)
                        for r in records if r.kind in kinds]

            open_receivables = ledger.open_receivables(session, req.employee_id)
            owed = sum((r.amount - r.settled for r in open_receivables), Decimal("0.00"))
            by_case: dict[str, Decimal] = {}
            for r in open_receivables:
                by_case[r.workflow_id] = by_case.get(r.workflow_id, Decimal("0.00")) + r.amount - r.settled
            running = list(session.scalars(select(Case.workflow_id).where(
                Case.employee_id == req.employee_id, Case.status == "open", Case.workflow_id != req.workflow_id)))
            enrollment = session.scalar(select(SiEnrollment.city).where(
                SiEnrollment.employee_id == req.employee_id, SiEnrollment.status == "active"))
            non_compete = next((contract.RiskItem(record_id=r.id, kind=r.kind, title=r.title, amount=r.amount)
                                for r in records if r.kind == "non_compete"), None)
            compliance, finance, it = items(COMPLIANCE_KINDS), items(FINANCE_KINDS), items(IT_KINDS)
            losses = sum((i.amount or Decimal(0) for i in compliance), Decimal("0.00"))
            parts = []
            if compliance:
                parts.append(f"{len(compliance)} compliance item(s) on record"
                             + (f", losses {losses} yuan" if losses else "") + ": needs compliance review")
            if owed:
                parts.append(f"receivables {owed} yuan open ({', '.join(r.month for r in open_receivables)})")
            if finance:
                parts.append(f"{len(finance)} loan(s)/advance(s) open")
            if it:
                parts.append(f"{len(it)} asset(s)/access(es) to return or revoke")
            if non_compete:
                parts.append("non-compete agreement: follow-up after departure")
            if running:
                parts.append(f"running cases: {', '.join(running)}")
            report = contract.RiskReport(
                employee_id=employee.employee_id, position=employee.position, hire_date=employee.hire_date,
                compliance=compliance, finance=finance, it=it, receivables_outstanding=owed,
                receivable_months=[r.month for r in open_receivables], receivable_cases=by_case,
                non_compete=non_compete,
                running_cases=running, active_enrollment_city=enrollment,
                contribution_base=employee.contribution_base,
                summary="; ".join(parts) or "nothing open on record", needs_compliance_review=bool(compliance))
            audit_once(session, "risk-assessed", SYSTEM, "offboarding.risk_assessed", workflow_id=req.workflow_id,
                       at=req.at, subject=req.employee_id,
                       after={"summary": report.summary, "compliance": len(compliance), "receivables": owed})
            return report

    @activity.defn(name=contract.OPEN_ITEMS.name)
    def open_items(self, req: contract.OpenItems) -> None:
        with db_step(self._sessions) as session:
            for item in req.items:
                session.execute(insert(ClearanceItem).values(workflow_id=req.workflow_id, **item.model_dump())
                                .on_conflict_do_nothing(index_elements=[ClearanceItem.workflow_id, ClearanceItem.gate,
                                                                        ClearanceItem.item_key]))

    @activity.defn(name=contract.SIGN_ITEM.name)
    def sign_item(self, req: contract.SignItem) -> contract.Signed:
        """Record a sign-off; an escalation to legal takes the evidence package from the audit trail."""
        with db_step(self._sessions) as session:
            evidence: list[int] = []
            if req.outcome == "escalated_to_legal":
                evidence = list(session.scalars(select(AuditEvent.id).where(
                    (AuditEvent.subject == req.employee_id) | (AuditEvent.workflow_id == req.workflow_id))
                    .order_by(AuditEvent.id)))
            changed = session.execute(
                update(ClearanceItem).where(ClearanceItem.workflow_id == req.workflow_id, ClearanceItem.gate == req.gate,
                                            ClearanceItem.item_key == req.item_key, ClearanceItem.status == "open")
                .values(status="carried_on" if req.outcome in ("escalated_to_legal", "to_recovery") else "done",
                        outcome=req.outcome, note=req.note, signed_by=req.actor.user, signed_at=req.at)
                .returning(ClearanceItem.id)).first()
            if changed is None:
                return contract.Signed(evidence_events=evidence)  # a retry after the first attempt committed
            if req.record_id is not None and req.outcome not in ("escalated_to_legal", "to_recovery"):
                session.execute(update(EmployeeRecord).where(EmployeeRecord.id == req.record_id)
                                .values(status="closed"))
            append_audit(session, req.actor, f"clearance.{req.gate}.signed", workflow_id=req.workflow_id, at=req.at,
                         subject=req.employee_id, after={"item": req.item_key, "outcome": req.outcome, "note": req.note,
                                                         "evidence_events": len(evidence) or None})
            return contract.Signed(evidence_events=evidence)

    @activity.defn(name=contract.REVOKE_ACCESS.name)
    def revoke_access(self, req: contract.AccessChange) -> list[int]:
        """Revoke what access remains; returns the records revoked (what a withdrawal restores)."""
        with db_step(self._sessions) as session:
            claim = claim_step(session, req.workflow_id, req.step)
            if not claim.first_time:
                return list(claim.result or [])
            ids = list(session.scalars(update(EmployeeRecord).where(
                EmployeeRecord.employee_id == req.employee_id, EmployeeRecord.kind == "access",
                EmployeeRecord.status == "open").values(status="revoked").returning(EmployeeRecord.id)))
            record_result(session, req.workflow_id, req.step, ids)
            append_audit(session, SYSTEM, "offboarding.access_revoked", workflow_id=req.workflow_id, at=req.at,
                         subject=req.employee_id, after={"records": ids})
            return ids

    @activity.defn(name=contract.RESTORE_ACCESS.name)
    def restore_access(self, req: contract.AccessChange) -> None:
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, req.step).first_time:
                return
            session.execute(update(EmployeeRecord).where(EmployeeRecord.id.in_(req.record_ids))
                            .values(status="open"))
            append_audit(session, SYSTEM, "offboarding.access_restored", workflow_id=req.workflow_id, at=req.at,
                         subject=req.employee_id, after={"records": req.record_ids})

    @activity.defn(name=contract.HOUSING_FUND.name)
    def housing_fund(self, req: contract.HousingFund) -> str:
        """Stop (or, compensating, restart) the housing-fund contribution through the agency."""
        return self._file("the housing-fund centre refused", reference=f"{req.workflow_id}:{req.step}",
                          employee_id=req.employee_id, city=req.city, kind=f"housing_fund_{req.action}",
                          effective_month=req.effective_month)

    @activity.defn(name=contract.ISSUE_CERTIFICATE.name)
    def issue_certificate(self, req: contract.Certificate) -> str:
        """The separation certificate (Implementing Regulation art. 24): term, end date, job, years."""
        number = f"SC-{req.workflow_id.removeprefix('offboarding-')}"
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, "certificate").first_time:
                return number
            employee = session.get(Employee, req.employee_id)
            assert employee is not None
            years = round((req.last_day - employee.hire_date).days / 365.25, 1)
            append_audit(session, SYSTEM, "offboarding.certificate_issued", workflow_id=req.workflow_id, at=req.at,
                         subject=req.employee_id,
                         after={"number": number, "contract_from": employee.hire_date, "end_date": req.last_day,
                                "position": employee.position, "years_of_service": str(years), "kind": req.kind})
        return number

    @activity.defn(name=contract.CLAIM_RECEIVABLES.name)
    def claim_receivables(self, req: contract.ClaimReceivables) -> contract.Claimed:
        """Final pay (or her repayment) takes what is open at this moment, never a figure from before:
        a payroll deduction during her notice period is not recovered a second time."""
        with db_step(self._sessions) as session:
            taken = ledger.claim(session, claimant=req.workflow_id, step=req.step, employee_id=req.employee_id,
                                 method=req.method, amount=req.cap, confirmed_by=req.actor.user,
                                 reference=req.reference[:100], at=req.at)
            audit_once(session, f"claimed-{req.step}", req.actor, f"receivable.{req.method}",
                       workflow_id=req.workflow_id, at=req.at, subject=req.employee_id,
                       after={"cap": req.cap, "taken": taken.amount, "by_case": taken.by_case,
                              "still_open": taken.open_after, "reference": req.reference})
            return contract.Claimed(amount=taken.amount, by_case=taken.by_case, open_after=taken.open_after)

    @activity.defn(name=contract.VOID_CLAIM.name)
    def void_claim(self, req: contract.VoidClaim) -> contract.Claimed:
        """The resignation was withdrawn: final pay's claim is given back exactly."""
        with db_step(self._sessions) as session:
            undone = ledger.void(session, claimant=req.workflow_id, step=req.step, voided_step=req.voided_step,
                                 confirmed_by=req.actor.user, reference=req.reference[:100], at=req.at)
            if undone.by_case:  # recorded without the request id, as it always was
                audit_once(session, f"voided-{req.voided_step}", Actor(user=req.actor.user, role=req.actor.role),
                           "receivable.claim_voided", workflow_id=req.workflow_id, at=req.at, subject=req.employee_id,
                           after={"voided": req.voided_step, "given_back": undone.amount, "by_case": undone.by_case,
                                  "reference": req.reference})
            return contract.Claimed(amount=undone.amount, by_case=undone.by_case, open_after=undone.open_after)

    def all(self) -> list[Any]:
        return [self.assess_risk, self.open_items, self.sign_item, self.revoke_access, self.restore_access,
                self.housing_fund, self.issue_certificate, self.claim_receivables, self.void_claim]
