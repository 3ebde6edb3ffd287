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
from temporalio.client import Client

from api import workflow_calls
from api.auth import Principal, require
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api import plausibility
from api.plausibility import PlausibleDate, add_months, problem, refuse, within
from api.routes import resource_router
from api.routes.cases import guard_case
from api.transactions import transact
from db import audit
from db.ledger import open_receivables
from db.models import Case, Employee, Receivable
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
    expected_delivery_date: PlausibleDate
    planned_leave_start: PlausibleDate | None = None
    babies: int = Field(default=1, ge=1, le=8)
    difficult_birth: bool = False
    child_order: int | None = Field(default=None, ge=1, le=10)
    company_pays_salary: bool
    employer_average_wage: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None


class BirthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    birth_date: PlausibleDate
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
    planned_leave_start: PlausibleDate | None = None


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
    date: PlausibleDate


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


# How far from today a maternity date may lie. A pregnancy lasts about 40 weeks, so an expected
# birth more than 10 months ahead is not yet a pregnancy; an application or a birth reported more
# than a year after the birth comes after any leave (158 days at most, with extensions) has ended.
# 1970-01-01, a client's "no date", falls outside and is refused (taken as a birth it would book
# advances for 1969). A leave starts before the birth, so its window is the birth's, 60 days earlier.
BIRTH_MONTHS_BACK, BIRTH_MONTHS_AHEAD = 12, 10
LEAVE_START_DAYS_BEFORE_BIRTH = 60
# A return or departure is reported about when it happens: within a year either side of today.
EVENT_MONTHS = 12


def check_birth_date(field: str, value: dt.date, today: dt.date) -> None:
    """An expected or actual birth within 12 months before and 10 months after today."""
    wrong = within(field, "birth_date_plausible", value, add_months(today, -BIRTH_MONTHS_BACK),
                   add_months(today, BIRTH_MONTHS_AHEAD), "分娩日期", "the birth date")
    if wrong is not None:
        raise refuse(wrong)


def check_leave_start(field: str, value: dt.date | None, today: dt.date) -> None:
    if value is None:
        return
    earliest = add_months(today, -BIRTH_MONTHS_BACK) - dt.timedelta(days=LEAVE_START_DAYS_BEFORE_BIRTH)
    wrong = within(field, "leave_start_plausible", value, earliest, add_months(today, BIRTH_MONTHS_AHEAD),
                   "产假开始日期", "the leave start")
    if wrong is not None:
        raise refuse(wrong)


def check_event_date(value: dt.date, today: dt.date, zh: str, en: str) -> None:
    wrong = within("date", "date_plausible", value, add_months(today, -EVENT_MONTHS),
                   add_months(today, EVENT_MONTHS), zh, en)
    if wrong is not None:
        raise refuse(wrong)


async def refuse_overlap(temporal: Client, open_cases: list[str], new_id: str,
                         start: dt.date, last: dt.date) -> None:
    """One leave at a time: an open case of hers whose leave span meets the new one is named, and
    the application refused (its own id is the start's concern: a retry reaches the case it opened)."""
    for workflow_id in open_cases:
        if workflow_id == new_id:
            continue
        try:
            other: MaternityView = await workflow_calls.query(temporal, workflow_id, MaternityLeaveWorkflow.view)
        except ApiError:
            continue  # no such workflow any more: nothing that can overlap
        if other.leave_start <= last and start <= other.last_day:
            raise refuse(problem(
                "expected_delivery_date", "no_overlapping_leave",
                f"产假 {start} 至 {last} 与该员工已有的产假案件 {workflow_id}（{other.leave_start} 至 {other.last_day}，"
                f"{other.stage}）重叠",
                f"the leave {start} to {last} overlaps her maternity case {workflow_id}"
                f" ({other.leave_start} to {other.last_day}, {other.stage})"))


def _employee_and_open_cases(session: Session, employee_id: str) -> tuple[Employee | None, list[str]]:
    employee = session.get(Employee, employee_id)
    cases = list(session.scalars(select(Case.workflow_id).where(
        Case.kind == "maternity", Case.employee_id == employee_id, Case.status == "open").order_by(Case.id)))
    return employee, cases


@router.post(PREFIX, status_code=201, response_model=MaternityView, responses=responses(400, 401, 403, 422, 503))
async def apply(body: ApplyIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: HrOrSelf) -> MaternityView:
    """File the application (she may file her own; HR may file for her). The expected birth and the
    planned start lie in the window around today (``check_birth_date``), and no other open leave
    of hers overlaps this one."""
    settings = request.app.state.settings
    if principal.role is Role.EMPLOYEE and not principal.is_self(body.employee_id):
        raise ApiError(403, "forbidden", "an employee files only her own application")
    today = dt.date.today()
    check_birth_date("expected_delivery_date", body.expected_delivery_date, plausibility.today())
    check_leave_start("planned_leave_start", body.planned_leave_start, plausibility.today())
    employee, open_cases = await transact(request, lambda s: _employee_and_open_cases(s, body.employee_id))
    if employee is None:
        raise _refuse({"field": "employee_id", "rule": "employee_exists", "message": f"no employee {body.employee_id}"})
    if employee.employment_status == "departed":
        raise _refuse({"field": "employee_id", "rule": "employed", "message": f"员工 {employee.employee_id} 已于"
                       f" {employee.leaving_on} 离职，不能申请产假 ({employee.employee_id} left on {employee.leaving_on})"})
    facts = BirthFacts(birth_date=body.expected_delivery_date, babies=body.babies,
                       difficult_birth=body.difficult_birth, child_order=body.child_order,
                       leave_start=body.planned_leave_start)
    try:
        policy = pin_maternity(employee.si_province, employee.si_city, facts, on=today)
    except PolicyError as exc:
        raise _refuse(exc.detail()) from None
    workflow_id = f"maternity-leave-{employee.employee_id}-{body.expected_delivery_date.isoformat()}"
    await refuse_overlap(temporal, open_cases, workflow_id, policy.leave.leave_start, policy.leave.last_day)
    if not body.company_pays_salary and policy.rates is None:
        raise _refuse({"field": "employee_id", "rule": "contribution_rates_known",
                       "message": f"the catalogue holds no contribution rates for {employee.si_city}; the monthly"
                                  " advance cannot be computed"})
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
    check_birth_date("birth_date", body.birth_date, plausibility.today())
    check_leave_start("planned_leave_start", body.planned_leave_start, plausibility.today())
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
    check_birth_date("birth_date", body.birth_date, plausibility.today())
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
    check_event_date(body.date, plausibility.today(), "返岗日期", "the return date")
    return await _send(request, temporal, principal, workflow_id, MaternityLeaveWorkflow.report_return,
                       ReturnReport(actor=workflow_calls.actor(principal, request_id), date=body.date))


@router.post(PREFIX + "/{workflow_id}/return", response_model=MaternityView, responses=_ERRORS)
async def confirm_return(workflow_id: str, body: DateIn, request: Request, temporal: TemporalDep,
                         request_id: RequestId, principal: Hr) -> MaternityView:
    check_event_date(body.date, plausibility.today(), "返岗日期", "the return date")
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
    check_event_date(body.date, plausibility.today(), "离职日期", "the departure date")
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
