"""Maternity leave: apply, approve, report the birth, extend, return, deduct, settle, write off.

One case both HR and finance see (seed 000). The employee may apply and report her own birth and
return; HR decides and confirms; finance confirms each deduction, repayment and the allowance.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Request
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client

from api import plausibility, scope, workflow_calls
from api.auth import Anyone, Hr, HrManager, HrOrSelf, Principal, require
from api.bodies import Body, OptionalReason, Reason, ReasonIn
from api.case_routes import CaseRoutes, carrying, documented_body
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.plausibility import PlausibleDate, problem, refuse, within
from api.routes import resource_router
from api.task_actions import add_task_actions, signatory
from api.transactions import transact
from api.workflow_calls import CaseWorkflow
from db.models import Case, Employee
from domain.actors import Actor
from domain.months import add_months
from domain.policy import BirthFacts, PolicyError, pin_maternity
from domain.roles import Role
from workflows import maternity

W = maternity.MaternityLeaveWorkflow
router = resource_router(tags=["maternity leave"])
PREFIX = "/maternity-leaves"
CASES = CaseRoutes(router, PREFIX, ids="maternity-leave-", what="maternity case", kind="maternity", model=maternity.MaternityView,
                   workflow=CaseWorkflow(W.run, W.opened, W.view))

Finance = Annotated[Principal, Depends(require(Role.FINANCE))]
WriteOff = Annotated[Principal, Depends(require(Role.FINANCE, Role.HR_MANAGER))]
# Who signs the application is its approver route; the web app offers approve and reject to HR.
Signatory = Annotated[Principal, Depends(signatory(Role.HR_SPECIALIST, Role.HR_MANAGER))]
Amount = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]


class ApplyIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "employee_id": "E1001", "expected_delivery_date": "2027-05-20", "planned_leave_start": "2027-05-06",
        "babies": 1, "difficult_birth": False, "child_order": 1, "company_pays_salary": True,
        "employer_average_wage": "15000.00",
    }]})

    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    expected_delivery_date: PlausibleDate
    planned_leave_start: PlausibleDate | None = None
    babies: int = Field(default=1, ge=1, le=8)
    difficult_birth: bool = False
    child_order: int | None = Field(default=None, ge=1, le=10)
    company_pays_salary: bool
    employer_average_wage: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None


class BirthIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"birth_date": "2027-05-18", "babies": 1, "difficult_birth": False},
    ]})

    birth_date: PlausibleDate
    babies: int = Field(default=1, ge=1, le=8)
    difficult_birth: bool = False


class ResubmitIn(BirthIn):
    """The corrected application: ``birth_date`` is the expected delivery date."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"birth_date": "2027-05-20", "babies": 2, "difficult_birth": False, "planned_leave_start": "2027-05-06",
         "reason": "B 超确认为双胞胎，更正胎数"},
    ]})

    reason: Reason
    planned_leave_start: PlausibleDate | None = None


class ExtensionIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"days": 15, "kind": "medical_certificate", "reason": "医院诊断证明：产后需继续休养 15 天"},
    ]})

    days: int = Field(gt=0, le=366)
    kind: str = Field(pattern=r"^(medical_certificate|local_extra_leave)$")
    reason: Reason


class ExtensionDecisionIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"approve": True, "reason": "诊断证明已核实"}]})

    approve: bool
    reason: OptionalReason = None


class DateIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"date": "2027-10-08"}]})

    date: PlausibleDate


class MoneyIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": "1250.40", "reference": "2027-11 工资单"}]})

    amount: Amount
    reference: Annotated[str, Field(max_length=100)] | None = None


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
            other = await workflow_calls.query(temporal, workflow_id, CASES.workflow.view)
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


@router.post(PREFIX, status_code=201, response_model=maternity.MaternityView, responses=responses(400, 401, 403, 422, 503),
             summary="申请产假 (Apply for maternity leave)")
async def apply(body: ApplyIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: HrOrSelf) -> maternity.MaternityView:
    """提交产假申请，开启一个产假案件：员工为自己申请，或人事专员、人事经理代她申请（员工为别人申请答 403）。
    预产期须在今天前 12 个月至后 10 个月之内，计划开始日期也在相应窗口内；她其他未结的产假不能与本次重叠；
    已离职的员工不能申请；公司不发工资时，目录须有其城市的缴费比例以计算每月垫付。假期天数、
    开始日和返岗日按其参保地今天的目录计算并固定。以上不满足答 422；同一案件已办结答 409。

    File the application and open a maternity case: she files her own, or an HR specialist or manager
    files for her (an employee filing for someone else is 403). The expected birth lies from 12
    months before to 10 months after today, the planned start in its window; no other open leave of
    hers may overlap; a departed employee cannot apply; when the company does not pay her salary, the
    catalogue must hold her city's contribution rates to compute the monthly advance. Days, start and
    return date are computed from her region's catalogue today and pinned. Otherwise 422; a case of
    the same id that already closed is 409."""
    settings = request.app.state.settings
    if principal.role is Role.EMPLOYEE and not principal.is_self(body.employee_id):
        raise ApiError(403, "forbidden", "员工只能为自己申请 (an employee files only her own application)")
    today = plausibility.today()  # China date: the route in force is the one for her day
    check_birth_date("expected_delivery_date", body.expected_delivery_date, plausibility.today())
    check_leave_start("planned_leave_start", body.planned_leave_start, plausibility.today())
    employee, open_cases = await transact(request, lambda s: _employee_and_open_cases(s, body.employee_id))
    if employee is None:
        raise refuse({"field": "employee_id", "rule": "employee_exists",
                      "message": f"没有员工 {body.employee_id} (no employee {body.employee_id})"})
    await scope.check_start(request, principal, employee.employee_id)
    if employee.employment_status == "departed":
        raise refuse({"field": "employee_id", "rule": "employed", "message": f"员工 {employee.employee_id} 已于"
                      f" {employee.leaving_on} 离职，不能申请产假 ({employee.employee_id} left on {employee.leaving_on})"})
    facts = BirthFacts(birth_date=body.expected_delivery_date, babies=body.babies,
                       difficult_birth=body.difficult_birth, child_order=body.child_order,
                       leave_start=body.planned_leave_start)
    try:
        policy = pin_maternity(employee.si_province, employee.si_city, facts, on=today)
    except PolicyError as exc:
        raise refuse(exc.detail()) from None
    workflow_id = f"maternity-leave-{employee.employee_id}-{body.expected_delivery_date.isoformat()}"
    await refuse_overlap(temporal, open_cases, workflow_id, policy.leave.leave_start, policy.leave.last_day)
    if not body.company_pays_salary and policy.rates is None:
        raise refuse({"field": "employee_id", "rule": "contribution_rates_known",
                      "message": f"目录中没有 {employee.si_city} 的社保缴费比例，无法计算每月垫付 (the catalogue"
                                 f" holds no contribution rates for {employee.si_city}; the monthly advance cannot be"
                                 " computed)"})
    req = maternity.MaternityRequest(
        employee_id=employee.employee_id, manager_id=employee.manager_id, province=employee.si_province, city=employee.si_city,
        department=employee.department, facts=facts, company_pays_salary=body.company_pays_salary,
        monthly_salary=employee.contribution_base, contribution_base=employee.contribution_base,
        employer_average_wage=body.employer_average_wage, filed_by=workflow_calls.actor(principal, request_id), today=today,
        policy=policy, payroll_cutoff_day=settings.payroll_cutoff_day,
        deduction_installments=settings.maternity_deduction_installments,
        return_reminder_days=settings.maternity_return_reminder_days,
        return_grace_days=settings.maternity_return_grace_days, leaving_on=employee.leaving_on)
    return await CASES.start(
        temporal, req, id=workflow_id, task_queue=settings.temporal_task_queue,
        request_id=request_id, closed="conflict",
        employee_id=employee.employee_id, stage="applied",
        province=employee.si_province, department=employee.department,
        summary=(f"产假 {employee.employee_id}，预产期 {body.expected_delivery_date}"
                 f" (Maternity leave of {employee.employee_id}, expected {body.expected_delivery_date})"),
        details=(f"{policy.leave.total_days} days from {policy.leave.leave_start};"
                 f" expected return {policy.leave.return_date}; policy {policy.version[:12]}"))


@router.get(PREFIX + "/{workflow_id}", response_model=maternity.MaternityView, responses=responses(401, 404),
            summary="查看产假案件 (Read a maternity case)")
async def read(workflow_id: str, request: Request, temporal: TemporalDep, principal: Anyone) -> maternity.MaternityView:
    """产假案件的现状：阶段、假期和返岗日期、已记的垫付、已扣回和尚欠金额、待决的延期、核销审批。任何角色可调用；
    员工只能看自己的案件，别人的答 404。

    The case as it stands: stage, leave and return dates, advances booked, settled and outstanding,
    a pending extension, write-off approvals. Any role; an employee sees only her own case, anyone
    else's is 404."""
    return await CASES.read(request, temporal, principal, workflow_id)


# What each request tells the case, with the plausibility of the dates it carries checked first.
def _correction(actor: Actor, body: ResubmitIn) -> maternity.Correction:
    check_birth_date("birth_date", body.birth_date, plausibility.today())
    check_leave_start("planned_leave_start", body.planned_leave_start, plausibility.today())
    facts = BirthFacts(birth_date=body.birth_date, babies=body.babies, difficult_birth=body.difficult_birth,
                       leave_start=body.planned_leave_start)
    return maternity.Correction(actor=actor, reason=body.reason, facts=facts)


def _birth(actor: Actor, body: BirthIn) -> maternity.Birth:
    check_birth_date("birth_date", body.birth_date, plausibility.today())
    return maternity.Birth(actor=actor, **body.model_dump())


def _return(actor: Actor, body: DateIn) -> maternity.ReturnReport:
    check_event_date(body.date, plausibility.today(), "返岗日期", "the return date")
    return maternity.ReturnReport(actor=actor, date=body.date)


def _departure(actor: Actor, body: DateIn) -> maternity.ReturnReport:
    check_event_date(body.date, plausibility.today(), "离职日期", "the departure date")
    return maternity.ReturnReport(actor=actor, date=body.date)


CASES.message("/approve", W.approve, Signatory, lambda actor, _: maternity.Decision(actor=actor))
CASES.message("/reject", W.reject, Signatory, carrying(maternity.Decision), ReasonIn)
CASES.message("/resubmit", W.resubmit, HrOrSelf, _correction, ResubmitIn)
CASES.message("/withdraw", W.withdraw, HrOrSelf, carrying(maternity.Decision), ReasonIn)
CASES.message("/birth", W.report_birth, HrOrSelf, _birth, BirthIn)
CASES.message("/extensions", W.request_extension, HrOrSelf, carrying(maternity.Extension), ExtensionIn)
CASES.message("/extensions/decision", W.decide_extension, HrManager, carrying(maternity.ExtensionDecision), ExtensionDecisionIn)
CASES.message("/return-report", W.report_return, HrOrSelf, _return, DateIn)
CASES.message("/return", W.confirm_return, Hr, _return, DateIn)
CASES.message("/deductions", W.confirm_deduction, Finance, carrying(maternity.Money), MoneyIn)
CASES.message("/settlements", W.report_settlement, Finance, carrying(maternity.Money), MoneyIn)
CASES.message("/allowance-payment", W.allowance_paid, Finance, carrying(maternity.Money), MoneyIn)
CASES.message("/departure", W.report_departure, Hr, _departure, DateIn)
CASES.message("/write-off", W.approve_write_off, WriteOff, carrying(maternity.Decision), ReasonIn)


@router.post(PREFIX + "/{workflow_id}/repin", response_model=maternity.MaternityView, responses=CASES.errors,
             summary="按今天的目录重算假期 (Re-pin today's figures)",
             openapi_extra=documented_body({"reason": "省里延长了产假天数，适用于她的分娩日期"}))
async def repin(workflow_id: str, body: ReasonIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: HrManager) -> maternity.MaternityView:
    """人事经理说明理由，让仍在进行的假期改用今天的政策目录（如省里延长了产假）：假期天数和返岗日期随之改变并审计；
    已结束的假期保持原数字（记入审计）。仅人事经理可调用；员工已不在册答 409，目录中没有其地区的规则答 422。

    An HR manager, with a reason, applies today's catalogue to a leave still running (a province
    extended maternity leave, say): days and return date change, audited; a leave that has ended
    keeps its figures (the refusal is audited). HR managers only; an employee no longer registered is
    409, no rule for her region in the catalogue 422."""
    current = await CASES.read(request, temporal, principal, workflow_id)
    handle = temporal.get_workflow_handle(workflow_id)
    employee = await transact(request, lambda s: s.get(Employee, current.employee_id))
    if employee is None:
        raise ApiError(409, "employee_missing", f"案件 {workflow_id} 的员工 {current.employee_id} 已不在员工名册中 (employee {current.employee_id} of {workflow_id} is no longer registered)")
    facts = BirthFacts(birth_date=current.leave_start + dt.timedelta(days=15), leave_start=current.leave_start)
    try:
        policy = pin_maternity(employee.si_province, employee.si_city, facts, on=dt.date.today())
    except PolicyError as exc:
        raise refuse(exc.detail()) from None
    await handle.signal(maternity.MaternityLeaveWorkflow.repin_policy,
                        maternity.NewPolicy(actor=workflow_calls.actor(principal, request_id), reason=body.reason, policy=policy))
    return await workflow_calls.query(temporal, workflow_id, CASES.workflow.view)

# Transfer, add-sign and return on the application's approver route (``/return`` is her return to work).
add_task_actions(CASES, W.transfer_task, W.add_signer, W.return_to_step, at="/approval")
