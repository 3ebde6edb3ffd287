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
from decimal import Decimal
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request
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
from db import report
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


class ComputeStarted(BaseModel):
    month: str
    workflow_id: str


@router.get("/login", status_code=303, response_class=RedirectResponse, responses=responses(401, 403, 422))
def login(request: Request, token: str, month: str) -> RedirectResponse:
    """Open a report page in a plain browser: ``hrflow token --report-login MONTH`` prints this link.
    The token goes into a cookie that only GET requests under /reports/monthly/ accept."""
    principal = decode_token(request.app.state.jwt_secret, token)
    if principal.role not in READER_ROLES:
        raise ApiError(403, "forbidden", f"role {principal.role.value} may not read the report")
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
        raise ApiError(404, "not_found", f"no report stored for {month}")
    return found


@router.get("", response_model=list[RunSummary], responses=responses(401, 403))
async def list_months(request: Request, _: Reader) -> list[RunSummary]:
    """Every month with a stored report, newest first, with its number of alerts."""
    def work(session: Session) -> list[RunSummary]:
        return report.runs(session)

    return await transact(request, work)


@router.get("/{month}", response_model=ReportOut, responses=_READ_ERRORS)
async def read(month: str, request: Request, _: Reader) -> ReportOut:
    """The month's figures grouped by metric, its alerts, and the thresholds it was computed with."""
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


# response_class=Response keeps the error responses documented as JSON (they are); 200 says its type.
@router.get("/{month}/figures.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the figures as CSV"}, **_READ_ERRORS})
async def figures_csv(month: str, request: Request, _: Reader) -> Response:
    """Every figure of the month, one per row; UTF-8 with a byte-order mark so Excel reads Chinese."""
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
            responses={200: {"content": {"text/html": {}}, "description": "the report page"}, **_READ_ERRORS})
async def page(month: str, request: Request, _: Reader) -> HTMLResponse:
    """The report for a browser: alerts, trend lines over the last 12 stored months, bars for the
    month, and the figures. Self-contained: it loads nothing from anywhere. The charts are drawn in
    a thread after the connection is returned."""
    def work(session: Session) -> tuple[report.StoredReport, Any]:
        stored = _stored(session, month)
        return stored, report.trend(session, stored.month)

    stored, trend = await transact(request, work)
    html = await anyio.to_thread.run_sync(report_page.render, stored, trend)
    return HTMLResponse(html, headers={"Content-Security-Policy": report_page.CSP, "Cache-Control": "no-store",
                                       "X-Content-Type-Options": "nosniff"})


@router.post("/{month}/compute", status_code=202, response_model=ComputeStarted,
             responses=responses(401, 403, 409, 422, 503))
async def compute(month: str, request: Request, temporal: TemporalDep, principal: Runner) -> ComputeStarted:
    """(Re)compute the month: starts ``MonthlyReport`` as ``monthly-report-{month}``; a run of the
    same month still going is 409. The stored figures are replaced when it finishes."""
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
        raise ApiError(409, "report_running", f"the {month} report is already being computed ({wid})") from None
    return ComputeStarted(month=month, workflow_id=wid)
