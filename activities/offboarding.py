"""Activities of an offboarding case: the risk assessment, clearance items and their sign-offs,
access revocation and restoration, the housing-fund stop, the separation certificate.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cases import Actor
from activities.unit import db_step
from db import audit, ledger
from db.models import AuditEvent, Case, ClearanceItem, Employee, EmployeeRecord, SiEnrollment
from db.steps import claim_step, record_result
from integrations.si_agency import AgencyRejected, AgencySubmission, SocialInsuranceAgency

COMPLIANCE_KINDS = ("dispute", "complaint", "violation")
FINANCE_KINDS = ("loan", "advance")
IT_KINDS = ("asset", "access")


class RiskItem(BaseModel):
    record_id: int | None
    kind: str
    title: str
    amount: Decimal | None = None


class RiskReport(BaseModel):
    employee_id: str
    position: str
    hire_date: dt.date
    compliance: list[RiskItem]
    finance: list[RiskItem]
    it: list[RiskItem]
    receivables_outstanding: Decimal
    receivable_months: list[str]
    receivable_cases: dict[str, Decimal] = Field(default_factory=dict)  # owning case -> still owed
    non_compete: RiskItem | None
    running_cases: list[str]
    active_enrollment_city: str | None
    contribution_base: Decimal
    summary: str
    needs_compliance_review: bool


class Assess(BaseModel):
    workflow_id: str
    employee_id: str
    at: dt.datetime


class Item(BaseModel):
    gate: str
    item_key: str
    title: str
    owner_role: str
    owner_user: str | None = None
    due_at: dt.datetime | None = None


class OpenItems(BaseModel):
    workflow_id: str
    items: list[Item]


class SignItem(BaseModel):
    workflow_id: str
    employee_id: str
    gate: str
    item_key: str
    outcome: str
    note: str | None = None
    record_id: int | None = None
    at: dt.datetime
    actor: Actor


class Signed(BaseModel):
    evidence_events: list[int] = Field(default_factory=list)


class AccessChange(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    record_ids: list[int] = Field(default_factory=list)  # for a restore: exactly these
    at: dt.datetime


class HousingFund(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    city: str
    action: str  # stop, restart
    effective_month: str


class Certificate(BaseModel):
    workflow_id: str
    employee_id: str
    kind: str
    last_day: dt.date
    at: dt.datetime


class ClaimReceivables(BaseModel):
    """Recover from her open receivables, at most ``cap`` (everything open when None)."""

    workflow_id: str
    employee_id: str
    step: str
    method: str = Field(pattern=r"^(final_pay|repayment)$")
    cap: Decimal | None = None
    reference: str
    actor: Actor
    at: dt.datetime


class VoidClaim(BaseModel):
    workflow_id: str
    employee_id: str
    step: str
    voided_step: str
    reference: str
    actor: Actor
    at: dt.datetime


class Claimed(BaseModel):
    amount: Decimal
    by_case: dict[str, Decimal]  # owning case -> taken from (or, voided, given back to) it
    open_after: Decimal


class OffboardingActivities:
    def __init__(self, session_factory: sessionmaker[Session], agency: SocialInsuranceAgency) -> None:
        self._sessions = session_factory
        self._agency = agency

    @activity.defn(name="offboarding.assess_risk")
    def assess_risk(self, req: Assess) -> RiskReport:
        """Everything open on the employee, with a one-line verdict every approver sees."""
        with db_step(self._sessions) as session:
            employee = session.get(Employee, req.employee_id)
            if employee is None:
                raise ApplicationError(f"no employee {req.employee_id}", type="EmployeeMissing", non_retryable=True)
            records = list(session.scalars(select(EmployeeRecord).where(
                EmployeeRecord.employee_id == req.employee_id, EmployeeRecord.status == "open")
                .order_by(EmployeeRecord.id)))

            def items(kinds: tuple[str, ...]) -> list[RiskItem]:
                return [RiskItem(record_id=r.id, kind=r.kind, title=r.title, amount=r.amount)
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
            non_compete = next((RiskItem(record_id=r.id, kind=r.kind, title=r.title, amount=r.amount)
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
            report = RiskReport(
                employee_id=employee.employee_id, position=employee.position, hire_date=employee.hire_date,
                compliance=compliance, finance=finance, it=it, receivables_outstanding=owed,
                receivable_months=[r.month for r in open_receivables], receivable_cases=by_case,
                non_compete=non_compete,
                running_cases=running, active_enrollment_city=enrollment,
                contribution_base=employee.contribution_base,
                summary="; ".join(parts) or "nothing open on record", needs_compliance_review=bool(compliance))
            if claim_step(session, req.workflow_id, "risk-assessed").first_time:
                audit.append(session, audit.AuditEntry(
                    actor="system", actor_role="system", action="offboarding.risk_assessed",
                    workflow_id=req.workflow_id, subject=req.employee_id,
                    after={"summary": report.summary, "compliance": len(compliance), "receivables": owed}), at=req.at)
            return report

    @activity.defn(name="offboarding.open_items")
    def open_items(self, req: OpenItems) -> None:
        with db_step(self._sessions) as session:
            for item in req.items:
                session.execute(insert(ClearanceItem).values(workflow_id=req.workflow_id, **item.model_dump())
                                .on_conflict_do_nothing(index_elements=[ClearanceItem.workflow_id, ClearanceItem.gate,
                                                                        ClearanceItem.item_key]))

    @activity.defn(name="offboarding.sign_item")
    def sign_item(self, req: SignItem) -> Signed:
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
                return Signed(evidence_events=evidence)  # a retry after the first attempt committed
            if req.record_id is not None and req.outcome not in ("escalated_to_legal", "to_recovery"):
                session.execute(update(EmployeeRecord).where(EmployeeRecord.id == req.record_id)
                                .values(status="closed"))
            audit.append(session, audit.AuditEntry(
                actor=req.actor.user, actor_role=req.actor.role, action=f"clearance.{req.gate}.signed",
                workflow_id=req.workflow_id, subject=req.employee_id, request_id=req.actor.request_id,
                after={"item": req.item_key, "outcome": req.outcome, "note": req.note,
                       "evidence_events": len(evidence) or None}), at=req.at)
            return Signed(evidence_events=evidence)

    @activity.defn(name="offboarding.revoke_access")
    def revoke_access(self, req: AccessChange) -> list[int]:
        """Revoke what access remains; returns the records revoked (what a withdrawal restores)."""
        with db_step(self._sessions) as session:
            claim = claim_step(session, req.workflow_id, req.step)
            if not claim.first_time:
                return list(claim.result or [])
            ids = list(session.scalars(update(EmployeeRecord).where(
                EmployeeRecord.employee_id == req.employee_id, EmployeeRecord.kind == "access",
                EmployeeRecord.status == "open").values(status="revoked").returning(EmployeeRecord.id)))
            record_result(session, req.workflow_id, req.step, ids)
            audit.append(session, audit.AuditEntry(
                actor="system", actor_role="system", action="offboarding.access_revoked",
                workflow_id=req.workflow_id, subject=req.employee_id, after={"records": ids}), at=req.at)
            return ids

    @activity.defn(name="offboarding.restore_access")
    def restore_access(self, req: AccessChange) -> None:
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, req.step).first_time:
                return
            session.execute(update(EmployeeRecord).where(EmployeeRecord.id.in_(req.record_ids))
                            .values(status="open"))
            audit.append(session, audit.AuditEntry(
                actor="system", actor_role="system", action="offboarding.access_restored",
                workflow_id=req.workflow_id, subject=req.employee_id, after={"records": req.record_ids}), at=req.at)

    @activity.defn(name="offboarding.housing_fund")
    def housing_fund(self, req: HousingFund) -> str:
        """Stop (or, compensating, restart) the housing-fund contribution through the agency."""
        with self._sessions() as session:
            id_number = session.scalar(select(Employee.resident_id_number).where(Employee.employee_id == req.employee_id))
        try:
            receipt = self._agency.submit(AgencySubmission(
                reference=f"{req.workflow_id}:{req.step}", employee_id=req.employee_id,
                resident_id_number=id_number or "", city=req.city, kind=f"housing_fund_{req.action}", base=None,
                months=[], effective_month=req.effective_month))
        except AgencyRejected as exc:
            raise ApplicationError(f"the housing-fund centre refused: {exc.reason}", type="AgencyRejected",
                                   non_retryable=True) from None
        return receipt.number

    @activity.defn(name="offboarding.issue_certificate")
    def issue_certificate(self, req: Certificate) -> str:
        """The separation certificate (Implementing Regulation art. 24): term, end date, job, years."""
        number = f"SC-{req.workflow_id.removeprefix('offboarding-')}"
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, "certificate").first_time:
                return number
            employee = session.get(Employee, req.employee_id)
            assert employee is not None
            years = round((req.last_day - employee.hire_date).days / 365.25, 1)
            audit.append(session, audit.AuditEntry(
                actor="system", actor_role="system", action="offboarding.certificate_issued",
                workflow_id=req.workflow_id, subject=req.employee_id,
                after={"number": number, "contract_from": employee.hire_date, "end_date": req.last_day,
                       "position": employee.position, "years_of_service": str(years), "kind": req.kind}), at=req.at)
        return number

    @activity.defn(name="offboarding.claim_receivables")
    def claim_receivables(self, req: ClaimReceivables) -> Claimed:
        """Final pay (or her repayment) takes what is open at this moment, never a figure from before:
        a payroll deduction during her notice period is not recovered a second time."""
        with db_step(self._sessions) as session:
            taken = ledger.claim(session, claimant=req.workflow_id, step=req.step, employee_id=req.employee_id,
                                 method=req.method, amount=req.cap, confirmed_by=req.actor.user,
                                 reference=req.reference[:100], at=req.at)
            if claim_step(session, req.workflow_id, f"claimed-{req.step}").first_time:
                audit.append(session, audit.AuditEntry(
                    actor=req.actor.user, actor_role=req.actor.role, action=f"receivable.{req.method}",
                    workflow_id=req.workflow_id, subject=req.employee_id, request_id=req.actor.request_id,
                    after={"cap": req.cap, "taken": taken.amount, "by_case": taken.by_case,
                           "still_open": taken.open_after, "reference": req.reference}), at=req.at)
            return Claimed(amount=taken.amount, by_case=taken.by_case, open_after=taken.open_after)

    @activity.defn(name="offboarding.void_claim")
    def void_claim(self, req: VoidClaim) -> Claimed:
        """The resignation was withdrawn: final pay's claim is given back exactly."""
        with db_step(self._sessions) as session:
            undone = ledger.void(session, claimant=req.workflow_id, step=req.step, voided_step=req.voided_step,
                                 confirmed_by=req.actor.user, reference=req.reference[:100], at=req.at)
            if undone.by_case and claim_step(session, req.workflow_id, f"voided-{req.voided_step}").first_time:
                audit.append(session, audit.AuditEntry(
                    actor=req.actor.user, actor_role=req.actor.role, action="receivable.claim_voided",
                    workflow_id=req.workflow_id, subject=req.employee_id,
                    after={"voided": req.voided_step, "given_back": undone.amount, "by_case": undone.by_case,
                           "reference": req.reference}), at=req.at)
            return Claimed(amount=undone.amount, by_case=undone.by_case, open_after=undone.open_after)

    def all(self) -> list[Any]:
        return [self.assess_risk, self.open_items, self.sign_item, self.revoke_access, self.restore_access,
                self.housing_fund, self.issue_certificate, self.claim_receivables, self.void_claim]
