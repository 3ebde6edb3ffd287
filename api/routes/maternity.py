"""Maternity leave: apply, approve, report the birth, extend, return, deduct, settle, write off.

One case both HR and finance see (seed 000). The employee may apply and report her own birth and
return; HR decides and confirms; finance confirms each deduction, repayment and the allowance.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import workflow_calls
from api.auth import Principal, require
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.routes import resource_router
from api.routes.cases import guard_case
from api.transactions import transact
from db import audit
from db.ledger import open_receivables
from db.models import Employee, Receivable
from domain.policy import BirthFacts, PolicyError, pin_maternity
from domain.roles import Role
from workflows import search_attributes as sa
from workflows.maternity import (
    Birth,
    Correction,
    Decision,
    Extension,
    ExtensionDecision,
    MaternityLeaveWorkflow,
    MaternityRequest,
    MaternityView,
    Money,
    NewPolicy,
    ReturnReport,
)

router = resource_router(tags=["maternity leave"])
PREFIX = "/maternity-leaves"

Anyone = Annotated[Principal, Depends(require(*Role))]
Hr = Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER))]
HrOrSelf = Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER, Role.EMPLOYEE))]
Finance = Annotated[Principal, Depends(require(Role.FINANCE))]
WriteOff = Annotated[Principal, Depends(require(Role.FINANCE, Role.HR_MANAGER))]
LedgerReader = Annotated[Principal, Depends(require(Role.FINANCE, Role.HR_SPECIALIST, Role.HR_MANAGER,
                                                    Role.COMPLIANCE))]
Amount = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    expected_delivery_date: dt.date
    planned_leave_start: dt.date | None = None
    babies: int = Field(default=1, ge=1, le=8)
    difficult_birth: bool = False
    child_order: int | None = Field(default=None, ge=1, le=10)
    company_pays_salary: bool
    employer_average_wage: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None


class BirthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    birth_date: dt.date
    babies: int = Field(default=1, ge=1, le=8)
    difficult_birth: bool = False


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class OptionalReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=2000)] | None = None


class ResubmitIn(BirthIn):
    reason: Reason
    planned_leave_start: dt.date | None = None


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(gt=0, le=366)
    kind: str = Field(pattern=r"^(medical_certificate|local_extra_leave)$")
    reason: Reason


class ExtensionDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: Annotated[str, Field(max_length=2000)] | None = None


class DateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Amount
    reference: Annotated[str, Field(max_length=100)] | None = None


class ReceivableOut(BaseModel):
    id: int
    employee_id: str
    workflow_id: str
    kind: str
    month: str
    amount: Decimal
    settled: Decimal
    status: str
    booked_at: dt.datetime
    followed_up_at: dt.datetime | None = None


class Ledger(BaseModel):
    employee_id: str
    outstanding: Decimal
    months: list[str]
    items: list[ReceivableOut]
    responsible: dict[str, str] = Field(description="who acts on each open item")



def _refuse(detail: dict[str, Any]) -> ApiError:
    return ApiError(422, "validation_failed", [detail])


@router.post(PREFIX, status_code=201, response_model=MaternityView, responses=responses(400, 401, 403, 422, 503))
async def apply(body: ApplyIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: HrOrSelf) -> MaternityView:
    """File the application (she may file her own; HR may file for her)."""
    settings = request.app.state.settings
    if principal.role is Role.EMPLOYEE and not principal.is_self(body.employee_id):
        raise ApiError(403, "forbidden", "an employee files only her own application")
    employee = await transact(request, lambda s: s.get(Employee, body.employee_id))
    if employee is None:
        raise _refuse({"field": "employee_id", "rule": "employee_exists", "message": f"no employee {body.employee_id}"})
    if employee.employment_status == "departed":
        raise _refuse({"field": "employee_id", "rule": "employed", "message": f"员工 {employee.employee_id} 已于"
                       f" {employee.leaving_on} 离职，不能申请产假 ({employee.employee_id} left on {employee.leaving_on})"})
    facts = BirthFacts(birth_date=body.expected_delivery_date, babies=body.babies,
                       difficult_birth=body.difficult_birth, child_order=body.child_order,
                       leave_start=body.planned_leave_start)
    today = dt.date.today()
    try:
        policy = pin_maternity(employee.si_province, employee.si_city, facts, on=today)
    except PolicyError as exc:
        raise _refuse(exc.detail()) from None
    if not body.company_pays_salary and policy.rates is None:
        raise _refuse({"field": "employee_id", "rule": "contribution_rates_known",
                       "message": f"the catalogue holds no contribution rates for {employee.si_city}; the monthly"
                                  " advance cannot be computed"})
    workflow_id = f"maternity-leave-{employee.employee_id}-{body.expected_delivery_date.isoformat()}"
    req = MaternityRequest(
        employee_id=employee.employee_id, manager_id=employee.manager_id, province=employee.si_province, city=employee.si_city,
        department=employee.department, facts=facts, company_pays_salary=body.company_pays_salary,
        monthly_salary=employee.contribution_base, contribution_base=employee.contribution_base,
        employer_average_wage=body.employer_average_wage, filed_by=workflow_calls.actor(principal, request_id), today=today,
        policy=policy, payroll_cutoff_day=settings.payroll_cutoff_day,
        deduction_installments=settings.maternity_deduction_installments,
        return_reminder_days=settings.maternity_return_reminder_days,
        return_grace_days=settings.maternity_return_grace_days, leaving_on=employee.leaving_on)
    return await workflow_calls.start_case(
        temporal, MaternityLeaveWorkflow, req, id=workflow_id, task_queue=settings.temporal_task_queue,
        request_id=request_id, closed="conflict",
        search_attributes=sa.at_start(employee_id=employee.employee_id, kind="maternity", stage="applied",
                                      province=employee.si_province, department=employee.department),
        static_summary=f"Maternity leave of {employee.employee_id}, expected {body.expected_delivery_date}",
        static_details=(f"{policy.leave.total_days} days from {policy.leave.leave_start};"
                        f" expected return {policy.leave.return_date}; policy {policy.version[:12]}"))


@router.get(PREFIX + "/{workflow_id}", response_model=MaternityView, responses=responses(401, 404))
async def read(workflow_id: str, request: Request, temporal: TemporalDep, principal: Anyone) -> MaternityView:
    await _guard(request, principal, workflow_id)
    return await workflow_calls.query(temporal, workflow_id, MaternityLeaveWorkflow.view)


async def _guard(request: Request, principal: Principal, workflow_id: str) -> None:
    await guard_case(request, principal, workflow_id, prefix="maternity-leave-", what="maternity case")


async def _send(request: Request, temporal: TemporalDep, principal: Principal, workflow_id: str,
                method: Any, arg: Any) -> MaternityView:
    await _guard(request, principal, workflow_id)
    return await workflow_calls.update(temporal.get_workflow_handle(workflow_id), method, arg)


_ERRORS = responses(400, 401, 403, 404, 409, 422)


@router.post(PREFIX + "/{workflow_id}/approve", response_model=MaternityView, responses=_ERRORS)
async def approve(workflow_id: str, request: Request, temporal: TemporalDep, request_id: RequestId,
                  principal: Hr) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.approve,
                       Decision(actor=workflow_calls.actor(principal, request_id)))


@router.post(PREFIX + "/{workflow_id}/reject", response_model=MaternityView, responses=_ERRORS)
async def reject(workflow_id: str, body: ReasonIn, request: Request, temporal: TemporalDep,
                 request_id: RequestId, principal: Hr) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.reject,
                       Decision(actor=workflow_calls.actor(principal, request_id), reason=body.reason))


@router.post(PREFIX + "/{workflow_id}/resubmit", response_model=MaternityView, responses=_ERRORS)
async def resubmit(workflow_id: str, body: ResubmitIn, request: Request, temporal: TemporalDep,
                   request_id: RequestId, principal: HrOrSelf) -> MaternityView:
    facts = BirthFacts(birth_date=body.birth_date, babies=body.babies, difficult_birth=body.difficult_birth,
                       leave_start=body.planned_leave_start)
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.resubmit,
                       Correction(actor=workflow_calls.actor(principal, request_id), reason=body.reason, facts=facts))


@router.post(PREFIX + "/{workflow_id}/withdraw", response_model=MaternityView, responses=_ERRORS)
async def withdraw(workflow_id: str, body: ReasonIn, request: Request, temporal: TemporalDep,
                   request_id: RequestId, principal: HrOrSelf) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.withdraw,
                       Decision(actor=workflow_calls.actor(principal, request_id), reason=body.reason))


@router.post(PREFIX + "/{workflow_id}/birth", response_model=MaternityView, responses=_ERRORS)
async def report_birth(workflow_id: str, body: BirthIn, request: Request, temporal: TemporalDep,
                       request_id: RequestId, principal: HrOrSelf) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.report_birth,
                       Birth(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))


@router.post(PREFIX + "/{workflow_id}/extensions", response_model=MaternityView, responses=_ERRORS)
async def request_extension(workflow_id: str, body: ExtensionIn, request: Request, temporal: TemporalDep,
                            request_id: RequestId, principal: HrOrSelf) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.request_extension,
                       Extension(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))


@router.post(PREFIX + "/{workflow_id}/extensions/decision", response_model=MaternityView, responses=_ERRORS)
async def decide_extension(workflow_id: str, body: ExtensionDecisionIn, request: Request, temporal: TemporalDep,
                           request_id: RequestId,
                           principal: Annotated[Principal, Depends(require(Role.HR_MANAGER))]) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.decide_extension,
                       ExtensionDecision(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))


@router.post(PREFIX + "/{workflow_id}/return-report", response_model=MaternityView, responses=_ERRORS)
async def report_return(workflow_id: str, body: DateIn, request: Request, temporal: TemporalDep,
                        request_id: RequestId, principal: HrOrSelf) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.report_return,
                       ReturnReport(actor=workflow_calls.actor(principal, request_id), date=body.date))


@router.post(PREFIX + "/{workflow_id}/return", response_model=MaternityView, responses=_ERRORS)
async def confirm_return(workflow_id: str, body: DateIn, request: Request, temporal: TemporalDep,
                         request_id: RequestId, principal: Hr) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.confirm_return,
                       ReturnReport(actor=workflow_calls.actor(principal, request_id), date=body.date))


@router.post(PREFIX + "/{workflow_id}/deductions", response_model=MaternityView, responses=_ERRORS)
async def confirm_deduction(workflow_id: str, body: MoneyIn, request: Request, temporal: TemporalDep,
                            request_id: RequestId, principal: Finance) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.confirm_deduction,
                       Money(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))


@router.post(PREFIX + "/{workflow_id}/settlements", response_model=MaternityView, responses=_ERRORS)
async def report_settlement(workflow_id: str, body: MoneyIn, request: Request, temporal: TemporalDep,
                            request_id: RequestId, principal: Finance) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.report_settlement,
                       Money(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))


@router.post(PREFIX + "/{workflow_id}/allowance-payment", response_model=MaternityView, responses=_ERRORS)
async def allowance_paid(workflow_id: str, body: MoneyIn, request: Request, temporal: TemporalDep,
                         request_id: RequestId, principal: Finance) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.allowance_paid,
                       Money(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))


@router.post(PREFIX + "/{workflow_id}/departure", response_model=MaternityView, responses=_ERRORS)
async def report_departure(workflow_id: str, body: DateIn, request: Request, temporal: TemporalDep,
                           request_id: RequestId, principal: Hr) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.report_departure,
                       ReturnReport(actor=workflow_calls.actor(principal, request_id), date=body.date))


@router.post(PREFIX + "/{workflow_id}/write-off", response_model=MaternityView, responses=_ERRORS)
async def approve_write_off(workflow_id: str, body: ReasonIn, request: Request, temporal: TemporalDep,
                            request_id: RequestId, principal: WriteOff) -> MaternityView:
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.approve_write_off,
                       Decision(actor=workflow_calls.actor(principal, request_id), reason=body.reason))


@router.post(PREFIX + "/{workflow_id}/repin", response_model=MaternityView, responses=_ERRORS)
async def repin(workflow_id: str, body: ReasonIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: Annotated[Principal, Depends(require(Role.HR_MANAGER))]
                ) -> MaternityView:
    """Apply today's catalogue to a running leave: explicit, by an hr_manager, audited."""
    await _guard(request, principal, workflow_id)
    handle = temporal.get_workflow_handle(workflow_id)
    current = await workflow_calls.query(temporal, workflow_id, MaternityLeaveWorkflow.view)
    employee = await transact(request, lambda s: s.get(Employee, current.employee_id))
    if employee is None:
        raise ApiError(409, "employee_missing", f"employee {current.employee_id} of {workflow_id} is no longer registered")
    facts = BirthFacts(birth_date=current.leave_start + dt.timedelta(days=15), leave_start=current.leave_start)
    try:
        policy = pin_maternity(employee.si_province, employee.si_city, facts, on=dt.date.today())
    except PolicyError as exc:
        raise _refuse(exc.detail()) from None
    await handle.signal(MaternityLeaveWorkflow.repin_policy,
                        NewPolicy(actor=workflow_calls.actor(principal, request_id), reason=body.reason, policy=policy))
    return await workflow_calls.query(temporal, workflow_id, MaternityLeaveWorkflow.view)


class ReceivablePage(BaseModel):
    items: list[ReceivableOut]
    next_cursor: int | None


@router.get("/receivables", response_model=ReceivablePage, responses=responses(401, 403))
async def list_receivables(request: Request, _: LedgerReader, status: str = "open",
                           cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
                           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ReceivablePage:
    """All receivables in a status, oldest booking first: finance's follow-up list."""
    def work(session: Session) -> ReceivablePage:
        stmt = select(Receivable).where(Receivable.status == status).order_by(Receivable.id).limit(limit + 1)
        if cursor is not None:
            stmt = stmt.where(Receivable.id > cursor)
        rows = list(session.scalars(stmt))
        page, more = rows[:limit], len(rows) > limit
        return ReceivablePage(items=[ReceivableOut.model_validate(r, from_attributes=True) for r in page],
                              next_cursor=page[-1].id if more else None)

    return await transact(request, work)


@router.get("/receivables/{employee_id}", response_model=Ledger, responses=responses(401, 403))
async def receivables(employee_id: str, request: Request, _: LedgerReader) -> Ledger:
    """An employee's open receivables: what offboarding's finance gate must see settled."""
    def work(session: Session) -> Ledger:
        rows = open_receivables(session, employee_id)
        outstanding = sum((r.amount - r.settled for r in rows), Decimal("0.00"))
        return Ledger(
            employee_id=employee_id, outstanding=outstanding, months=[r.month for r in rows],
            items=[ReceivableOut.model_validate(r, from_attributes=True) for r in rows],
            responsible={"deduction_or_recovery": "finance", "return_and_departure": "hr_specialist",
                         "write_off": "finance + hr_manager"} if rows else {})

    return await transact(request, work)


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=500, description="what was done: a call, an agreed plan, a reminder")


@router.post("/receivables/items/{receivable_id}/follow-ups", response_model=ReceivableOut,
             responses=responses(400, 401, 403, 404, 409, 422))
async def follow_up(receivable_id: int, body: FollowUpIn, request: Request, request_id: RequestId,
                    principal: Annotated[Principal, Depends(require(Role.FINANCE))]) -> ReceivableOut:
    """Finance records a follow-up of an open receivable (audited); the daily sweep then stays quiet
    about it for the follow-up period."""
    def work(session: Session) -> ReceivableOut:
        row = session.get(Receivable, receivable_id, with_for_update=True)
        if row is None:
            raise ApiError(404, "not_found", f"no receivable {receivable_id}")
        if row.status != "open":
            raise ApiError(409, "not_open", f"receivable {receivable_id} is {row.status}")
        now = dt.datetime.now(dt.timezone.utc)
        before = row.followed_up_at
        row.followed_up_at = now
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="receivable.followed_up",
            workflow_id=row.workflow_id, subject=row.employee_id, before={"followed_up_at": before},
            after={"receivable": receivable_id, "month": row.month, "note": body.note}, request_id=request_id), at=now)
        return ReceivableOut.model_validate(row, from_attributes=True)

    return await transact(request, work)
