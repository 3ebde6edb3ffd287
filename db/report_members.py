"""Who is behind each monthly report figure: the people, cases and receivables it was counted from.

A figure without its members asks a reader to trust it; an auditor, or the HR director who sees
"销售部 100%", wants the names. Each metric here lists the rows its figure in ``db.report`` counts,
with the same joins and the same bounds, and the report's activity stores them in the transaction
that stores the figures: the list a reader opens is the one the figure was counted from, even after a
receivable is deducted the next morning. ``tests/reports/test_members.py`` checks, figure by figure,
that the members add up to the stored numbers.

What a metric lists (``LISTINGS``): its denominator, with each member marked ``counted`` or not (the
mothers who returned, of whom some left), or only its numerator when the denominator is everyone
on the books (company attrition, bases outside the band).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    CTE,
    Date,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    extract,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from db import report, transfer_stats
from db.models import (
    ApprovalTask,
    AuditEvent,
    Case,
    Employee,
    EmployeeRecord,
    Receivable,
    ReportMember,
    Transfer,
    TransferBranch,
    TransferReview,
)
from db.report import ALL, DEPARTED, RETURNED, Period, ReportInputs

# columns every member query selects; any other column it selects becomes one of the member's facts
_FIXED = ("dimension", "employee_id", "workflow_id", "amount", "outstanding", "counted")


class Member(BaseModel):
    model_config = ConfigDict(frozen=True)
    metric: str
    dimension: str
    employee_id: str | None
    workflow_id: str | None
    amount: Decimal | None
    outstanding: Decimal | None
    counted: bool
    facts: dict[str, str]


@dataclass(frozen=True)
class Listing:
    """How a metric's members make its figure: ``lists`` is ``denominator`` when every member of the
    denominator is listed (``counted`` marks the numerator's), ``numerator`` when only those counted
    are. ``sums`` is ``outstanding/amount`` when the figure adds yuan, ``count`` when it counts
    members. ``of`` names the metric whose members a metric shares (the processing days of the
    completed transfers)."""

    lists: str
    sums: str = "count"
    of: str | None = None


def _departure_cases() -> CTE:
    """Each leaver's latest separation certificate with its case: the same end date as
    ``report.departure_dates`` (the latest), and the offboarding that issued it."""
    end_date = cast(AuditEvent.after["end_date"].astext, Date)
    return (select(AuditEvent.subject.label("employee_id"), end_date.label("end_date"),
                   AuditEvent.workflow_id.label("workflow_id"))
            .where(AuditEvent.action == DEPARTED, AuditEvent.subject.is_not(None))
            .ext(distinct_on(AuditEvent.subject)).order_by(AuditEvent.subject, end_date.desc(), AuditEvent.id.desc())
            .cte("departure_cases"))


def _rows(session: Session, metric: str, stmt: Select[Any]) -> list[Member]:
    out = []
    for row in session.execute(stmt).mappings():
        facts = {k: (f"{v.normalize():f}" if isinstance(v, Decimal) else str(v))
                 for k, v in row.items() if k not in _FIXED and v is not None}
        out.append(Member(metric=metric, dimension=row["dimension"], employee_id=row["employee_id"],
                          workflow_id=row["workflow_id"], amount=row.get("amount"), outstanding=row.get("outstanding"),
                          counted=bool(row["counted"]), facts=facts))
    return out


def _none(name: str) -> Any:
    return null().label(name)


# ---------------------------------------------------------------- attrition
def company_attrition(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    """The leavers of the 12 months (the numerator; the denominator is the whole headcount)."""
    d = _departure_cases()
    stmt = (select(literal(ALL, String).label("dimension"), d.c.employee_id, d.c.workflow_id, _none("amount"),
                   _none("outstanding"), true().label("counted"), d.c.end_date.label("left_on"))
            .where(d.c.end_date.between(p.window_start, p.end)).order_by(d.c.end_date, d.c.employee_id))
    return _rows(session, "company_attrition", stmt)


def maternity_return_attrition(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    """The mothers whose return was confirmed in the 12 months, each with her maternity case;
    counted: she left within 365 days of it, by the month's end."""
    returned_on = report.returned_on()
    returns = (select(AuditEvent.subject.label("employee_id"), returned_on.label("returned_on"),
                      AuditEvent.workflow_id.label("workflow_id"))
               .where(AuditEvent.action == RETURNED, AuditEvent.subject.is_not(None),
                      returned_on.between(p.window_start, p.end))
               .ext(distinct_on(AuditEvent.subject)).order_by(AuditEvent.subject, returned_on.desc(), AuditEvent.id.desc())
               .cte("returns"))
    d = _departure_cases()
    end = d.c.end_date
    left = func.coalesce(and_(end >= returns.c.returned_on, end - returns.c.returned_on <= 365, end <= p.end), False)
    stmt = (select(Employee.department.label("dimension"), returns.c.employee_id, returns.c.workflow_id,
                   _none("amount"), _none("outstanding"), left.label("counted"), returns.c.returned_on,
                   end.label("left_on"))
            .select_from(returns)
            .join(Employee, Employee.employee_id == returns.c.employee_id)
            .outerjoin(d, d.c.employee_id == returns.c.employee_id)
            .order_by(Employee.department, returns.c.returned_on, returns.c.employee_id))
    return _rows(session, "maternity_return_attrition", stmt)


# ---------------------------------------------------------------- money
def undeducted_rate(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    """The maternity advances due for recovery before the month began; counted: still open."""
    departures = report.departure_dates()
    returned = exists().where(AuditEvent.action == RETURNED, AuditEvent.workflow_id == Receivable.workflow_id,
                              report.returned_on() < p.start)
    outstanding = case((Receivable.status == "open", Receivable.amount - Receivable.settled), else_=0)
    stmt = (select(Employee.department.label("dimension"), Receivable.employee_id, Receivable.workflow_id,
                   Receivable.amount, outstanding.label("outstanding"), (outstanding > 0).label("counted"),
                   Receivable.month)
            .select_from(Receivable)
            .join(Employee, Employee.employee_id == Receivable.employee_id)
            .outerjoin(departures, departures.c.employee_id == Receivable.employee_id)
            .where(Receivable.kind == report.ADVANCE, Receivable.status != "reversed",
                   or_(returned, departures.c.end_date < p.start))
            .order_by(Employee.department, Receivable.employee_id, Receivable.month))
    return _rows(session, "undeducted_rate", stmt)


def departed_unsettled_share(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    """The leavers of the 12 months by position, each with her offboarding; counted: she still owes
    or is owed money (an open receivable, or an open loan or advance with an amount)."""
    d = _departure_cases()
    owes = or_(
        exists().where(Receivable.employee_id == Employee.employee_id, Receivable.status == "open",
                       Receivable.amount > Receivable.settled),
        exists().where(EmployeeRecord.employee_id == Employee.employee_id, EmployeeRecord.status == "open",
                       EmployeeRecord.kind.in_(("loan", "advance")), EmployeeRecord.amount > 0))
    stmt = (select(Employee.position.label("dimension"), Employee.employee_id, d.c.workflow_id, _none("amount"),
                   _none("outstanding"), owes.label("counted"), d.c.end_date.label("left_on"))
            .join(d, d.c.employee_id == Employee.employee_id)
            .where(d.c.end_date.between(p.window_start, p.end))
            .order_by(Employee.position, d.c.end_date, Employee.employee_id))
    return _rows(session, "departed_unsettled_share", stmt)


def receivable_ageing(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    """The open receivables in their ageing bucket, with the yuan still open."""
    booked_on = cast(func.timezone(literal_column("'Asia/Shanghai'"), Receivable.booked_at), Date)
    age = literal(p.end, Date) - booked_on
    bucket = case(*[((age <= high) if high is not None else true(), literal(label, String))
                    for label, _low, high in report.AGE_BUCKETS])
    stmt = (select(bucket.label("dimension"), Receivable.employee_id, Receivable.workflow_id, Receivable.amount,
                   (Receivable.amount - Receivable.settled).label("outstanding"), true().label("counted"),
                   Receivable.kind, Receivable.month, booked_on.label("booked_on"),
                   cast(age, Integer).label("age_days"))
            .where(Receivable.status == "open", Receivable.amount > Receivable.settled,
                   Receivable.booked_at < p.end_instant, age >= 0)
            .order_by(age.desc(), Receivable.employee_id, Receivable.id))
    return _rows(session, "receivable_ageing", stmt)


# ---------------------------------------------------------------- contribution bases and advances
def base_outside_band(session: Session, p: Period, inputs: ReportInputs) -> list[Member]:
    """The employees on the books whose base is outside the band (the numerator only)."""
    t, departures, wages = inputs.thresholds, report.departure_dates(), report.wages_table(inputs)
    base = Employee.contribution_base
    stmt = (select(Employee.department.label("dimension"), Employee.employee_id, _none("workflow_id"),
                   _none("amount"), _none("outstanding"), true().label("counted"), Employee.si_city.label("city"),
                   base.label("base"), wages.c.average_wage)
            .select_from(Employee)
            .outerjoin(departures, departures.c.employee_id == Employee.employee_id)
            .join(wages, wages.c.city == Employee.si_city)
            .where(report.on_books(p, departures),
                   or_(base < literal(t.base_low_share, Numeric) * wages.c.average_wage,
                       base > literal(t.base_high_share, Numeric) * wages.c.average_wage))
            .order_by(Employee.department, Employee.employee_id))
    return _rows(session, "base_outside_band", stmt)


def base_unknown_city(session: Session, p: Period, inputs: ReportInputs) -> list[Member]:
    """The employees on the books whose city has no average wage in the catalogue."""
    departures, wages = report.departure_dates(), report.wages_table(inputs)
    stmt = (select(Employee.si_city.label("dimension"), Employee.employee_id, _none("workflow_id"), _none("amount"),
                   _none("outstanding"), true().label("counted"))
            .select_from(Employee)
            .outerjoin(departures, departures.c.employee_id == Employee.employee_id)
            .outerjoin(wages, wages.c.city == Employee.si_city)
            .where(report.on_books(p, departures), wages.c.city.is_(None))
            .order_by(Employee.si_city, Employee.employee_id))
    return _rows(session, "base_unknown_city", stmt)


def deduction_mismatch(session: Session, p: Period, inputs: ReportInputs) -> list[Member]:
    """The month's advances that could be checked; counted: the amount differs from base x rate."""
    expected = report.expected_table(inputs)
    stmt = (select(Employee.department.label("dimension"), Receivable.employee_id, Receivable.workflow_id,
                   Receivable.amount, _none("outstanding"), (Receivable.amount != expected.c.amount).label("counted"),
                   expected.c.amount.label("expected"), Employee.contribution_base.label("base"))
            .select_from(Receivable)
            .join(Employee, Employee.employee_id == Receivable.employee_id)
            .join(expected, expected.c.employee_id == Receivable.employee_id)
            .where(*report.advances_of_month(p))
            .order_by(Employee.department, Receivable.employee_id))
    return _rows(session, "deduction_mismatch", stmt)


def deduction_unknown_rate(session: Session, p: Period, inputs: ReportInputs) -> list[Member]:
    """The month's advances that could not be checked: no personal rates for the city."""
    expected = report.expected_table(inputs)
    stmt = (select(Employee.si_city.label("dimension"), Receivable.employee_id, Receivable.workflow_id,
                   Receivable.amount, _none("outstanding"), true().label("counted"))
            .select_from(Receivable)
            .join(Employee, Employee.employee_id == Receivable.employee_id)
            .outerjoin(expected, expected.c.employee_id == Receivable.employee_id)
            .where(*report.advances_of_month(p), expected.c.employee_id.is_(None))
            .order_by(Employee.si_city, Receivable.employee_id))
    return _rows(session, "deduction_unknown_rate", stmt)


# ---------------------------------------------------------------- transfers filed in the month
def _month_filter(p: Period) -> transfer_stats.StatsFilter:
    return transfer_stats.StatsFilter(start=p.start, end=p.end)


def transfers_filed(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    stmt = transfer_stats.filtered(
        select(literal(ALL, String).label("dimension"), Transfer.employee_id, Transfer.workflow_id, _none("amount"),
               _none("outstanding"), true().label("counted"), Transfer.origin_province.label("origin"),
               Transfer.destination_province.label("destination"), Transfer.stage),
        _month_filter(p)).order_by(Transfer.created_at, Transfer.workflow_id)
    return _rows(session, "transfers_filed", stmt)


def transfers_completed(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    """The completed branches per insurance type, with the days each took (the processing-days
    figures are taken over these)."""
    period = transfer_stats.filtered(select(Transfer.workflow_id), _month_filter(p)).scalar_subquery()
    days = func.round(extract("epoch", TransferBranch.completed_at - TransferBranch.started_at)
                      / literal(86400, Numeric), 1)
    stmt = (select(TransferBranch.kind.label("dimension"), Transfer.employee_id, TransferBranch.workflow_id,
                   _none("amount"), _none("outstanding"), true().label("counted"), days.label("days"))
            .join(Transfer, Transfer.workflow_id == TransferBranch.workflow_id)
            .where(TransferBranch.status == "completed", TransferBranch.started_at.is_not(None),
                   TransferBranch.completed_at.is_not(None), TransferBranch.workflow_id.in_(period))
            .order_by(TransferBranch.kind, TransferBranch.workflow_id))
    return _rows(session, "transfers_completed", stmt)


def transfers_rejections(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    """Each HR rejection of a transfer filed in the month, under its reason code."""
    reason = func.coalesce(TransferReview.reason_code, literal_column("'unspecified'"))
    stmt = transfer_stats.filtered(
        select(reason.label("dimension"), Transfer.employee_id, TransferReview.workflow_id, _none("amount"),
               _none("outstanding"), true().label("counted"), TransferReview.at.label("rejected_at"))
        .join(Transfer, Transfer.workflow_id == TransferReview.workflow_id)
        .where(TransferReview.decision == "rejected"), _month_filter(p)).order_by(reason, TransferReview.at)
    return _rows(session, "transfers_rejections", stmt)


# ---------------------------------------------------------------- work waiting on a missing policy figure
def waiting_on_policy(session: Session, p: Period, _: ReportInputs) -> list[Member]:
    """The open tasks waiting on a figure the catalogue lacks, per kind."""
    out: list[Member] = []
    for kind, condition in report.WAITING_ON_POLICY.items():
        stmt = (select(literal(kind, String).label("dimension"), Case.employee_id, ApprovalTask.workflow_id,
                       _none("amount"), _none("outstanding"), true().label("counted"),
                       ApprovalTask.task_key.label("task"), ApprovalTask.due_at.label("due_at"))
                .select_from(ApprovalTask).join(Case, Case.workflow_id == ApprovalTask.workflow_id)
                .where(ApprovalTask.status == "open", condition)
                .order_by(ApprovalTask.due_at.nulls_last(), ApprovalTask.id))
        out += _rows(session, "waiting_on_policy", stmt)
    return out


Query = Callable[[Session, Period, ReportInputs], list[Member]]
# metric -> the query of its members; LISTINGS: how they make its figure (``of``: whose members it shares)
QUERIES: dict[str, Query] = {
    "company_attrition": company_attrition,
    "maternity_return_attrition": maternity_return_attrition,
    "undeducted_rate": undeducted_rate,
    "departed_unsettled_share": departed_unsettled_share,
    "receivable_ageing": receivable_ageing,
    "base_outside_band": base_outside_band,
    "base_unknown_city": base_unknown_city,
    "deduction_mismatch": deduction_mismatch,
    "deduction_unknown_rate": deduction_unknown_rate,
    "transfers_filed": transfers_filed,
    "transfers_completed": transfers_completed,
    "transfers_rejections": transfers_rejections,
    "waiting_on_policy": waiting_on_policy,
}
LISTINGS: dict[str, Listing] = {
    "company_attrition": Listing("numerator"),
    "maternity_return_attrition": Listing("denominator"),
    "undeducted_rate": Listing("denominator", sums="outstanding/amount"),
    "departed_unsettled_share": Listing("denominator"),
    "receivable_ageing": Listing("numerator", sums="outstanding"),
    "base_outside_band": Listing("numerator"),
    "base_unknown_city": Listing("numerator"),
    "deduction_mismatch": Listing("denominator"),
    "deduction_unknown_rate": Listing("numerator"),
    "transfers_filed": Listing("numerator"),
    "transfers_completed": Listing("numerator"),
    "transfers_processing_days": Listing("numerator", of="transfers_completed"),
    "transfers_processing_days_p90": Listing("numerator", of="transfers_completed"),
    "transfers_rejections": Listing("numerator"),
    "waiting_on_policy": Listing("numerator"),
}


def compute(session: Session, p: Period, inputs: ReportInputs) -> list[Member]:
    """Every metric's members for the month, as the figures are computed."""
    return [m for query in QUERIES.values() for m in query(session, p, inputs)]


def store(session: Session, month: str, members: Sequence[Member]) -> None:
    """Replace the month's members in the caller's transaction (its figures are replaced alongside)."""
    session.execute(delete(ReportMember).where(ReportMember.month == month))
    if members:
        session.execute(insert(ReportMember), [{"month": month, **m.model_dump()} for m in members])


def load(session: Session, month: str, metric: str, dimension: str, limit: int) -> tuple[int, int, list[Member]]:
    """The stored members of one figure (``all``: of every dimension of the metric): how many in
    all, how many counted, and the first ``limit``, counted first, in the order they were stored."""
    source = LISTINGS[metric].of or metric
    where = [ReportMember.month == month, ReportMember.metric == source]
    if dimension != ALL:
        where.append(ReportMember.dimension == dimension)
    total, counted = session.execute(
        select(func.count(), func.count().filter(ReportMember.counted)).where(*where)).one()
    rows = session.scalars(select(ReportMember).where(*where)
                           .order_by(ReportMember.counted.desc(), ReportMember.id).limit(limit))
    return total, counted, [Member(metric=metric, dimension=r.dimension, employee_id=r.employee_id,
                                   workflow_id=r.workflow_id, amount=r.amount, outstanding=r.outstanding,
                                   counted=r.counted, facts=r.facts) for r in rows]

