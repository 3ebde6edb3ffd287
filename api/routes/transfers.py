"""Cross-province transfers: apply (the employee or HR), read progress, HR review one by one or in
a batch, cancel, and the agency's progress callback. Materials and statistics have their own
routers (transfer_materials, transfer_stats).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api import workflow_calls
from api.auth import Anyone, Hr, HrOrSelf, Principal, require
from api.bodies import Body, OptionalReason, Reason, ReasonIn
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.plausibility import refuse
from api.routes import resource_router
from api.transactions import transact
from api.workflow_calls import CaseWorkflow
from db import case_ids
from db.models import Employee
from domain import workdays
from domain.policy import PolicyError, pin_si_change, pin_transfer
from domain.policy.transfers import transfer_kind
from domain.roles import Role
from workflows import transfer

W = transfer.CrossProvinceTransferWorkflow
router = resource_router(tags=["cross-province transfers"])
PREFIX = "/transfers"
CASES = CaseRoutes(router, PREFIX, ids="transfer-", what="transfer", kind="transfer", model=transfer.TransferView,
                   workflow=CaseWorkflow(W.run, W.opened, W.view))


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    origin_city: Annotated[str, Field(min_length=1, max_length=32)]
    destination_city: Annotated[str, Field(min_length=1, max_length=32)]
    types: list[str] = Field(min_length=1, max_length=4, examples=[["pension", "medical", "housing_fund"]])
    reason: Reason


class ReviewIn(Body):
    approve: bool
    reason_code: str | None = Field(default=None, description=f"for a rejection: one of {list(transfer.REJECTION_REASONS)}")
    note: OptionalReason = None


class BatchItem(ReviewIn):
    workflow_id: str


class BatchIn(Body):
    items: list[BatchItem] = Field(min_length=1, max_length=200)


class BatchLine(BaseModel):
    workflow_id: str
    applied: bool
    error: str | None = None
    detail: Any = None


class ProgressIn(Body):
    kind: str
    step: str
    status: str = Field(pattern=r"^(done|rejected)$")
    reference: Annotated[str, Field(max_length=100)] | None = None
    reason: OptionalReason = None



@router.post(PREFIX, status_code=201, response_model=transfer.TransferView, responses=responses(400, 401, 403, 422, 503))
async def apply(body: ApplyIn, request: Request, temporal: TemporalDep, request_id: RequestId,
                principal: HrOrSelf) -> transfer.TransferView:
    """Open a transfer; the answer lists the required materials per insurance type."""
    settings = request.app.state.settings
    if principal.role is Role.EMPLOYEE and not principal.is_self(body.employee_id):
        raise ApiError(403, "forbidden", "an employee applies only for herself")
    employee = await transact(request, lambda s: s.get(Employee, body.employee_id))
    if employee is None:
        raise refuse({"field": "employee_id", "rule": "employee_exists", "message": f"no employee {body.employee_id}"})
    today = dt.date.today()
    try:
        kinds = sorted({transfer_kind(k) for k in body.types})
        policy = pin_transfer(body.origin_city, body.destination_city, kinds, today)
    except PolicyError as exc:
        raise refuse(exc.detail()) from None
    origin = next(iter(policy.requirements.values()))

    def pinned_si(city: str) -> Any:
        try:
            return pin_si_change(city, today)
        except PolicyError:
            return None  # no base in the catalogue: the enrollment move becomes a manual task

    workflow_id = await transact(request, lambda s: case_ids.allocate(s, f"transfer-{employee.employee_id}", request_id))
    req = transfer.TransferRequest(
        employee_id=employee.employee_id, department=employee.department, origin_province=origin.origin,
        origin_city=body.origin_city, destination_province=origin.destination, destination_city=body.destination_city,
        types=kinds, reason=body.reason, applicant=workflow_calls.actor(principal, request_id), policy=policy,
        origin_si=pinned_si(body.origin_city), destination_si=pinned_si(body.destination_city),
        contribution_base=employee.contribution_base)
    return await CASES.start(
        temporal, req, id=workflow_id, task_queue=settings.temporal_task_queue,
        request_id=request_id, closed="answer",
        employee_id=employee.employee_id, stage="collecting_materials",
        province=origin.destination, department=employee.department,
        summary=f"Transfer of {employee.employee_id}: {body.origin_city} -> {body.destination_city}",
        details=f"{', '.join(kinds)}; policy {policy.version[:12]}")


@router.get(PREFIX + "/{workflow_id}", response_model=transfer.TransferView, responses=responses(401, 404))
async def read(workflow_id: str, request: Request, temporal: TemporalDep, principal: Anyone) -> transfer.TransferView:
    """Progress per type, with the expected completion date of every step: a started step's own
    statutory due date, later ones projected at their full working-day limits after it."""
    return project_expected_dates(await CASES.read(request, temporal, principal, workflow_id))


def project_expected_dates(view: transfer.TransferView) -> transfer.TransferView:
    for branch in view.branches:
        previous: dt.date | None = None
        for step in branch.steps:
            if step.done:
                previous = None
                continue
            if step.due is not None:
                step.expected = previous = step.due
            elif previous is not None and step.limit_working_days is not None:
                step.expected = previous = workdays.add_working_days(previous, step.limit_working_days).date
    return view


CASES.message("/review", W.review, Hr, carrying(transfer.ReviewDecision), ReviewIn)


@router.post(PREFIX + "/review-batch", response_model=list[BatchLine], responses=responses(400, 401, 403, 422))
async def review_batch(body: BatchIn, temporal: TemporalDep, request_id: RequestId, principal: Hr) -> list[BatchLine]:
    """Each case decided on its own: one line per case saying applied, or refused and why."""
    lines = []
    for item in body.items:
        if not item.workflow_id.startswith("transfer-"):
            lines.append(BatchLine(workflow_id=item.workflow_id, applied=False, error="not_found"))
            continue
        decision = transfer.ReviewDecision(actor=workflow_calls.actor(principal, f"{request_id}:{item.workflow_id}"),
                                  **item.model_dump(exclude={"workflow_id"}))
        try:
            await workflow_calls.update(temporal.get_workflow_handle(item.workflow_id),
                                        transfer.CrossProvinceTransferWorkflow.review, decision)
            lines.append(BatchLine(workflow_id=item.workflow_id, applied=True))
        except ApiError as err:
            lines.append(BatchLine(workflow_id=item.workflow_id, applied=False, error=err.error, detail=err.detail))
    return lines


CASES.message("/cancel", W.cancel, HrOrSelf, carrying(transfer.Cancel), ReasonIn)


@router.post(PREFIX + "/{workflow_id}/agency-progress", response_model=transfer.TransferView, responses=CASES.errors)
async def agency_progress(workflow_id: str, body: ProgressIn, temporal: TemporalDep, request_id: RequestId,
                          principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> transfer.TransferView:
    """The agency integration's callback (an operator's token): idempotent per step."""
    if not workflow_id.startswith("transfer-"):
        raise ApiError(404, "not_found", f"no transfer {workflow_id}")
    return await workflow_calls.update(temporal.get_workflow_handle(workflow_id), W.agency_progress,
                                       transfer.Progress(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))
