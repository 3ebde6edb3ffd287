"""The monthly risk and compliance report: list, JSON, CSV, an HTML page, and (re)computing a month.

Reading is for HR managers, compliance, finance and operators; computing (which replaces a month's
stored figures) for HR managers and operators. The figures are read from what the
``MonthlyReport`` workflow stored (``db.report``); nothing here computes a figure.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from api import report_page
from api.auth import REPORT_COOKIE, REPORT_PATH, Principal, decode_token, require
from api.deps import TemporalDep
from api.errors import ApiError, responses
from api.routes import resource_router
from api.transactions import transact
from db import report, report_members
from db.report import RunSummary
from domain.contracts.report import Alert
from domain.roles import Role
from workflows import search_attributes as sa
from workflows.monthly_report import MonthlyReportRequest, MonthlyReportWorkflow, workflow_id

router = resource_router(prefix="/reports/monthly", tags=["monthly report"])

READER_ROLES = (Role.HR_MANAGER, Role.COMPLIANCE, Role.FINANCE, Role.ADMIN)
Reader = Annotated[Principal, Depends(require(*READER_ROLES))]
Runner = Annotated[Principal, Depends(require(Role.HR_MANAGER, Role.ADMIN))]
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CHINA = dt.timezone(dt.timedelta(hours=8))
_READ_ERRORS = responses(401, 403, 404, 422)


class FigureOut(BaseModel):
    dimension: str
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    alert: bool


class ReportOut(BaseModel):
    month: str
    computed_at: dt.datetime
    thresholds: dict[str, Any]
    alerts: list[Alert]
    figures: dict[str, list[FigureOut]]


class MemberOut(BaseModel):
    employee_id: str | None
    workflow_id: str | None
    amount: Decimal | None
    outstanding: Decimal | None
    counted: bool
    facts: dict[str, str]


class FigureMembers(BaseModel):
    month: str
    metric: str
    label: str
    dimension: str
    listed: str  # "denominator": everyone the figure divides by, ``counted`` marking its numerator; "numerator"
    figure: FigureOut | None  # absent for ``all`` of a metric without a company row (the ageing buckets)
    total: int
    counted: int
    items: list[MemberOut]


class ComputeStarted(BaseModel):
    month: str
    workflow_id: str


@router.get("/login", status_code=303, response_class=RedirectResponse, responses=responses(401, 403, 422),
            summary="在浏览器中打开月报 (Open the report in a browser)")
def login(request: Request, token: str, month: str) -> RedirectResponse:
    """在普通浏览器里打开月报页面：`hrflow token --report-login MONTH` 打印此链接。
    查询参数中的令牌放入只对/reports/monthly/ 下 GET 请求有效的 httponly Cookie（8 小时），然后 303 转到该月的页面。
    人事经理、合规、财务和管理员可调用；令牌无效答 401，其他角色答 403，月份不是 YYYY-MM 答 422。

    Open a report page in a plain browser: ``hrflow token --report-login MONTH`` prints this link.
    The token in the query goes into an httponly cookie (8 hours) that only GET requests under
    /reports/monthly/ accept, then a 303 to the month's page. HR managers, compliance, finance and
    admins; an invalid token is 401, another role 403, a month not written YYYY-MM 422."""
    principal = decode_token(request.app.state.jwt_secret, token)
    if principal.role not in READER_ROLES:
        raise ApiError(403, "forbidden", f"角色 {principal.role.value} 不能查看月报 (role {principal.role.value} may not read the report)")
    response = RedirectResponse(f"{REPORT_PATH}{_month(month)}/page", status_code=303)
    response.set_cookie(REPORT_COOKIE, token, httponly=True, samesite="strict", max_age=8 * 3600,
                        path=REPORT_PATH.rstrip("/"), secure=request.url.scheme == "https")
    return response


def _month(month: str) -> str:
    if not _MONTH.match(month):
        raise ApiError(422, "validation_failed", [{"field": "path.month", "rule": "month_format",
                                                   "message": f"{month!r} is not a month written YYYY-MM"}])
    return month


def _stored(session: Session, month: str) -> report.StoredReport:
    found = report.load(session, _month(month))
    if found is None:
        raise ApiError(404, "not_found", f"{month} 的月报尚未生成 (no report stored for {month})")
    return found


@router.get("", response_model=list[RunSummary], responses=responses(401, 403),
            summary="已有月报的月份 (Months with a report)")
async def list_months(request: Request, _: Reader) -> list[RunSummary]:
    """每个已存月报的月份，新的在前，附其预警数。人事经理、合规、财务和管理员可调用。

    Every month with a stored report, newest first, with its number of alerts. HR managers,
    compliance, finance and admins."""
    def work(session: Session) -> list[RunSummary]:
        return report.runs(session)

    return await transact(request, work)


@router.get("/{month}", response_model=ReportOut, responses=_READ_ERRORS, summary="月报数据 (The month's report)")
async def read(month: str, request: Request, _: Reader) -> ReportOut:
    """该月的风险与合规指标（按指标分组）、预警，以及计算时用的阈值。人事经理、合规、财务和管理员可调用；该月没有月报答
    404，月份不是 YYYY-MM 答 422。

    The month's risk and compliance figures grouped by metric, its alerts, and the thresholds it was
    computed with. HR managers, compliance, finance and admins; no report for the month is 404, a
    month not written YYYY-MM 422."""
    def work(session: Session) -> ReportOut:
        stored = _stored(session, month)
        grouped: dict[str, list[FigureOut]] = {}
        for f in stored.figures:
            grouped.setdefault(f.metric, []).append(FigureOut(dimension=f.dimension, value=f.value, numerator=f.numerator,
                                                              denominator=f.denominator, alert=f.alert))
        return ReportOut(month=stored.month, computed_at=stored.computed_at, thresholds=stored.thresholds,
                         alerts=stored.alerts, figures=grouped)

    return await transact(request, work)


def _cell(value: Any) -> str:
    """A CSV cell Excel will not run: text starting like a formula gets a leading apostrophe."""
    if value is None:
        return ""
    text = f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)
    if not isinstance(value, Decimal) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


@dataclass(frozen=True)
class _Behind:
    stored: report.StoredReport
    listing: report_members.Listing
    total: int
    counted: int
    members: list[report_members.Member]


def _behind(session: Session, month: str, metric: str, dimension: str, limit: int) -> _Behind:
    """The stored members of one figure; 422 for an unknown metric, 404 for no such figure."""
    listing = report_members.LISTINGS.get(metric)
    if listing is None:
        known = "、".join(report_members.LISTINGS)
        raise ApiError(422, "validation_failed", [{"field": "query.metric", "rule": "known_metric",
                                                   "message": f"没有指标 {metric!r}，可选：{known} (no metric {metric!r})"}])
    stored = _stored(session, month)
    metrics = {f.metric for f in stored.figures}
    if metric not in metrics or (dimension != report.ALL and not any(
            f.metric == metric and f.dimension == dimension for f in stored.figures)):
        raise ApiError(404, "not_found", f"{month} 的月报没有 {metric} / {dimension} 这个数字"
                                         f" (the {month} report has no figure {metric} / {dimension})")
    total, counted, found = report_members.load(session, stored.month, metric, dimension, limit)
    return _Behind(stored, listing, total, counted, found)


Metric = Annotated[str, Query(min_length=1, max_length=40, description="指标名，如 undeducted_rate (the metric)")]
Dimension = Annotated[str, Query(min_length=1, max_length=100, description="部门、岗位、账龄段等，all 为全部 (the dimension)")]
Limit = Annotated[int, Query(ge=1, le=1000, description="最多列出几条 (at most this many)")]


@router.get("/{month}/members", response_model=FigureMembers, responses=_READ_ERRORS,
            summary="月报数字背后的人和案件 (The people and cases behind a figure)")
async def members(month: str, request: Request, _: Reader, metric: Metric, dimension: Dimension = report.ALL,
                  limit: Limit = 200) -> FigureMembers:
    """该月某个指标在某一维度（部门、岗位、账龄段、城市、险种、原因；all 为全部）上计入的员工、案件和应收款，
    即计算时存下的那一份，而不是今天的状态：数字和名单永远对得上。listed 为 denominator 时列出分母中的每个人，
    counted 标出计入分子的；为 numerator 时只列计入的。计入的在前，最多 limit 条；total 和 counted 是全部条数。
    调用者与月报相同；该月没有月报或没有这个数字答 404，指标未知答 422。

    The employees, cases and receivables one figure of the month was counted from (dimension: a
    department, position, ageing bucket, city, insurance or reason; ``all`` for every one), as stored
    when the month was computed, not as they stand today, so the list always matches the figure.
    ``listed`` is ``denominator`` when everyone the figure divides by is listed (``counted`` marks
    the numerator), ``numerator`` when only those counted are. Counted first, at most ``limit``;
    ``total`` and ``counted`` count them all. The report's readers; no report or no such figure for
    the month is 404, an unknown metric 422."""
    def work(session: Session) -> FigureMembers:
        b = _behind(session, month, metric, dimension, limit)
        figure = next((f for f in b.stored.figures if f.metric == metric and f.dimension == dimension), None)
        return FigureMembers(
            month=b.stored.month, metric=metric, label=report_page.METRICS.get(metric, (metric, "", ""))[0],
            dimension=dimension, listed=b.listing.lists, total=b.total, counted=b.counted,
            figure=None if figure is None else FigureOut(dimension=figure.dimension, value=figure.value,
                                                         numerator=figure.numerator,
                                                         denominator=figure.denominator, alert=figure.alert),
            items=[MemberOut(**m.model_dump(exclude={"metric", "dimension"})) for m in b.members])

    return await transact(request, work)


@router.get("/{month}/members.html", response_class=Response,
            responses={200: {"content": {"text/html": {}}, "description": "the members page"}, **_READ_ERRORS},
            summary="月报数字明细网页 (The people and cases behind a figure, as a page)")
async def members_page(month: str, request: Request, _: Reader, metric: Metric, dimension: Dimension = report.ALL,
                       limit: Limit = 500) -> HTMLResponse:
    """同 /members，给浏览器看的页面：月报页面上每个分子都链接到这里；每个案件链接到网页应用中的案件页。
    页面自成一体，不从任何地方加载内容。调用者和答复与 /members 相同。

    As /members, as a page for a browser: every numerator on the report page links here, and each
    case to its page in the web app. Self-contained, loading nothing. The callers and answers of
    /members."""
    def work(session: Session) -> _Behind:
        return _behind(session, month, metric, dimension, limit)

    b = await transact(request, work)
    html = await anyio.to_thread.run_sync(lambda: report_page.render_members(
        b.stored, metric, dimension, b.listing.lists, b.total, b.counted, b.members))
    return HTMLResponse(html, headers={"Content-Security-Policy": report_page.CSP, "Cache-Control": "no-store",
                                       "X-Content-Type-Options": "nosniff"})


# response_class=Response keeps the error responses documented as JSON (they are); 200 says its type.
@router.get("/{month}/figures.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the figures as CSV"}, **_READ_ERRORS},
            summary="月报指标 CSV (The figures as CSV)")
async def figures_csv(month: str, request: Request, _: Reader) -> Response:
    """该月的每个指标一行，以附件下载；UTF-8 带 BOM，Excel 能正确显示中文，以公式开头的文字前加撇号以免被执行。
    人事经理、合规、财务和管理员可调用；该月没有月报答 404。

    Every figure of the month, one per row, as an attachment; UTF-8 with a byte-order mark so Excel
    reads Chinese, and text that starts like a formula gets an apostrophe so Excel does not run it.
    HR managers, compliance, finance and admins; no report for the month is 404."""
    def work(session: Session) -> Response:
        stored = _stored(session, month)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["month", "metric", "dimension", "value", "numerator", "denominator", "alert"])
        for f in stored.figures:
            writer.writerow([stored.month, f.metric, _cell(f.dimension), _cell(f.value), _cell(f.numerator),
                             _cell(f.denominator), "true" if f.alert else "false"])
        return Response(("\ufeff" + out.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="report-{stored.month}.csv"'})

    return await transact(request, work)


@router.get("/{month}/page", response_class=Response,
            responses={200: {"content": {"text/html": {}}, "description": "the report page"}, **_READ_ERRORS},
            summary="月报网页 (The report page)")
async def page(month: str, request: Request, temporal: TemporalDep, principal: Reader) -> HTMLResponse:
    """给浏览器看的月报：预警、最近 12 个已存月份的趋势线、该月的柱状图和全部指标。页面自成一体，不从任何地方加载内容。
    人事经理、合规、财务和管理员可调用（浏览器可用 /reports/monthly/login 设置的 Cookie）；该月没有月报答 404。

    The report for a browser: alerts, trend lines over the last 12 stored months, bars for the
    month, and the figures. Self-contained: it loads nothing from anywhere. HR managers, compliance,
    finance and admins (a browser may use the cookie /reports/monthly/login sets); no report for the
    month is 404."""
    def work(session: Session) -> tuple[report.StoredReport, Any]:
        stored = _stored(session, month)
        return stored, report.trend(session, stored.month)

    try:
        stored, trend = await transact(request, work)
    except ApiError as absent:
        if absent.status_code != 404:
            raise
        try:  # the first reader of a month without a report has it computed, not a bare 404
            await _start_compute(request, temporal, month, principal)
        except ApiError as err:
            if err.error != "report_running":
                raise absent from None
        return HTMLResponse(_COMPUTING.format(month=_month(month)), status_code=202,
                            headers={"Retry-After": "5", "Cache-Control": "no-store"})
    html = await anyio.to_thread.run_sync(report_page.render, stored, trend)
    return HTMLResponse(html, headers={"Content-Security-Policy": report_page.CSP, "Cache-Control": "no-store",
                                       "X-Content-Type-Options": "nosniff"})


@router.post("/{month}/compute", status_code=202, response_model=ComputeStarted,
             responses=responses(401, 403, 409, 422, 503), summary="计算或重算月报 (Compute or recompute a month)")
async def compute(month: str, request: Request, temporal: TemporalDep, principal: Runner) -> ComputeStarted:
    """启动 MonthlyReport 工作流（monthly-report-{month}）计算该月，完成后替换已存的数字，立即答 202。
    仅人事经理和管理员可调用；同月的计算仍在进行答 409，月份尚未开始或不是 YYYY-MM 答 422。

    (Re)compute the month: starts ``MonthlyReport`` as ``monthly-report-{month}`` and answers 202 at
    once; the stored figures are replaced when it finishes. HR managers and admins only; a run of the
    same month still going is 409, a month not yet begun or not written YYYY-MM 422."""
    return ComputeStarted(month=month, workflow_id=await _start_compute(request, temporal, month, principal))


async def _start_compute(request: Request, temporal: Any, month: str, principal: Principal) -> str:
    """Start the month's ``MonthlyReport`` run; 422 for a month not begun, 409 while one runs."""
    _month(month)
    this_month = f"{dt.datetime.now(CHINA):%Y-%m}"
    if month > this_month:
        raise ApiError(422, "validation_failed", [{"field": "path.month", "rule": "month_not_future",
                                                   "message": f"{month} has not begun (this month is {this_month})"}])
    wid = workflow_id(month)
    try:
        await temporal.start_workflow(
            MonthlyReportWorkflow.run, MonthlyReportRequest(month=month), id=wid,
            task_queue=request.app.state.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,  # a finished month may be recomputed
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.CASE_KIND, "monthly_report")]),
            static_summary=f"Monthly risk and compliance report {month}",
            static_details=f"requested by {principal.user} ({principal.role.value})")
    except WorkflowAlreadyStartedError:
        raise ApiError(409, "report_running", f"{month} 的月报正在生成中（{wid}） (the {month} report is already being computed ({wid}))") from None
    return wid


_COMPUTING = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>{month} 月报生成中 · hrflow</title></head><body>
<p>{month} 的月报尚未生成，已开始计算，本页每 5 秒自动刷新。</p>
<p lang="en">The {month} report was not computed yet; it is being computed now and this page reloads every 5 seconds.</p>
</body></html>"""
