"""Cross-province transfer of social insurance and housing fund: the case and its branches, the
materials check, each agency step planned in working days, filings and the HR review in batches.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.contracts import ActivityRef


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


# The activities, by the names recorded in every history.
RECORD: ActivityRef[RecordTransfer, None] = ActivityRef("transfer.record", bookkeeping=True)
MISSING_MATERIALS: ActivityRef[CheckMaterials, list[str]] = ActivityRef("transfer.missing_materials", list[str], bookkeeping=True)
PLAN_STEP: ActivityRef[PlanStep, Planned] = ActivityRef("transfer.plan_step", Planned, bookkeeping=True)
FILE_BRANCH: ActivityRef[FileBranch, str] = ActivityRef("transfer.file_branch", str)
RECORD_REVIEW: ActivityRef[Review, None] = ActivityRef("transfer.record_review", bookkeeping=True)
