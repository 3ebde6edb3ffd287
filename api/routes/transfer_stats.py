"""Transfer statistics for HR and compliance: volume per month, routes, processing time, rejections.

One read-only request, all figures over the same filter, each computed by PostgreSQL
(``db.transfer_stats``). Mount this router before the transfers router so ``/transfers/statistics``
is not taken for a workflow id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api import scope
from api.auth import Principal, require
from api.errors import ApiError, responses
from api.plausibility import PlausibleDate
from api.routes import resource_router
from api.transactions import transact
from db import transfer_stats as stats
from domain.roles import Role

router = resource_router(tags=["transfer statistics"])

Reader = Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER, Role.COMPLIANCE))]


class MonthCount(BaseModel):
    month: str
    transfers: int


class ProvinceCount(BaseModel):
    province: str
    transfers: int


class ProcessingDays(BaseModel):
    kind: str
    completed: int
    average_days: Decimal
    p90_days: Decimal


class ReasonCount(BaseModel):
    reason_code: str
    rejections: int


class TransferStatistics(BaseModel):
    period_from: dt.date | None
    period_to: dt.date | None
    department: str | None
    transfers: int
    per_month: list[MonthCount]
    by_origin: list[ProvinceCount]
    by_destination: list[ProvinceCount]
    processing_days: list[ProcessingDays]
    rejection_reasons: list[ReasonCount]


class TransferRow(BaseModel):
    workflow_id: str
    employee_id: str
    department: str
    origin_province: str
    destination_province: str
    stage: str
    created_at: dt.datetime
    completed_at: dt.datetime | None


class TransferList(BaseModel):
    total: int
    items: list[TransferRow]


Period = Annotated[PlausibleDate | None, Query(alias="from", description="first day, China time")]
PeriodEnd = Annotated[PlausibleDate | None, Query(alias="to", description="last day, inclusive")]
Department = Annotated[str | None, Query(min_length=1, max_length=100)]
Key = Annotated[str | None, Query(min_length=1, max_length=40)]


def _filter(period_from: dt.date | None, period_to: dt.date | None, department: str | None) -> stats.StatsFilter:
    if period_from and period_to and period_from > period_to:
        raise ApiError(422, "validation_failed", [{"field": "query.from", "rule": "period_order",
                                                   "message": f"开始日期 {period_from} 晚于结束日期 {period_to}"
                                                              f" (from {period_from} is after to {period_to})"}])
    return stats.StatsFilter(start=period_from, end=period_to, department=department)


@router.get("/transfers/statistics/cases", response_model=TransferList, responses=responses(401, 403, 422),
            summary="统计数字背后的转移案件 (The transfers behind a figure)")
async def transfers_behind(
    request: Request,
    principal: Reader,
    period_from: Period = None,
    period_to: PeriodEnd = None,
    department: Department = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, China time")] = None,
    origin: Key = None,
    destination: Key = None,
    rejection_reason: Key = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> TransferList:
    """统计图表中某一项背后的转移案件（某月提交的、某转出地或转入地的、因某原因被驳回过的），与统计用同一期间和部门，
    新的在前，最多 limit 件；total 是全部件数。调用者与统计相同。

    The transfers behind one figure of the statistics (filed in a month, from an origin or to a
    destination, rejected for a reason), over the same period and department, newest first, at most
    ``limit`` of them; ``total`` counts them all. The same callers as the statistics."""
    f = _filter(period_from, period_to, department)
    cut = stats.Slice(month=month, origin=origin, destination=destination, rejection_reason=rejection_reason)

    def work(session: Session) -> TransferList:
        total, rows = stats.cases(session, replace(f, people=scope.people(session, principal)), cut, limit)
        return TransferList(total=total, items=[TransferRow.model_validate(r, from_attributes=True) for r in rows])

    return await transact(request, work)


@router.get("/transfers/statistics", response_model=TransferStatistics, responses=responses(401, 403, 422),
            summary="跨省转移统计 (Transfer statistics)")
async def transfer_statistics(
    request: Request,
    principal: Reader,
    period_from: Period = None,
    period_to: PeriodEnd = None,
    department: Department = None,
) -> TransferStatistics:
    """某期间（含首尾两天，中国时间）、某部门提交的跨省转移的统计：每月数量、转出地和转入地、各险种办理天数（平均和 90
    分位）、驳回原因。人事专员、人事经理和合规可调用；from 晚于 to 或日期无效答 422。

    Figures for the transfers filed in the period (both days inclusive, China time) and department:
    the count per month, origins and destinations, days to complete per type (average and 90th
    percentile), rejection reasons. HR specialists, HR managers and compliance; ``from`` after ``to``
    or an invalid date is 422."""
    asked = _filter(period_from, period_to, department)

    def work(session: Session) -> TransferStatistics:
        f = replace(asked, people=scope.people(session, principal))  # a branch's staff count its people
        months = stats.per_month(session, f)
        return TransferStatistics(
            period_from=period_from, period_to=period_to, department=department,
            transfers=sum(m.count for m in months),
            per_month=[MonthCount(month=m.key, transfers=m.count) for m in months],
            by_origin=[ProvinceCount(province=c.key, transfers=c.count) for c in stats.by_origin(session, f)],
            by_destination=[ProvinceCount(province=c.key, transfers=c.count) for c in stats.by_destination(session, f)],
            processing_days=[ProcessingDays(kind=p.kind, completed=p.completed, average_days=p.average_days,
                                            p90_days=p.p90_days) for p in stats.processing_time(session, f)],
            rejection_reasons=[ReasonCount(reason_code=c.key, rejections=c.count)
                               for c in stats.rejection_reasons(session, f)])

    return await transact(request, work)
