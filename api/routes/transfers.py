"""Cross-province transfers: apply (the employee or HR), read progress, HR review one by one or in
a batch, cancel, and the agency's progress callback. Materials and statistics have their own
routers (transfer_materials, transfer_stats).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api import scope, workflow_calls
from api.auth import Anyone, Hr, HrOrSelf, Principal, require
from api.bodies import Body, OptionalReason, Reason, ReasonIn
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.plausibility import refuse
from api.routes import resource_router
from api.routes.cases import guard_case
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
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"employee_id": "E1001", "origin_city": "贵阳", "destination_city": "哈尔滨",
         "types": ["pension", "medical", "housing_fund"], "reason": "随配偶调往哈尔滨工作"},
    ]})
    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    origin_city: Annotated[str, Field(min_length=1, max_length=32)]
    destination_city: Annotated[str, Field(min_length=1, max_length=32)]
    types: list[str] = Field(min_length=1, max_length=4, examples=[["pension", "medical", "housing_fund"]])
    reason: Reason


class ReviewIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"approve": False, "reason_code": "illegible_document", "note": "身份证复印件看不清，请重新上传"},
    ]})

    approve: bool
    reason_code: str | None = Field(default=None, description=f"for a rejection: one of {list(transfer.REJECTION_REASONS)}")
    note: OptionalReason = None


class BatchItem(ReviewIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{"workflow_id": "transfer-E1001-1", "approve": True}]})

    workflow_id: str


class BatchIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [
        {"workflow_id": "transfer-E1001-1", "approve": True},
        {"workflow_id": "transfer-E2002-1", "approve": False, "reason_code": "missing_document",
         "note": "缺少原参保地的参保缴费凭证"},
    ]}]})

    items: list[BatchItem] = Field(min_length=1, max_length=200)


class BatchLine(BaseModel):
    workflow_id: str
    applied: bool
    error: str | None = None
    detail: Any = None


class ProgressIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "pension", "step": "destination_review", "status": "done", "reference": "HRB-2027-004512"},
    ]})

    kind: str
    step: str
    status: str = Field(pattern=r"^(done|rejected)$")
    reference: Annotated[str, Field(max_length=100)] | None = None
    reason: OptionalReason = None


@router.post(PREFIX, status_code=201, response_model=transfer.TransferView, responses=responses(400, 401, 403, 422, 503),
             summary="申请跨省转移 (Apply for a cross-province transfer)")
async def apply(body: ApplyIn, request: Request, temporal: TemporalDep, request_id: RequestId,
                principal: HrOrSelf) -> transfer.TransferView:
    """开启一次跨省转移（养老、医疗、失业保险或住房公积金），答复按险种列出所需材料；材料齐全后由人事审核，
    再逐步报送经办机构。员工为自己申请，或人事专员、人事经理代她申请（员工为别人申请答 403）。员工不存在、城市不认识、
    两地同省或某险种不可转移答 422。用同一 X-Request-ID 重发得到同一案件。

    Open a cross-province transfer (pension, medical, unemployment insurance or the housing fund);
    the answer lists the required materials per type. Once they are complete HR reviews it, and it
    goes to the agencies step by step. She applies for herself, or an HR specialist or manager for
    her (an employee applying for someone else is 403). No such employee, an unknown city, two places
    in one province, or a type that does not transfer is 422. Sent again with the same X-Request-ID
    it reaches the same case."""
    settings = request.app.state.settings
    if principal.role is Role.EMPLOYEE and not principal.is_self(body.employee_id):
        raise ApiError(403, "forbidden", "员工只能为自己申请 (an employee applies only for herself)")
    employee = await transact(request, lambda s: s.get(Employee, body.employee_id))
    if employee is None:
        raise refuse({"field": "employee_id", "rule": "employee_exists",
                      "message": f"没有员工 {body.employee_id} (no employee {body.employee_id})"})
    await scope.check_start(request, principal, employee.employee_id)
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
        summary=(f"社保公积金转移 {employee.employee_id}：{body.origin_city} → {body.destination_city}"
                 f" (Transfer of {employee.employee_id}: {body.origin_city} -> {body.destination_city})"),
        details=f"{', '.join(kinds)}; policy {policy.version[:12]}")


@router.get(PREFIX + "/{workflow_id}", response_model=transfer.TransferView, responses=responses(401, 404),
            summary="查看转移进度 (Read a transfer's progress)")
async def read(workflow_id: str, request: Request, temporal: TemporalDep, principal: Anyone) -> transfer.TransferView:
    """各险种的进度及每一步的预计完成日：已开始的一步按其法定期限，之后各步按其工作日时限依次推算。任何角色可调用；
    员工只能看自己的转移，别人的答 404。

    Progress per type, with the expected completion date of every step: a started step's own
    statutory due date, later ones projected at their full working-day limits after it. Any role; an
    employee sees only her own transfer, anyone else's is 404."""
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


@router.post(PREFIX + "/review-batch", response_model=list[BatchLine], responses=responses(400, 401, 403, 422),
             summary="批量审核转移 (Review transfers in a batch)")
async def review_batch(body: BatchIn, request: Request, temporal: TemporalDep, request_id: RequestId,
                       principal: Hr) -> list[BatchLine]:
    """一次审核至多 200 个转移，每个案件单独决定，互不影响：每个案件一行，说明已办理，或被拒及原因（错误代码和详情，
    与单个审核的答复相同）。人事专员和人事经理可调用；限于某组织单位的人员只能审核该单位员工的转移（其余各行答 not_found）。

    Up to 200 transfers reviewed at once, each case decided on its own: one line per case saying
    applied, or refused and why (the error code and detail a single review would answer). HR
    specialists and managers; one placed in a unit reviews its people's transfers only (any other
    line is not_found)."""
    lines = []
    for item in body.items:
        if not item.workflow_id.startswith("transfer-"):
            lines.append(BatchLine(workflow_id=item.workflow_id, applied=False, error="not_found"))
            continue
        decision = transfer.ReviewDecision(actor=workflow_calls.actor(principal, f"{request_id}:{item.workflow_id}"),
                                  **item.model_dump(exclude={"workflow_id"}))
        try:
            if scope.placed(principal):
                await guard_case(request, principal, item.workflow_id, prefix="transfer-", what="transfer")
            await workflow_calls.update(temporal.get_workflow_handle(item.workflow_id),
                                        transfer.CrossProvinceTransferWorkflow.review, decision)
            lines.append(BatchLine(workflow_id=item.workflow_id, applied=True))
        except ApiError as err:
            lines.append(BatchLine(workflow_id=item.workflow_id, applied=False, error=err.error, detail=err.detail))
    return lines


CASES.message("/cancel", W.cancel, HrOrSelf, carrying(transfer.Cancel), ReasonIn)


@router.post(PREFIX + "/{workflow_id}/agency-progress", response_model=transfer.TransferView, responses=CASES.errors,
             summary="经办机构进度回调 (Agency progress callback)")
async def agency_progress(workflow_id: str, body: ProgressIn, temporal: TemporalDep, request_id: RequestId,
                          principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> transfer.TransferView:
    """经办机构对接的回调（用运维的令牌）：某险种的某一步已办结（附受理号）或被拒（附原因）；同一步重复报告不重复处理。
    仅管理员可调用；该转移没有这一险种或步骤答 422，该险种尚未报送答 409。

    The agency integration's callback (an operator's token): one step of one type done (with its
    reference) or rejected (with the reason); the same report again changes nothing. Admins only; a
    type or step this transfer does not have is 422, a type not yet submitted 409."""
    if not workflow_id.startswith("transfer-"):
        raise ApiError(404, "not_found", f"没有转移案件 {workflow_id} (no transfer {workflow_id})")
    return await workflow_calls.update(temporal.get_workflow_handle(workflow_id), W.agency_progress,
                                       transfer.Progress(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))
