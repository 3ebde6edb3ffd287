"""Activities of a cross-province transfer: record its state, check the uploaded materials, plan
statutory deadlines on the Chinese working-day calendar, file each branch with the agency, record
HR reviews, and notify the applicant and HR.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import outbox
from activities.cases import Actor, ChangeStage, apply_stage_change, require_arrangement
from activities.outbox import Notify
from activities.unit import db_step
from db import audit
from db.models import Employee, Transfer, TransferBranch, TransferMaterial, TransferReview
from db.steps import claim_step
from domain import workdays
from integrations.si_agency import AgencyRejected, AgencySubmission, SocialInsuranceAgency


class BranchRow(BaseModel):
    kind: str
    status: str
    current_step: str | None = None
    step_due: dt.date | None = None
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    rejection_reason: str | None = None


class RecordTransfer(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    department: str
    origin_province: str
    origin_city: str
    destination_province: str
    destination_city: str
    types: list[str]
    reason: str
    applicant: str
    stage: str
    status: str | None = None
    branches: list[BranchRow]
    at: dt.datetime
    actor: Actor = Field(default_factory=Actor)
    details: dict[str, Any] = Field(default_factory=dict)


class CheckMaterials(BaseModel):
    workflow_id: str
    required: list[str]


class PlanStep(BaseModel):
    start: dt.date
    working_days: int
    arrangement_year: int | None = None  # re-planning after this year's arrangement was approved
    arrangement_notice: int | None = None  # ... by this notice


class Planned(BaseModel):
    due: dt.date
    provisional: bool


class FileBranch(BaseModel):
    workflow_id: str
    employee_id: str
    kind: str
    origin_city: str
    destination_city: str
    effective_month: str


class Review(BaseModel):
    workflow_id: str
    step: str
    decision: str
    reason_code: str | None
    note: str | None
    at: dt.datetime
    actor: Actor


class TransferActivities:
    def __init__(self, session_factory: sessionmaker[Session], agency: SocialInsuranceAgency) -> None:
        self._sessions = session_factory
        self._agency = agency

    @activity.defn(name="transfer.record")
    def record(self, req: RecordTransfer) -> None:
        """The transfer row, its branches, the case stage and the audit entry, in one transaction."""
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, req.step).first_time:
                return
            values = dict(employee_id=req.employee_id, department=req.department,
                          origin_province=req.origin_province, origin_city=req.origin_city,
                          destination_province=req.destination_province, destination_city=req.destination_city,
                          types=req.types, reason=req.reason, applicant=req.applicant, stage=req.stage,
                          updated_at=req.at,
                          completed_at=req.at if req.status in ("completed", "abandoned", "withdrawn") else None)
            session.execute(insert(Transfer).values(workflow_id=req.workflow_id, created_at=req.at, **values)
                            .on_conflict_do_update(index_elements=[Transfer.workflow_id], set_=values))
            for branch in req.branches:
                row = branch.model_dump()
                session.execute(insert(TransferBranch).values(workflow_id=req.workflow_id, **row)
                                .on_conflict_do_update(index_elements=[TransferBranch.workflow_id,
                                                                       TransferBranch.kind], set_=row))
            apply_stage_change(session, ChangeStage(
                workflow_id=req.workflow_id, step=req.step, stage=req.stage, status=req.status, at=req.at,
                actor=req.actor, details={"branches": {b.kind: b.status for b in req.branches}, **req.details}))

    @activity.defn(name="transfer.missing_materials")
    def missing_materials(self, req: CheckMaterials) -> list[str]:
        """Required material codes with no current upload yet."""
        with self._sessions() as session:
            have = set(session.scalars(select(TransferMaterial.code).where(
                TransferMaterial.workflow_id == req.workflow_id, TransferMaterial.current.is_(True))))
        return [code for code in req.required if code not in have]

    @activity.defn(name="transfer.plan_step")
    def plan_step(self, req: PlanStep) -> Planned:
        """A statutory limit in working days, on the Chinese calendar with adjusted workdays."""
        require_arrangement(req.arrangement_year, req.arrangement_notice)
        found = workdays.add_working_days(req.start, req.working_days)
        return Planned(due=found.date, provisional=found.provisional)

    @activity.defn(name="transfer.file_branch")
    def file_branch(self, req: FileBranch) -> str:
        """Apply to the destination office for one insurance type; returns the agency's reference."""
        with self._sessions() as session:
            id_number = session.scalar(select(Employee.resident_id_number)
                                       .where(Employee.employee_id == req.employee_id))
        try:
            receipt = self._agency.submit(AgencySubmission(
                reference=f"{req.workflow_id}:file-{req.kind}", employee_id=req.employee_id,
                resident_id_number=id_number or "", city=req.destination_city, kind=f"transfer_{req.kind}",
                base=None, months=[], effective_month=req.effective_month))
        except AgencyRejected as exc:
            raise ApplicationError(f"the destination office refused: {exc.reason}", type="AgencyRejected",
                                   non_retryable=True) from None
        return receipt.number

    @activity.defn(name="transfer.record_review")
    def record_review(self, req: Review) -> None:
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, req.step).first_time:
                return
            session.add(TransferReview(workflow_id=req.workflow_id, decision=req.decision,
                                       reason_code=req.reason_code, note=req.note, actor=req.actor.user, at=req.at))
            audit.append(session, audit.AuditEntry(
                actor=req.actor.user, actor_role=req.actor.role, action=f"transfer.{req.decision}",
                workflow_id=req.workflow_id, request_id=req.actor.request_id,
                after={"reason_code": req.reason_code, "note": req.note}), at=req.at)

    @activity.defn(name="transfer.notify")
    def notify(self, req: Notify) -> None:
        outbox.write(self._sessions, req)

    def all(self) -> list[Any]:
        return [self.record, self.missing_materials, self.plan_step, self.file_branch, self.record_review,
                self.notify]
