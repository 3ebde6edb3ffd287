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

from api import workflow_calls
from api.auth import Hr, HrManager, Principal, require
from api.bodies import Body, Reason, ReasonIn
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.pagination import keyset_page, where_given
from api.plausibility import PlausibleMonth
from api.routes import resource_router
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
HrStaff = Hr
Reader = Annotated[Principal, Depends(require(*STAFF, Role.EMPLOYEE))]

Month = PlausibleMonth


class SiChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
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
    confirm_total: Annotated[Decimal, Field(ge=0, decimal_places=2)] | None = Field(
        default=None, description="for a back-payment: the estimated total you are confirming")



class CorrectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
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
        if employee.employment_status == "departed" and body.kind is not ChangeKind.STOP:
            raise ChangeRefused("employee_id", "employed", f"员工 {employee.employee_id} 已于 {employee.leaving_on}"
                                f" 离职，只能办理停保 ({employee.employee_id} left on {employee.leaving_on}: only a stop)")
        # A retried request (same X-Request-ID) reaches the case it opened: its own open case is not a clash.
        retried = case_ids.known(session, request_id)
        if retried is not None and not retried.startswith(f"si-change-{employee.employee_id}-"):
            raise ApiError(409, "request_id_reused", f"X-Request-ID {request_id} already opened {retried}")
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


@router.post("", status_code=201, response_model=Started, responses=responses(400, 401, 403, 409, 422, 503))
async def submit(body: SiChangeIn, request: Request, temporal: TemporalDep,
                 request_id: RequestId, principal: Maker) -> Started:
    settings = request.app.state.settings
    today = dt.date.today()
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
        summary=f"Social-insurance {body.kind.value} for {employee_id} in {policy.city}",
        details=f"Submitted by {principal.user}. Reason: {body.reason}")
    return Started(workflow_id=prepared.workflow_id, stage=view.stage,
                   estimate=estimate(body.kind, body.base, body.months, policy))


@router.get("", response_model=SiChangePage, responses=responses(401, 403))
async def list_changes(
    request: Request,
    _: Annotated[Principal, Depends(require(*STAFF))],
    stage: str | None = None,
    employee_id: str | None = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SiChangePage:
    def work(session: Session) -> SiChangePage:
        stmt = where_given(select(SiChange), (SiChange.stage, stage), (SiChange.employee_id, employee_id))
        items, next_cursor = keyset_page(session, stmt, SiChange.workflow_id, cursor, limit, SiChangeRow)
        return SiChangePage(items=items, next_cursor=next_cursor)

    return await transact(request, work)


@router.get("/{workflow_id}", response_model=si_change.SiChangeView, responses=responses(401, 404))
async def read_change(workflow_id: str, request: Request, temporal: TemporalDep,
                      principal: Reader) -> si_change.SiChangeView:
    return await CASES.read(request, temporal, principal, workflow_id)


CASES.message("/approve", W.approve, Checker, carrying(si_change.Approve), ApproveIn)
CASES.message("/reject", W.reject, Checker, carrying(si_change.Decide), ReasonIn)
CASES.message("/correct", W.correct, Maker, carrying(si_change.Correct), CorrectIn,
              errors=responses(400, 401, 403, 404, 409, 422))
CASES.message("/revoke", W.revoke, HrStaff, carrying(si_change.Decide), ReasonIn)
CASES.message("/withdraw", W.withdraw, HrStaff, carrying(si_change.Decide), ReasonIn)


@router.post("/{workflow_id}/repin", response_model=si_change.SiChangeView, responses=responses(400, 401, 403, 404, 422))
async def repin(workflow_id: str, body: ReasonIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: Checker) -> si_change.SiChangeView:
    """Apply today's catalogue to a change not yet executed: explicit, by an hr_manager, audited.
    An approval given on the old figures is void and the change goes back to the checker."""
    current = await CASES.read(request, temporal, principal, workflow_id)
    try:
        policy = pin_si_change(current.facts.city, parse_month(current.facts.effective_month, "effective_month"))
    except PolicyError as exc:
        raise ApiError(422, "validation_failed", [exc.detail()]) from None
    await temporal.get_workflow_handle(workflow_id).signal(
        W.repin_policy,
        si_change.NewPolicy(actor=workflow_calls.actor(principal, request_id), reason=body.reason, policy=policy))
    return await workflow_calls.query(temporal, workflow_id, CASES.workflow.view)
