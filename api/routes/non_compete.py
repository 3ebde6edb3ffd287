"""Non-compete follow-up: view, proofs of employment, violation, release and the release claim.

Offboarding starts a non-compete as its child; HR may also start one here for an agreement that
predates hrflow. The former employee sees her own, submits her proofs and claims the release
compensation; compliance or an hr_manager reports a violation; an hr_manager releases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Request
from pydantic import ConfigDict, Field

from api import scope, workflow_calls
from api.auth import Anyone, Hr, HrManager, HrOrSelf, Principal, require
from api.bodies import Body, OptionalReason
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.plausibility import PlausibleDate
from api.routes import resource_router
from api.transactions import transact
from api.workflow_calls import CaseWorkflow
from db.models import Employee
from domain.policy import PolicyError
from domain.policy.deadlines import non_compete_rule
from domain.roles import Role
from workflows import non_compete

W = non_compete.NonCompeteWorkflow
router = resource_router(tags=["non-compete"])
PREFIX = "/non-competes"
CASES = CaseRoutes(router, PREFIX, ids="non-compete-", what="non-compete", kind="non_compete", model=non_compete.NonCompeteView,
                   workflow=CaseWorkflow(W.run, W.opened, W.view))

Violation = Annotated[Principal, Depends(require(Role.COMPLIANCE, Role.HR_MANAGER))]
FormerEmployee = Annotated[Principal, Depends(require(Role.EMPLOYEE))]


class StartIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "employee_id": "E1001", "start": "2026-12-01", "months": 12, "monthly_compensation": "4500.00",
        "payday": 10, "months_already_paid": 0,
    }]})

    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    start: PlausibleDate = Field(description="the day after departure")
    months: int = Field(ge=1, description="at most the pinned rule's max_months (24)")
    monthly_compensation: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
    payday: int = Field(default=10, ge=1, le=28)
    months_already_paid: int = Field(default=0, ge=0, description="paid outside hrflow before today")


class ProofIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"employer": "上海某某物流有限公司", "reference": "社保缴费记录 310112202612", "month": "2026-12"},
    ]})

    employer: Annotated[str, Field(min_length=1, max_length=200)]
    reference: Annotated[str, Field(min_length=1, max_length=200)]
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")] | None = None


class ViolationIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"evidence": "2027-03 起在竞争对手处任职，见其领英主页截图及客户来函"},
    ]})

    evidence: Annotated[str, Field(min_length=1, max_length=4000)]


class ReleaseIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "该业务线已关停，不再需要竞业限制"}]})

    reason: OptionalReason = None


def _refuse(field: str, rule: str, message: str) -> ApiError:
    return ApiError(422, "validation_failed", [{"field": field, "rule": rule, "message": message}])


@router.post(PREFIX, status_code=201, response_model=non_compete.NonCompeteView, responses=responses(400, 401, 403, 422, 503),
             summary="开始跟进竞业限制 (Start following a non-compete)")
async def start(body: StartIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: Hr) -> non_compete.NonCompeteView:
    """为不经 hrflow 离职流程签订的竞业限制协议开始跟进：按月支付补偿、收取在职证明。
    离职流程里约定的竞业限制会自动开始，无需调用。仅人事专员和人事经理可调用；员工不存在、
    期限超过离职时适用规则的上限（24 个月，劳动合同法第二十四条）或已付月数多于期限，答 422；同一协议已办结答 409。

    Start following an agreement made outside an hrflow offboarding: monthly compensation paid,
    proofs of employment collected (one agreed in an offboarding starts by itself). HR specialists and
    managers only; no such employee, a term over the rule in force at departure (24 months, Labour
    Contract Law art. 24) or more months paid than the term has is 422; the same agreement already
    closed is 409."""
    settings = request.app.state.settings
    employee = await transact(request, lambda s: s.get(Employee, body.employee_id))
    if employee is None:
        raise _refuse("employee_id", "employee_exists", f"no employee {body.employee_id}")
    await scope.check_start(request, principal, employee.employee_id)
    try:
        rule = non_compete_rule(body.start - dt.timedelta(days=1))  # the rule in force at departure
    except PolicyError as exc:
        raise ApiError(422, "validation_failed", [exc.detail()]) from None
    if body.months > rule.max_months:
        raise _refuse("months", "non_compete_max_months",
                      f"a non-compete lasts at most {rule.max_months} months (LCL art. 24)")
    if body.months_already_paid > body.months:
        raise _refuse("months_already_paid", "within_term", "more months paid than the term has")
    workflow_id = f"non-compete-{employee.employee_id}-{body.start.isoformat()}"
    req = non_compete.NonCompeteRequest(
        employee_id=employee.employee_id, start=body.start, months=body.months,
        monthly_compensation=body.monthly_compensation, rule=rule, payday=body.payday,
        filed_by=workflow_calls.actor(principal, request_id), department=employee.department,
        months_paid=body.months_already_paid)
    # a closed agreement is never started again: its payments are on record under this id
    return await CASES.start(
        temporal, req, id=workflow_id, task_queue=settings.temporal_task_queue,
        request_id=request_id, closed="conflict",
        employee_id=employee.employee_id, stage="active",
        department=employee.department,
        summary=f"竞业限制 {employee.employee_id}，{body.start} 起 (Non-compete of {employee.employee_id} from {body.start})",
        details=f"{body.months} months; payday {body.payday}; rule {rule.id}")


@router.get(PREFIX + "/{workflow_id}", response_model=non_compete.NonCompeteView, responses=responses(401, 404),
            summary="查看竞业限制 (Read a non-compete)")
async def read(workflow_id: str, request: Request, temporal: TemporalDep, principal: Anyone) -> non_compete.NonCompeteView:
    """竞业限制的现状：阶段、已付月份和金额、下次付款日、已交和缺少的证明、解除和补偿申领。任何角色可调用；
    员工（含前员工）只能看自己的，别人的答 404。

    The non-compete as it stands: stage, months and amounts paid, next payday, proofs received and
    missing, a release and its claim. Any role; an employee (or former one) sees only her own,
    anyone else's is 404."""
    return await CASES.read(request, temporal, principal, workflow_id)


CASES.message("/proof", W.submit_proof, HrOrSelf, carrying(non_compete.SubmitProof), ProofIn)
CASES.message("/violation", W.report_violation, Violation, carrying(non_compete.ReportViolation), ViolationIn)
CASES.message("/release", W.release, HrManager, carrying(non_compete.Release), ReleaseIn)
CASES.message("/release-claim", W.claim_release_compensation, FormerEmployee, lambda actor, _: non_compete.ClaimRelease(actor=actor))
