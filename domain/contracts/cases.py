"""What every process sends to record its case: the case row, stages, tasks, audit entries, dated
obligations for the reminder sweep, and statutory dates planned on the calendar.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.contracts import ActivityRef
from domain.policy.models import DeadlineRule


class OpenCase(BaseModel):
    workflow_id: str
    kind: str
    employee_id: str | None = Field(description="None: a case of many employees (a batch)")
    stage: str
    summary: str | None = None
    policy_version: str | None = None
    opened_at: dt.datetime
    actor: Actor = Field(default_factory=Actor)
    details: dict[str, Any] = Field(default_factory=dict)


class CloseTask(BaseModel):
    workflow_id: str
    task_key: str
    decision: str  # approved, rejected, done, cancelled, ...
    reason: str | None = None
    at: dt.datetime
    actor: Actor = Field(default_factory=Actor)


class ChangeStage(BaseModel):
    workflow_id: str
    step: str = Field(description="idempotency key within the case, e.g. 'stage-3'")
    stage: str
    status: str | None = None  # set when the case ends: completed, withdrawn, ...
    at: dt.datetime
    next_due_at: dt.datetime | None = None
    actor: Actor = Field(default_factory=Actor)
    details: dict[str, Any] = Field(default_factory=dict)
    before: dict[str, Any] = Field(default_factory=dict, description="what ``details`` replaced, for the audit")
    summary: str | None = None  # the case's summary anew, when what it says has changed
    closes: list[CloseTask] = Field(default_factory=list, description="the tasks the decision closes, in this step")


class OpenTask(BaseModel):
    workflow_id: str
    task_key: str
    title: str
    role: str
    assignee: str | None = None
    due_at: dt.datetime | None = None
    at: dt.datetime
    by_hand: bool = False  # work outside the process: it stays open after the case ends


class RecordAudit(BaseModel):
    workflow_id: str
    step: str
    action: str
    at: dt.datetime
    subject: str | None = None
    before: Any = None
    after: Any = None
    actor: Actor = Field(default_factory=Actor)


class TrackDeadline(BaseModel):
    """Set (or move, or close) a dated obligation of the case that the reminder sweep follows."""

    workflow_id: str
    kind: str  # maternity_return, departure_filing, non_compete_proof
    ref: str = "main"
    employee_id: str
    due_at: dt.datetime
    status: str = "open"  # open, met, cancelled
    details: dict[str, Any] = Field(default_factory=dict)
    at: dt.datetime


class PlanDeadline(BaseModel):
    rule: DeadlineRule  # as pinned in the case
    from_date: dt.date  # the trigger
    arrangement_year: int | None = None  # re-planning after this year's arrangement was approved
    arrangement_notice: int | None = None  # ... by this notice


class PlannedDeadline(BaseModel):
    due: dt.date
    provisional: bool  # rests on a year whose holiday arrangement is not known


# The activities, by the names recorded in every history.
OPEN_CASE: ActivityRef[OpenCase, None] = ActivityRef("case.open", bookkeeping=True)
CHANGE_STAGE: ActivityRef[ChangeStage, None] = ActivityRef("case.change_stage", bookkeeping=True)
OPEN_TASK: ActivityRef[OpenTask, None] = ActivityRef("case.open_task", bookkeeping=True)
CLOSE_TASK: ActivityRef[CloseTask, None] = ActivityRef("case.close_task", bookkeeping=True)
RECORD_AUDIT: ActivityRef[RecordAudit, None] = ActivityRef("case.audit", bookkeeping=True)
TRACK_DEADLINE: ActivityRef[TrackDeadline, None] = ActivityRef("case.track_deadline", bookkeeping=True)
PLAN_DEADLINE: ActivityRef[PlanDeadline, PlannedDeadline] = ActivityRef("case.plan_deadline", PlannedDeadline, bookkeeping=True)
