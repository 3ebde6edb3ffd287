"""Erasure of a person's personal data (PIPL art. 47): asked for by her, or by compliance in a
retention review; checked against the law's retention periods (pinned from the catalogue), decided
by a second compliance officer, held while the law still keeps her records (``workflows.erasure``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from api import workflow_calls
from api.auth import Principal, require
from api.bodies import Body, OptionalReason, OptionalReasonIn, Reason
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.plausibility import today
from api.routes import resource_router
from api.transactions import transact
from api.workflow_calls import CaseWorkflow
from db import case_ids
from db.models import Employee
from domain.erasure import retention_rules
from domain.roles import Role
from workflows import erasure

W = erasure.ErasureWorkflow
router = resource_router(tags=["erasures"])
PREFIX = "/erasures"
CASES = CaseRoutes(router, PREFIX, ids="erasure-", what="erasure request", kind="erasure",
                   model=erasure.ErasureView, workflow=CaseWorkflow(W.run, W.opened, W.view))
Requester = Annotated[Principal, Depends(require(Role.COMPLIANCE, Role.EMPLOYEE))]
Reader = Annotated[Principal, Depends(require(Role.COMPLIANCE, Role.ADMIN, Role.EMPLOYEE))]
Compliance = Annotated[Principal, Depends(require(Role.COMPLIANCE))]


class ErasureIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"employee_id": "E1001", "reason": "本人离职后书面申请删除个人信息"},
    ]})

    employee_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    reason: Reason
    on_her_request: bool = Field(default=False, description=(
        "compliance files her own written request (a leaver no longer signs in); otherwise a retention review"))


class DecisionIn(Body):
    approve: bool
    reason: OptionalReason = None


@router.post(PREFIX, status_code=201, response_model=erasure.ErasureView,
             responses=responses(400, 401, 403, 404, 409, 422, 503), summary="申请删除个人信息 (Ask to erase personal data)")
async def ask(body: ErasureIn, request: Request, temporal: TemporalDep, request_id: RequestId,
              principal: Requester) -> erasure.ErasureView:
    """申请删除一名员工的个人信息：员工本人只能为自己申请，合规可在保存期审查中为任何人申请，或代为登记本人的书面申请
    （on_her_request，离职员工已不能登录）。系统按当天的事实和法定保存期
    （如劳动合同法第五十条：解除或终止的劳动合同文本至少保存二年）检查：仍在职、仍有办理中的案件或未结清款项的答复“不予删除”
    并说明理由；保存期未满的，经批准后保存至期满自动删除；期满的，经另一位合规批准后立即删除。删除即销毁她的个人密钥：
    她所有案件的工作流载荷从此无法解密，姓名、身份证号、联系方式和上传的材料被覆盖，审计链不受影响。没有该员工答 404。

    Ask to erase an employee's personal data: an employee only for herself, compliance for anyone
    in a retention review, or to file her own written request (``on_her_request``: a leaver no
    longer signs in). The case checks the day's facts against the retention periods the law
    sets (Labour Contract Law art. 50: terminated contracts kept at least two years): still employed,
    a case still open or money still open is refused with the grounds; a running retention period
    holds the erasure until it ends (once approved); otherwise a second compliance officer approves
    and she is erased at once. Erasure destroys her own key: every workflow payload of her cases
    becomes undecryptable, her name, ID number, contact and uploaded documents are overwritten, the
    audit chain is untouched. An unknown employee is 404."""
    settings = request.app.state.settings
    on_her_request = principal.role == Role.EMPLOYEE or body.on_her_request
    if principal.role == Role.EMPLOYEE and not principal.is_self(body.employee_id):
        raise ApiError(403, "forbidden", "员工只能为自己申请删除个人信息 (an employee asks only for her own erasure)")

    def work(session: Session) -> tuple[str, str, str]:
        employee = session.get(Employee, body.employee_id)
        if employee is None:
            raise ApiError(404, "not_found", f"没有员工 {body.employee_id} (no employee {body.employee_id})")
        return employee.department, employee.si_province, case_ids.allocate(session, f"erasure-{body.employee_id}",
                                                                           request_id)

    department, province, workflow_id = await transact(request, work)
    req = erasure.ErasureRequest(
        employee_id=body.employee_id, reason=body.reason, on_her_request=on_her_request,
        requested_by=workflow_calls.actor(principal, request_id), retention=retention_rules(today()),
        key_cache_seconds=settings.person_key_cache_seconds, department=department, province=province)
    return await CASES.start(
        temporal, req, id=workflow_id, task_queue=settings.temporal_task_queue, request_id=request_id,
        closed="answer", employee_id=body.employee_id, stage=erasure.CHECKING, province=province,
        department=department,
        summary=f"删除个人信息 {body.employee_id} (Erasure of {body.employee_id}'s personal data)",
        details=f"Asked by {principal.user} ({principal.role.value})")


@router.get(PREFIX + "/{workflow_id}", response_model=erasure.ErasureView, responses=responses(401, 403, 404),
            summary="查看删除请求 (Read an erasure request)")
async def read(workflow_id: str, request: Request, temporal: TemporalDep, principal: Reader) -> erasure.ErasureView:
    """一份删除请求：法律检查的结论和理由、保存期、审批和删除的结果。员工只能看自己的。

    An erasure request: the legal check's verdict and grounds, the retention periods, the decision
    and what the erasure did. An employee sees only her own."""
    return await CASES.read(request, temporal, principal, workflow_id)


CASES.message("/decide", W.decide, Compliance,
              lambda actor, body: erasure.Decision(actor=actor, approve=body.approve, reason=body.reason), DecisionIn)
CASES.message("/withdraw", W.withdraw, Requester, carrying(erasure.Withdraw), OptionalReasonIn)
