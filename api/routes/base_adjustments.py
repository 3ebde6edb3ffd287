"""The annual base adjustment of a city: start it from the payroll's wages (CSV/XLSX), follow it,
approve or reject it as a whole, correct or exclude lines, revoke, withdraw; its lines and results.

The wage file is checked row by row before anything starts (an unknown employee, a wage that is
not an amount to the fen, a month count outside 1-12, a repeat): any problem and nothing is
written, 422 naming each row, column, field and rule. One open batch per city and month.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from api import scope, workflow_calls
from api.auth import Principal, require
from api.bodies import Body, Reason, ReasonIn
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.i18n import Text, language
from api.imports import (
    RowProblem,
    cell_value,
    columns_of,
    problem_at,
    said,
    template,
    uploaded_table,
    validation_problems,
)
from api.pagination import keyset_page, where_given
from api.plausibility import PlausibleMonth
from api.plausibility import today as today_in_china
from api.routes import resource_router
from api.spreadsheets import Row
from api.transactions import transact
from db import audit, case_ids
from db.models import BaseAdjustment, BaseAdjustmentLine, BaseAdjustmentWage, Case, Employee
from domain.base_adjustment import RULES
from domain.contracts.base_adjustment import LineCorrection
from domain.policy import PolicyError, pin_si_change
from domain.roles import Role
from domain.si_change import parse_month
from workflows import base_adjustment, si_change

W = base_adjustment.BaseAdjustmentWorkflow
router = resource_router(prefix="/base-adjustments", tags=["base adjustments"])

CASES = CaseRoutes(router, "", ids="base-adjustment-", what="base adjustment", kind=base_adjustment.KIND,
                   model=base_adjustment.BaseAdjustmentView, workflow=workflow_calls.CaseWorkflow(W.run, W.opened, W.view),
                   errors=responses(400, 401, 403, 404, 409, 422))

Maker = Annotated[Principal, Depends(require(Role.HR_SPECIALIST))]
Checker = Annotated[Principal, Depends(require(Role.HR_MANAGER))]
HrStaff = Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER))]
# Wages are pay: HR, finance (the cost) and compliance (the audit) read the lines, nobody else.
Reader = Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER, Role.FINANCE, Role.COMPLIANCE))]

COLUMNS: dict[str, tuple[str, ...]] = {
    "employee_id": ("员工编号", "工号", "employee number"),
    "average_wage": ("上年度月平均工资", "月平均工资", "月均工资", "average monthly wage"),
    "months_worked": ("上年度工作月数", "工作月数", "months worked"),
}
REQUIRED = ("employee_id", "average_wage")
TEMPLATE_ROW = {"employee_id": "E1001", "average_wage": "13560.25", "months_worked": "12"}

STATES: dict[str, tuple[str, str]] = {
    "pending": ("待申报", "to declare"), "unchanged": ("无需申报", "nothing to declare"),
    "exception": ("例外", "exception"), "excluded": ("已排除", "excluded"), "accepted": ("已受理", "accepted"),
    "refused": ("被退回", "refused"), "revoked": ("已撤销", "revoked"),
}


class WageRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    average_wage: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
    months_worked: Annotated[int, Field(ge=1, le=12)] | None = None


class Started(BaseModel):
    workflow_id: str | None = Field(description="None for a dry run")
    dry_run: bool
    rows: int
    problems: list[RowProblem]
    sha256: str
    view: base_adjustment.BaseAdjustmentView | None = None


class ApproveIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"confirm_total": "182340.60"}]})
    confirm_total: Annotated[Decimal, Field(decimal_places=2)] | None = Field(
        default=None, description="the batch's back-payment total you are confirming")


class LineIn(Body):
    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    base: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)] | None = None
    exclude: bool = False


class CorrectIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "reason": "工资表漏报年终奖，按更正后的月平均工资申报",
        "lines": [{"employee_id": "E1001", "base": "14200.00"}, {"employee_id": "E1002", "exclude": True}]}]})
    reason: Reason
    lines: list[LineIn] = Field(min_length=1, max_length=1000)


def correction(actor: Any, body: CorrectIn) -> base_adjustment.Correct:
    return base_adjustment.Correct(actor=actor, reason=body.reason, lines=[
        LineCorrection(employee_id=ln.employee_id, base=ln.base, exclude=ln.exclude) for ln in body.lines])


class LineRow(BaseModel):
    """One line as the table holds it."""

    model_config = ConfigDict(from_attributes=True)
    seq: int
    employee_id: str
    old_base: Decimal | None
    average_wage: Decimal | None
    new_base: Decimal | None
    outcome: str
    flags: list[str]
    state: str
    round: int
    page: int | None
    monthly_employee: Decimal
    monthly_employer: Decimal
    acceptance_no: str | None
    refusal_code: str | None
    refusal_reason: str | None
    back_pay_months: list[str]
    back_pay_employee: Decimal
    back_pay_employer: Decimal
    advanced_by: str | None
    note: str | None


class LineOut(LineRow):
    rule: str = Field(description="why the new base is what it is, in words")


class LinePage(BaseModel):
    items: list[LineOut]
    next_cursor: int | None


class BatchRow(BaseModel):
    workflow_id: str
    city: str
    effective_month: str
    maker: str
    created_at: dt.datetime
    stage: str
    status: str


def _rule(outcome: str) -> str:
    zh, en, _ = RULES.get(outcome, (outcome, outcome, ""))
    return f"{zh} ({en})"


def _check_rows(session: Session, rows: list[Row], columns: dict[str, str], city: str
                ) -> tuple[list[tuple[Row, WageRow]], list[dict[str, Any]]]:
    checked: list[tuple[Row, WageRow]] = []
    problems: list[dict[str, Any]] = []
    first: dict[str, int] = {}
    for row in rows:
        values = {f: cell_value(row.cells.get(name), amount=f == "average_wage") for f, name in columns.items()}
        try:
            body = WageRow.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            problems += validation_problems(row.number, columns, exc)
            continue
        if body.employee_id in first:
            problems.append(problem_at(row.number, columns["employee_id"], "employee_id", "duplicate_in_file",
                                       f"与第 {first[body.employee_id]} 行重复", f"the same as row {first[body.employee_id]}"))
            continue
        first[body.employee_id] = row.number
        checked.append((row, body))
    known = set(session.scalars(select(Employee.employee_id).where(
        Employee.employee_id.in_([b.employee_id for _, b in checked]))))
    for row, body in checked:
        if body.employee_id not in known:
            problems.append(problem_at(row.number, columns["employee_id"], "employee_id", "employee_exists",
                                       f"没有员工 {body.employee_id}", f"no employee {body.employee_id}"))
    return checked, problems


@router.post("", status_code=201, response_model=Started,
             responses={200: {"model": Started, "description": "a dry run's report"}, **responses(400, 401, 403, 409, 413, 422)},
             summary="发起年度缴费基数调整 (Start the annual base adjustment)")
async def start(
    file: UploadFile, request: Request, temporal: TemporalDep, request_id: RequestId, principal: Maker,
    response: Response,
    city: Annotated[str, Form(min_length=1, max_length=32, description="the city's code in the catalogue, e.g. Beijing")],
    effective_month: Annotated[PlausibleMonth, Form(description="the first month of the notice's new limits")],
    reason: Annotated[Reason, Form(description="the notice and why, e.g. 京人社发〔2026〕号通知")],
    dry_run: Annotated[bool, Query(description="只检查、不发起 (check only, start nothing)")] = False,
) -> Started:
    """人事专员发起一个城市的年度缴费基数调整：上传上年度工资（XLSX 或 CSV：员工编号、上年度月平均工资、可选的工作月数，见
    GET /base-adjustments/template.csv），按该城市在生效月的基数上下限（政策目录）为每名在保员工核定新基数，标出按下限、
    按上限、无需调整和例外（离职中、本年入职、无工资、不在本市参保）的行，测算每个险种每月的费用变化和补缴差额。逐行检查：
    员工须已登记、工资为大于 0 且最多两位小数的金额、工作月数 1 至 12、同一员工不重复；有任何问题一行也不写入，答 422 并列出
    行号、列名、字段和规则。dry_run=true 只检查（答 200）。同一城市同一生效月已有未结批次答 409；只负责某一组织单位的人事不能发起（403）。

    An HR specialist starts a city's annual base adjustment from last year's wages (XLSX or CSV:
    employee number, average monthly wage, optionally months worked; see the template). Each insured
    employee's new base is computed under the city's limits for the effective month, the clamped,
    unchanged and exceptional lines flagged, and the cost change per insurance and month and the
    back-payment estimated. Each row is checked (a registered employee, a positive amount to the fen,
    1-12 months, no repeats): any problem and nothing is written, 422 listing row, column, field and
    rule. ``dry_run=true`` only checks (200). An open batch for the city and month is 409; a member
    of staff placed in one unit may not start one (403)."""
    if scope.placed(principal):  # a city's batch is every employee of it, not one unit's people
        raise ApiError(403, "forbidden", f"年度基数调整覆盖全市员工，只有为全公司办理的人事可以发起；您负责组织单位 {principal.unit}"
                                         f" (a city's base adjustment covers everyone in it: only HR working for the whole"
                                         f" company may start one; you work for unit {principal.unit})")
    table, sha256 = await uploaded_table(file, request)
    lang = language(request)
    try:
        policy = pin_si_change(city, parse_month(effective_month, "effective_month"))
    except PolicyError as exc:
        raise ApiError(422, "validation_failed", [exc.detail()]) from None
    columns, problems = columns_of(table.header, COLUMNS, REQUIRED)
    settings = request.app.state.settings

    def work(session: Session) -> Started | str:
        checked, found = _check_rows(session, table.rows, columns, policy.city) if not problems else ([], [])
        found = problems + found
        found.sort(key=lambda i: (i["row"], i["field"]))
        if not checked and not found:
            found = [{"row": 1, "column": None, "field": "file", "rule": "no_rows",
                      "message": Text("文件中没有工资数据行", "the file holds no wage rows")}]
        if found and not dry_run:
            raise ApiError(422, "validation_failed", found)
        if dry_run:
            return Started(workflow_id=None, dry_run=True, rows=len(table.rows), problems=said(found, lang), sha256=sha256)
        open_batch = session.scalar(select(BaseAdjustment.workflow_id).join(Case, Case.workflow_id == BaseAdjustment.workflow_id)
                                    .where(BaseAdjustment.city == policy.city, BaseAdjustment.effective_month == effective_month,
                                           Case.status == "open", BaseAdjustment.workflow_id != case_ids.known(session, request_id)))
        if open_batch is not None:
            raise ApiError(409, "batch_open", f"{policy.city} {effective_month} 已有未结的基数调整批次 {open_batch}"
                                              f" ({policy.city} {effective_month} already has an open batch {open_batch})")
        workflow_id = case_ids.allocate(session, f"base-adjustment-{policy.city}-{effective_month}", request_id)
        if session.get(BaseAdjustment, workflow_id) is None:
            session.add(BaseAdjustment(workflow_id=workflow_id, city=policy.city, effective_month=effective_month,
                                       maker=principal.user, wage_file=(file.filename or "")[:200], wage_file_sha256=sha256,
                                       created_at=dt.datetime.now(dt.UTC)))
            session.flush()
            session.execute(insert(BaseAdjustmentWage), [
                {"batch_id": workflow_id, "employee_id": b.employee_id, "average_wage": b.average_wage,
                 "months_worked": b.months_worked, "row_number": row.number} for row, b in checked])
            audit.append(session, audit.AuditEntry(
                actor=principal.user, actor_role=principal.role.value, action="base_adjustment.wages_imported",
                workflow_id=workflow_id, request_id=request_id,
                after={"file": file.filename, "sha256": sha256, "rows": len(checked), "city": policy.city,
                       "effective_month": effective_month}))
        return workflow_id

    prepared = await transact(request, work)
    if isinstance(prepared, Started):
        response.status_code = 200
        return prepared
    req = base_adjustment.BaseAdjustmentRequest(
        city=policy.city, city_zh=policy.limits.city_zh, province=policy.limits.province, effective_month=effective_month,
        reason=reason, maker=workflow_calls.actor(principal, request_id), today=today_in_china(), policy=policy,
        rollback_window=dt.timedelta(hours=settings.rollback_window_hours),
        correction_window=dt.timedelta(days=settings.si_correction_days),
        page_size=settings.base_adjustment_page_size, pages_per_part=settings.base_adjustment_pages_per_part,
        parts_in_flight=settings.base_adjustment_parts_in_flight)
    view = await CASES.start(
        temporal, req, id=prepared, task_queue=settings.temporal_task_queue, request_id=request_id, closed="answer",
        employee_id=None, stage=base_adjustment.COMPUTING, province=policy.limits.province, department="",
        summary=f"{policy.limits.city_zh} {effective_month} 起缴费基数年度调整 (Annual base adjustment, {policy.city},"
                f" from {effective_month})",
        details=f"Started by {principal.user} from {file.filename} ({len(table.rows)} rows). Reason: {reason}")
    return Started(workflow_id=prepared, dry_run=False, rows=len(table.rows), problems=[], sha256=sha256, view=view)


@router.get("/template.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}, **responses(401, 403)},
            summary="工资导入模板 (The wage file template)")
async def wage_template(_: HrStaff) -> Response:
    """工资导入模板：中文列名和一行示例，UTF-8（带 BOM）。人事专员和人事经理可调用。

    The wage file template: the Chinese column names and one example row, UTF-8 with a byte-order
    mark. HR specialists and managers."""
    return template(COLUMNS, [TEMPLATE_ROW], "base-adjustment-wages.csv")


@router.get("", response_model=list[BatchRow], responses=responses(401, 403), summary="基数调整批次 (Batches)")
async def list_batches(request: Request, _: Reader,
                       city: Annotated[str | None, Query(max_length=32)] = None) -> list[BatchRow]:
    """基数调整批次，新的在前，可按城市筛选。人事、财务和合规可调用。

    The base adjustment batches, newest first, optionally of one city. HR, finance and compliance."""
    def work(session: Session) -> list[BatchRow]:
        stmt = select(BaseAdjustment, Case.stage, Case.status).join(Case, Case.workflow_id == BaseAdjustment.workflow_id)
        if city is not None:
            stmt = stmt.where(BaseAdjustment.city == city)
        rows = session.execute(stmt.order_by(BaseAdjustment.created_at.desc()).limit(200)).all()
        return [BatchRow(workflow_id=b.workflow_id, city=b.city, effective_month=b.effective_month, maker=b.maker,
                         created_at=b.created_at, stage=stage, status=status) for b, stage, status in rows]

    return await transact(request, work)


@router.get("/{workflow_id}", response_model=base_adjustment.BaseAdjustmentView, responses=responses(401, 403, 404),
            summary="查看基数调整批次 (Read a batch)")
async def read_batch(workflow_id: str, request: Request, temporal: TemporalDep,
                     principal: Reader) -> base_adjustment.BaseAdjustmentView:
    """批次的现状：阶段、各状态和核定结果的行数、每月费用变化、补缴差额、批准人、回退窗口、已申报的页和受理号。
    人事、财务和合规可调用。

    The batch as it stands: stage, lines by state and outcome, the monthly cost change, the
    back-payment, approver, rollback window, declared pages and their acceptance numbers. HR,
    finance and compliance."""
    return await CASES.read(request, temporal, principal, workflow_id)


def _lines(workflow_id: str, state: str | None, outcome: str | None) -> Select[BaseAdjustmentLine]:
    return where_given(select(BaseAdjustmentLine).where(BaseAdjustmentLine.batch_id == workflow_id),
                       (BaseAdjustmentLine.state, state), (BaseAdjustmentLine.outcome, outcome))


@router.get("/{workflow_id}/lines", response_model=LinePage, responses=responses(401, 403, 404),
            summary="批次的行 (A batch's lines)")
async def list_lines(
    workflow_id: str, request: Request, principal: Reader,
    state: Annotated[str | None, Query(description="pending, unchanged, exception, excluded, accepted, refused, revoked")] = None,
    outcome: Annotated[str | None, Query(max_length=30)] = None,
    cursor: Annotated[int | None, Query(ge=0, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LinePage:
    """批次的每一行：原基数、上年月平均工资、新基数、核定依据、状态、退回原因、补缴月份和金额，可按状态和核定结果筛选，
    分页。人事、财务和合规可调用。

    Each line of the batch: old base, last year's average wage, new base, the rule applied, state,
    the agency's refusal, back-paid months and amounts; by state and outcome, a page at a time. HR,
    finance and compliance."""
    await CASES.guard(request, principal, workflow_id)
    if state is not None and state not in STATES:
        raise ApiError(422, "validation_failed", [{"field": "state", "rule": "state_known",
                                                   "message": Text(f"没有状态“{state}”", f"no state '{state}'")}])

    def work(session: Session) -> LinePage:
        stmt = _lines(workflow_id, state, outcome)
        page, next_cursor = keyset_page(session, stmt, BaseAdjustmentLine.seq, cursor, limit, LineRow)
        return LinePage(items=[LineOut(**p.model_dump(), rule=_rule(p.outcome)) for p in page], next_cursor=next_cursor)

    return await transact(request, work)


RESULT_COLUMNS = ("序号 (No.)", "员工编号 (Employee)", "原基数 (Old base)", "上年月平均工资 (Average wage)",
                  "新基数 (New base)", "核定依据 (Rule)", "标记 (Flags)", "状态 (State)", "受理号 (Acceptance no.)",
                  "退回原因 (Refusal)", "补缴月份 (Back-paid months)", "个人补缴 (Employee back-pay)",
                  "单位补缴 (Employer back-pay)", "垫付案件 (Advanced by)", "更正说明 (Correction)")


@router.get("/{workflow_id}/results.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, **responses(401, 403, 404)},
            summary="批次结果 CSV (The batch's results as CSV)")
async def results_csv(workflow_id: str, request: Request, principal: Reader) -> Response:
    """批次每一行的结果，UTF-8（带 BOM，Excel 直接打开），列名中英文。人事、财务和合规可调用。

    Every line's result, UTF-8 with a byte-order mark (Excel opens it as is), with Chinese and
    English column names. HR, finance and compliance."""
    await CASES.guard(request, principal, workflow_id)

    def work(session: Session) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(RESULT_COLUMNS)
        for ln in session.scalars(_lines(workflow_id, None, None).order_by(BaseAdjustmentLine.seq)):
            zh, en = STATES.get(ln.state, (ln.state, ln.state))
            writer.writerow([ln.seq, ln.employee_id, ln.old_base or "", ln.average_wage or "", ln.new_base or "",
                             _rule(ln.outcome), " ".join(RULES[f][0] for f in ln.flags if f in RULES), f"{zh} ({en})",
                             ln.acceptance_no or "", ln.refusal_reason or "", " ".join(ln.back_pay_months),
                             ln.back_pay_employee, ln.back_pay_employer, ln.advanced_by or "", ln.note or ""])
        return out.getvalue()

    body = await transact(request, work)
    return Response(("\ufeff" + body).encode(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{workflow_id}-results.csv"})


CASES.message("/approve", W.approve, Checker, carrying(si_change.Approve), ApproveIn)
CASES.message("/reject", W.reject, Checker, carrying(si_change.Decide), ReasonIn)
CASES.message("/correct", W.correct, Maker, correction, CorrectIn)
CASES.message("/resubmit", W.resubmit, Maker, carrying(si_change.Decide), ReasonIn)
CASES.message("/finish", W.finish, HrStaff, carrying(si_change.Decide), ReasonIn)
CASES.message("/revoke", W.revoke, HrStaff, carrying(si_change.Decide), ReasonIn)
CASES.message("/withdraw", W.withdraw, HrStaff, carrying(si_change.Decide), ReasonIn)
