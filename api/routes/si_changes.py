"""Social-insurance changes: submit (maker), approve / reject (checker), correct, revoke, withdraw.

Every request is checked here first, exactly as the workflow's activity checks it again: resident
ID, base within the city's limits, no second enrollment, back-payment months. A refused request
starts nothing and writes only the audit record of the attempt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import scope, workflow_calls
from api.auth import Hr, HrManager, Principal, require
from api.bodies import Body, Reason, ReasonIn
from api.case_routes import CaseRoutes, carrying, documented_body
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.pagination import keyset_page, where_given
from api.plausibility import PlausibleMonth
from api.plausibility import today as today_in_china
from api.routes import resource_router
from api.task_actions import add_task_actions, signatory
from api.transactions import transact
from api.workflow_calls import CaseWorkflow
from db import audit, case_ids
from db.models import Employee, SiChange
from db.si_records import validate_against_records
from domain.contracts.si_change import ChangeFacts
from domain.policy import PolicyError, SiChangeSnapshot, pin_si_change
from domain.roles import STAFF, Role
from domain.si_change import ChangeKind, ChangeRefused, CostEstimate, check_request, estimate, parse_month
from workflows import si_change

W = si_change.SocialInsuranceChangeWorkflow
router = resource_router(prefix="/si-changes", tags=["social-insurance changes"])

CASES = CaseRoutes(router, "", ids="si-change-", what="social-insurance change", kind="si_change", model=si_change.SiChangeView,
                   workflow=CaseWorkflow(W.run, W.opened, W.view),
                   errors=responses(400, 401, 403, 404, 409))

Maker = Annotated[Principal, Depends(require(Role.HR_SPECIALIST))]
Checker = HrManager
# Who signs is the case's approver route; the web app offers approve and reject to hr_managers.
Signatory = Annotated[Principal, Depends(signatory(Role.HR_MANAGER))]
HrStaff = Hr
Reader = Annotated[Principal, Depends(require(*STAFF, Role.EMPLOYEE))]

Month = PlausibleMonth


class SiChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"employee_id": "E1001", "kind": "base_adjustment", "base": "13500.00", "effective_month": "2027-01",
         "reason": "2027 年调薪后按新工资申报基数"},
        {"employee_id": "E1001", "kind": "back_payment", "base": "12000.00", "months": ["2026-09", "2026-10"],
         "effective_month": "2026-09", "reason": "入职时漏报，补缴两个月"},
    ]})
    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    kind: ChangeKind
    base: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None
    months: list[Month] = Field(default_factory=list, max_length=120)
    effective_month: Month
    reason: Reason


class Started(BaseModel):
    workflow_id: str
    stage: str
    estimate: CostEstimate


class ApproveIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"confirm_total": "6240.00"}]})

    confirm_total: Annotated[Decimal, Field(ge=0, decimal_places=2)] | None = Field(
        default=None, description="for a back-payment: the estimated total you are confirming")


class CorrectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"reason": "基数应按调薪后的工资申报", "base": "14000.00"},
    ]})
    reason: Reason
    kind: ChangeKind | None = None
    base: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None
    months: list[Month] | None = Field(default=None, max_length=120)
    effective_month: Month | None = None


class SiChangeRow(BaseModel):
    workflow_id: str
    employee_id: str
    city: str
    kind: str
    base: Decimal | None
    months: list[str]
    effective_month: str
    estimate_total: Decimal
    stage: str
    maker: str
    approver: str | None
    acceptance_no: str | None
    revocation_no: str | None
    updated_at: dt.datetime


class SiChangePage(BaseModel):
    items: list[SiChangeRow]
    next_cursor: str | None


def check_after_hire(employee: Employee, body: SiChangeIn) -> None:
    """Nothing is back-paid for months before she joined (seed 003: a back-payment for months
    before her hire). Months from this one on are refused by ``check_request`` (past months only)."""
    hired = employee.hire_date.replace(day=1)
    for month in body.months:
        if parse_month(month) < hired:
            raise ChangeRefused("months", "month_on_or_after_hire",
                                f"补缴月份不能早于入职日期 {employee.hire_date}：{month}"
                                f" (back-payment months must be on or after the hire date {employee.hire_date}: {month})")


@dataclass(frozen=True)
class _Prepared:
    """What ``submit`` read and wrote in its transaction: the case id and the facts to start it with."""

    workflow_id: str
    facts: ChangeFacts
    policy: SiChangeSnapshot
    department: str
    province: str


def _prepare(session: Session, body: SiChangeIn, principal: Principal, request_id: str,
          today: dt.date) -> _Prepared | dict[str, str]:
    """Check the request and allocate its case id; a refusal is audited instead and returned
    (committed with nothing else)."""
    try:
        employee = session.get(Employee, body.employee_id)
        if employee is None:
            raise ChangeRefused("employee_id", "employee_exists", f"no employee {body.employee_id}")
        scope.require_covered(session, principal, employee.employee_id)
        if employee.employment_status == "departed" and body.kind is not ChangeKind.STOP:
            raise ChangeRefused("employee_id", "employed", f"员工 {employee.employee_id} 已于 {employee.leaving_on}"
                                f" 离职，只能办理停保 ({employee.employee_id} left on {employee.leaving_on}: only a stop)")
        # A retried request (same X-Request-ID) reaches the case it opened: its own open case is not a clash.
        retried = case_ids.known(session, request_id)
        if retried is not None and not retried.startswith(f"si-change-{employee.employee_id}-"):
            raise ApiError(409, "request_id_reused", f"请求编号 X-Request-ID {request_id} 已用于发起 {retried} (X-Request-ID {request_id} already opened {retried})")
        policy = pin_si_change(employee.si_city, parse_month(body.effective_month, "effective_month"))
        facts = ChangeFacts(employee_id=employee.employee_id, city=policy.city, kind=body.kind,
                            base=body.base, months=body.months, effective_month=body.effective_month)
        check_request(kind=body.kind, base=body.base, months=body.months,
                      effective_month=body.effective_month, today=today, policy=policy)
        check_after_hire(employee, body)
        if retried is None:
            validate_against_records(session, "", facts)
    except (ChangeRefused, PolicyError) as exc:
        detail = exc.detail()
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="si_change.refused",
            subject=body.employee_id, request_id=request_id,
            after={"kind": body.kind.value, "base": body.base, "months": body.months,
                   "effective_month": body.effective_month, **detail}))
        return detail
    workflow_id = case_ids.allocate(session, f"si-change-{employee.employee_id}", request_id)
    return _Prepared(workflow_id=workflow_id, facts=facts, policy=policy, department=employee.department,
                   province=employee.si_province)


@router.post("", status_code=201, response_model=Started, responses=responses(400, 401, 403, 409, 422, 503),
             summary="提交社保变更 (Submit a social-insurance change)")
async def submit(body: SiChangeIn, request: Request, temporal: TemporalDep,
                 request_id: RequestId, principal: Maker) -> Started:
    """经办人（人事专员）提交一项社保变更：参保、补缴、停保或调整基数，答案件号和费用测算，等人事经理审批。
    先按其城市在生效月的政策检查：身份证号、基数在上下限内、不重复参保、同城只有一项未结变更、
    补缴月份是过去的月份且在可补缴期限内、不早于入职月；已离职的员工只能停保。不合格的答 422，不开始任何流程，
    只记下这次尝试的审计。仅人事专员可调用；用同一X-Request-ID 重发得到同一案件，该 X-Request-ID 已开过别人的案件答
    409。

    The maker (an HR specialist) submits a change: an enrollment, a back-payment, a stop or a base
    adjustment; the answer is the case id and the cost estimate, and an HR manager decides. It is
    checked first against her city's policy for the effective month: the resident ID, a base within
    the limits, no second enrollment, one open change per city, back-paid months in the past, within
    the look-back and not before her hire month; a departed employee can only be stopped. Refused,
    it is 422 and starts nothing (only the attempt is audited). HR specialists only; sent again with
    the same X-Request-ID it reaches the same case, and an X-Request-ID that opened another
    employee's case is 409."""
    settings = request.app.state.settings
    today = today_in_china()  # China date: the route in force is the one for her day
    prepared = await transact(request, lambda s: _prepare(s, body, principal, request_id, today))
    if not isinstance(prepared, _Prepared):
        raise ApiError(422, "validation_failed", [prepared])
    employee_id, policy = prepared.facts.employee_id, prepared.policy
    req = si_change.SiChangeRequest(
        facts=prepared.facts, reason=body.reason,
        maker=workflow_calls.actor(principal, request_id), department=prepared.department, province=prepared.province,
        today=today, policy=policy,
        rollback_window=dt.timedelta(hours=settings.rollback_window_hours),
        correction_window=dt.timedelta(days=settings.si_correction_days),
        followup=dt.timedelta(days=settings.si_followup_days))
    view = await CASES.start(
        temporal, req, id=prepared.workflow_id, task_queue=settings.temporal_task_queue,
        request_id=request_id, closed="answer",
        employee_id=employee_id, stage="submitted",
        province=prepared.province, department=prepared.department,
        summary=f"社保变更 {employee_id}，{policy.city} (Social-insurance change for {employee_id} in {policy.city})",
        details=f"Submitted by {principal.user}. Reason: {body.reason}")
    return Started(workflow_id=prepared.workflow_id, stage=view.stage,
                   estimate=estimate(body.kind, body.base, body.months, policy))


@router.get("", response_model=SiChangePage, responses=responses(401, 403), summary="社保变更列表 (List changes)")
async def list_changes(
    request: Request,
    _: Annotated[Principal, Depends(require(*STAFF))],
    stage: str | None = None,
    employee_id: str | None = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SiChangePage:
    """社保变更，可按阶段和员工筛选，分页（按案件号）。除员工外的所有角色可调用。

    Social-insurance changes, optionally of one stage or employee, a page at a time (by case id).
    Every role but employee."""
    def work(session: Session) -> SiChangePage:
        stmt = where_given(select(SiChange), (SiChange.stage, stage), (SiChange.employee_id, employee_id))
        items, next_cursor = keyset_page(session, stmt, SiChange.workflow_id, cursor, limit, SiChangeRow)
        return SiChangePage(items=items, next_cursor=next_cursor)

    return await transact(request, work)


@router.get("/{workflow_id}", response_model=si_change.SiChangeView, responses=responses(401, 404),
            summary="查看社保变更 (Read a change)")
async def read_change(workflow_id: str, request: Request, temporal: TemporalDep,
                      principal: Reader) -> si_change.SiChangeView:
    """社保变更的现状：阶段、内容、经办人和审批人、费用测算、何时报送经办机构、受理号或撤销号。任何角色可调用；
    员工只能看自己的，别人的答 404。

    The change as it stands: stage, facts, maker and approver, cost estimate, when it goes to the
    agency, the acceptance or revocation number. Any role; an employee sees only her own, anyone
    else's is 404."""
    return await CASES.read(request, temporal, principal, workflow_id)


CASES.message("/approve", W.approve, Signatory, carrying(si_change.Approve), ApproveIn)
CASES.message("/reject", W.reject, Signatory, carrying(si_change.Decide), ReasonIn)
CASES.message("/correct", W.correct, Maker, carrying(si_change.Correct), CorrectIn, errors=responses(400, 401, 403, 404, 409, 422))
CASES.message("/revoke", W.revoke, HrStaff, carrying(si_change.Decide), ReasonIn)
CASES.message("/withdraw", W.withdraw, HrStaff, carrying(si_change.Decide), ReasonIn)


@router.post("/{workflow_id}/repin", response_model=si_change.SiChangeView, responses=responses(400, 401, 403, 404, 422),
             summary="按今天的目录重新固定政策 (Re-pin today's figures)",
             openapi_extra=documented_body({"reason": "本市 7 月起执行新的缴费基数上下限"}))
async def repin(workflow_id: str, body: ReasonIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: Checker) -> si_change.SiChangeView:
    """人事经理说明理由，让尚未报送的变更改用今天的政策目录，已审计；按旧数字给出的批准作废，变更回到待批。
    已报送或已结束的变更保持原数字（记入审计）。仅人事经理可调用；目录中没有其城市生效月的规则答 422。

    An HR manager, with a reason, applies today's catalogue to a change not yet executed, audited; an
    approval given on the old figures is void and the change goes back to the checker. One executed
    or closed keeps its figures (the refusal is audited). HR managers only; no rule for its city and
    effective month in the catalogue is 422."""
    current = await CASES.read(request, temporal, principal, workflow_id)
    try:
        policy = pin_si_change(current.facts.city, parse_month(current.facts.effective_month, "effective_month"))
    except PolicyError as exc:
        raise ApiError(422, "validation_failed", [exc.detail()]) from None
    await temporal.get_workflow_handle(workflow_id).signal(
        W.repin_policy,
        si_change.NewPolicy(actor=workflow_calls.actor(principal, request_id), reason=body.reason, policy=policy))
    return await workflow_calls.query(temporal, workflow_id, CASES.workflow.view)


add_task_actions(CASES, W.transfer_task, W.add_signer, W.return_to_step)
