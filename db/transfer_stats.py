"""Transfer statistics, each figure one SQL query: the database aggregates, Python only shapes rows.

Every figure takes the same ``StatsFilter``: a period of China-time calendar days on
``transfers.created_at`` (both ends inclusive) and a department (as recorded on the transfer when it
was filed, so a later move between departments does not rewrite history). Durations are exact
``Decimal`` days rounded half up to one decimal by PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVarTuple

from sqlalchemy import Numeric, Select, cast, extract, func, literal, literal_column, select
from sqlalchemy.orm import QueryableAttribute, Session

from db.models import Transfer, TransferBranch, TransferReview

CHINA = dt.timezone(dt.timedelta(hours=8))
_SECONDS_PER_DAY = 86400
_Row = TypeVarTuple("_Row")


@dataclass(frozen=True)
class StatsFilter:
    start: dt.date | None = None  # first day counted, China time
    end: dt.date | None = None  # last day counted, China time
    department: str | None = None
    people: Select[Any] | None = None  # the employee numbers counted (a branch's staff: its people); None: all


@dataclass(frozen=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True)
class ProcessingTime:
    kind: str
    completed: int
    average_days: Decimal
    p90_days: Decimal


def filtered(stmt: Select[*_Row], f: StatsFilter) -> Select[*_Row]:
    """Bounds as instants at China midnight, so the index on created_at serves the range."""
    if f.start is not None:
        stmt = stmt.where(Transfer.created_at >= dt.datetime.combine(f.start, dt.time(), tzinfo=CHINA))
    if f.end is not None:
        stmt = stmt.where(Transfer.created_at < dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time(),
                                                                    tzinfo=CHINA))
    if f.department is not None:
        stmt = stmt.where(Transfer.department == f.department)
    if f.people is not None:
        stmt = stmt.where(Transfer.employee_id.in_(f.people))
    return stmt


def per_month(session: Session, f: StatsFilter) -> list[Count]:
    """Transfers filed per China-time month, ``YYYY-MM``, oldest first (months without any omitted)."""
    # constants inlined, not bound: GROUP BY must repeat the select expression exactly
    local = func.timezone(literal_column("'Asia/Shanghai'"), Transfer.created_at)
    month = func.to_char(func.date_trunc(literal_column("'month'"), local), literal_column("'YYYY-MM'")).label("month")
    stmt = filtered(select(month, func.count().label("n")).select_from(Transfer), f).group_by(month).order_by(month)
    return [Count(r.month, r.n) for r in session.execute(stmt)]


def _by(session: Session, f: StatsFilter, column: QueryableAttribute[str]) -> list[Count]:
    n = func.count().label("n")
    stmt = filtered(select(column.label("key"), n).select_from(Transfer), f).group_by(column).order_by(
        n.desc(), column)
    return [Count(r.key, r.n) for r in session.execute(stmt)]


def by_origin(session: Session, f: StatsFilter) -> list[Count]:
    """Transfers per origin province, most first."""
    return _by(session, f, Transfer.origin_province)


def by_destination(session: Session, f: StatsFilter) -> list[Count]:
    """Transfers per destination province, most first."""
    return _by(session, f, Transfer.destination_province)


def processing_time(session: Session, f: StatsFilter) -> list[ProcessingTime]:
    """Per insurance type, over completed branches: mean and 90th percentile (interpolated) in days.

    Percentiles are taken over whole seconds (exact in double precision) and only then divided
    into days as numeric, so no float noise reaches the rounding.
    """
    seconds = extract("epoch", TransferBranch.completed_at - TransferBranch.started_at)
    days = literal(_SECONDS_PER_DAY, Numeric)
    average = func.round(func.avg(seconds) / days, 1).label("average_days")
    p90 = func.round(cast(func.percentile_cont(0.9).within_group(seconds), Numeric) / days, 1).label("p90_days")
    # The period's branches by their transfers' ids (the unique index on workflow_id): joined, the
    # planner hash-joins over every branch ever filed, whatever the period (bench/growth.py).
    period = filtered(select(Transfer.workflow_id), f).scalar_subquery()
    stmt = (select(TransferBranch.kind, func.count().label("completed"), average, p90)
            .where(TransferBranch.status == "completed", TransferBranch.started_at.is_not(None),
                   TransferBranch.completed_at.is_not(None),
                   TransferBranch.workflow_id == func.any(func.array(period)))
            .group_by(TransferBranch.kind).order_by(TransferBranch.kind))
    return [ProcessingTime(r.kind, r.completed, r.average_days, r.p90_days) for r in session.execute(stmt)]


def rejection_reasons(session: Session, f: StatsFilter) -> list[Count]:
    """HR rejections per reason code (``unspecified`` when none was given), most first."""
    reason = func.coalesce(TransferReview.reason_code, literal_column("'unspecified'"))
    n = func.count().label("n")
    stmt = (select(reason.label("key"), n)
            .join(Transfer, Transfer.workflow_id == TransferReview.workflow_id)
            .where(TransferReview.decision == "rejected")
            .group_by(reason).order_by(n.desc(), reason))
    return [Count(r.key, r.n) for r in session.execute(filtered(stmt, f))]


@dataclass(frozen=True)
class Slice:
    """One bar of a figure, to list the transfers behind it: a month, a route end, a rejection reason."""

    month: str | None = None  # YYYY-MM, China time
    origin: str | None = None
    destination: str | None = None
    rejection_reason: str | None = None  # ``unspecified`` for a rejection given without a code


def cases(session: Session, f: StatsFilter, s: Slice, limit: int) -> tuple[int, list[Transfer]]:
    """The transfers counted in one figure's bar, newest first: how many in all, and the first ``limit``."""
    stmt = filtered(select(Transfer), f)
    if s.month is not None:
        local = func.timezone(literal_column("'Asia/Shanghai'"), Transfer.created_at)
        stmt = stmt.where(func.to_char(local, literal_column("'YYYY-MM'")) == s.month)
    if s.origin is not None:
        stmt = stmt.where(Transfer.origin_province == s.origin)
    if s.destination is not None:
        stmt = stmt.where(Transfer.destination_province == s.destination)
    if s.rejection_reason is not None:
        reason = func.coalesce(TransferReview.reason_code, literal_column("'unspecified'"))
        rejected = select(TransferReview.workflow_id).where(TransferReview.decision == "rejected",
                                                            reason == s.rejection_reason)
        stmt = stmt.where(Transfer.workflow_id.in_(rejected))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(Transfer.created_at.desc(), Transfer.workflow_id).limit(limit)))
    return total, rows
