"""Activities of a cross-province transfer: record its state, check the uploaded materials, plan
statutory deadlines on the Chinese working-day calendar, file each branch with the agency, record
HR reviews, and notify the applicant and HR.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from temporalio import activity

from activities.cases import audit_move, claim_and_move, require_arrangement
from activities.unit import AgencyActivities, append_audit, db_step
from db.base import upsert
from db.models import Transfer, TransferBranch, TransferMaterial, TransferReview
from db.steps import claim_step
from domain import workdays
from domain.contracts import transfer as contract
from domain.contracts.cases import ChangeStage

# Built once (every step of every transfer records them): their values are the parameters.
_UPSERT_TRANSFER = upsert(Transfer, ["workflow_id"], [
    "employee_id", "department", "origin_province", "origin_city", "destination_province", "destination_city",
    "types", "reason", "applicant", "stage", "updated_at", "completed_at"])
_UPSERT_BRANCH = upsert(TransferBranch, ["workflow_id", "kind"], contract.BranchRow.model_fields)


class TransferActivities(AgencyActivities):
    @activity.defn(name=contract.RECORD.name)
    def record(self, req: contract.RecordTransfer) -> None:
        """The transfer row, its branches, the case stage and the audit entry, in one transaction."""
        stage = ChangeStage(workflow_id=req.workflow_id, step=req.step, stage=req.stage, status=req.status, at=req.at,
                            actor=req.actor,
                            details={"branches": {b.kind: b.status for b in req.branches}, **req.details})
        with db_step(self._sessions) as session:
            case = claim_and_move(session, stage)
            if case is None:
                return  # done before
            session.execute(_UPSERT_TRANSFER, {
                "workflow_id": req.workflow_id, "created_at": req.at, "employee_id": req.employee_id,
                "department": req.department, "origin_province": req.origin_province, "origin_city": req.origin_city,
                "destination_province": req.destination_province, "destination_city": req.destination_city,
                "types": req.types, "reason": req.reason, "applicant": req.applicant, "stage": req.stage,
                "updated_at": req.at,
                "completed_at": req.at if req.status in ("completed", "abandoned", "withdrawn") else None})
            if req.branches:  # one statement for all of them
                session.execute(_UPSERT_BRANCH, [{"workflow_id": req.workflow_id, **b.model_dump()}
                                                 for b in req.branches])
            audit_move(session, stage, case)

    @activity.defn(name=contract.MISSING_MATERIALS.name)
    def missing_materials(self, req: contract.CheckMaterials) -> list[str]:
        """Required material codes with no current upload yet."""
        with self._sessions() as session:
            have = set(session.scalars(select(TransferMaterial.code).where(
                TransferMaterial.workflow_id == req.workflow_id, TransferMaterial.current.is_(True))))
        return [code for code in req.required if code not in have]

    @activity.defn(name=contract.PLAN_STEP.name)
    def plan_step(self, req: contract.PlanStep) -> contract.Planned:
        """A statutory limit in working days, on the Chinese calendar with adjusted workdays."""
        require_arrangement(req.arrangement_year, req.arrangement_notice)
        found = workdays.add_working_days(req.start, req.working_days)
        return contract.Planned(due=found.date, provisional=found.provisional)

    @activity.defn(name=contract.FILE_BRANCH.name)
    def file_branch(self, req: contract.FileBranch) -> str:
        """Apply to the destination office for one insurance type; returns the agency's reference."""
        return self._file("the destination office refused", reference=f"{req.workflow_id}:file-{req.kind}",
                          employee_id=req.employee_id, city=req.destination_city, kind=f"transfer_{req.kind}",
                          effective_month=req.effective_month)

    @activity.defn(name=contract.RECORD_REVIEW.name)
    def record_review(self, req: contract.Review) -> None:
        with db_step(self._sessions) as session:
            if not claim_step(session, req.workflow_id, req.step).first_time:
                return
            session.add(TransferReview(workflow_id=req.workflow_id, decision=req.decision,
                                       reason_code=req.reason_code, note=req.note, actor=req.actor.user, at=req.at))
            append_audit(session, req.actor, f"transfer.{req.decision}", workflow_id=req.workflow_id, at=req.at,
                         after={"reason_code": req.reason_code, "note": req.note})

    def all(self) -> list[Any]:
        return [self.record, self.missing_materials, self.plan_step, self.file_branch, self.record_review]
