"""The monthly risk and compliance report: each figure one SQL query, stored per month.

PostgreSQL aggregates; Python only shapes the few rows that come back and words the alerts. Every
figure is per department (positions for departures, buckets for ageing, cities for gaps in the
catalogue) with an ``all`` row for the company, and keeps the counts it came from. Alerts are raised
on department and position rows only: an ``all`` rate above a threshold always has a department
above it too, so alerting on it would only repeat one of theirs.

Statutory figures (average wages, personal rates) never come from here: the caller resolves them
from the policy catalogue and passes them in (``ReportInputs``), as it does the thresholds.

Dates: a departure is the end date on the employee's latest separation certificate
(``offboarding.certificate_issued``), a return the date HR confirmed (``maternity.return_confirmed``).
Receivables and settlements are read as they stand when the report is computed: the scheduled run
right after the month's end is the month's snapshot.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Integer,
    Numeric,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import QueryableAttribute, Session

from db import transfer_stats
from db.models import ApprovalTask, AuditEvent, Case, Employee, EmployeeRecord, Receivable, ReportFigure, ReportRun
from db.reminders import POLICY_WATCH
from domain.contracts.report import Alert  # the report's result travels to its workflow

ALL = "all"
RETURNED = "maternity.return_confirmed"
DEPARTED = "offboarding.certificate_issued"
ADVANCE = "maternity_advance"
CHINA = dt.timezone(dt.timedelta(hours=8))
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# (label, first day, last day) of the receivable ageing buckets; None: no upper end
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30), ("31-90", 31, 90), ("91-180", 91, 180), ("181+", 181, None))
# metrics whose "all" rows make the trend lines on the report page
TREND_METRICS = ("maternity_return_attrition", "company_attrition", "undeducted_rate", "departed_unsettled_share")


class ReportThresholds(BaseModel):
    """Alert thresholds, company choices (``HRFLOW_REPORT_*``), passed in by the caller."""

    model_config = ConfigDict(frozen=True)
    attrition_ratio_alert: Decimal = Decimal(2)
    undeducted_rate_alert: Decimal = Decimal("0.05")
    departed_unsettled_alert: Decimal = Decimal("0.10")
    base_low_share: Decimal = Decimal("0.60")
    base_high_share: Decimal = Decimal("3.00")

    @classmethod
    def from_settings(cls, settings: Any) -> ReportThresholds:
        """From anything with the ``report_*`` attributes of ``hrflow.settings.Settings``."""
        return cls(**{name: getattr(settings, f"report_{name}") for name in cls.model_fields})


class ReportInputs(BaseModel):
    """What the report needs from outside the database, resolved by the caller for the month's end."""

    model_config = ConfigDict(frozen=True)
    thresholds: ReportThresholds
    average_wages: dict[str, Decimal]  # si_city as stored -> average monthly wage; absent: not in the catalogue
    expected_deductions: dict[str, Decimal]  # employee -> personal monthly contribution; absent: rates unknown
    computed_at: dt.datetime


class Figure(BaseModel):
    model_config = ConfigDict(frozen=True)
    metric: str
    dimension: str
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    alert: bool


class StoredReport(BaseModel):
    month: str
    computed_at: dt.datetime
    thresholds: dict[str, Any]
    alerts: list[Alert]
    figures: list[Figure]


class Period(BaseModel):
    """The month and the 12 months ending with it (the window of the attrition figures)."""

    model_config = ConfigDict(frozen=True)
    month: str
    start: dt.date
    end: dt.date
    window_start: dt.date

    @classmethod
    def of(cls, month: str) -> Period:
        match = _MONTH.match(month)
        if not match:
            raise ValueError(f"{month!r} is not a month written YYYY-MM")
        year, number = int(match[1]), int(match[2])
        start = dt.date(year, number, 1)
        following = dt.date(year + number // 12, number % 12 + 1, 1)
        back = year * 12 + number - 1 - 11
        return cls(month=month, start=start, end=following - dt.timedelta(days=1),
                   window_start=dt.date(back // 12, back % 12 + 1, 1))

    @property
    def end_instant(self) -> dt.datetime:
        """Midnight China time after the month's last day."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=CHINA)


# ---------------------------------------------------------------- shared pieces of SQL
def departure_dates() -> CTE:
    """One departure per employee: the end date on her latest separation certificate."""
    end_date = cast(AuditEvent.after["end_date"].astext, Date)
    return (select(AuditEvent.subject.label("employee_id"), func.max(end_date).label("end_date"))
            .where(AuditEvent.action == DEPARTED, AuditEvent.subject.is_not(None))
            .group_by(AuditEvent.subject).cte("departures"))


def returned_on() -> ColumnElement[dt.date]:
    return cast(AuditEvent.after["returned_on"].astext, Date)


def on_books(p: Period, departures: CTE) -> ColumnElement[bool]:
    """Employed on the month's last day (her last working day counts as employed)."""
    return and_(Employee.hire_date <= p.end,
                or_(departures.c.end_date.is_(None), departures.c.end_date >= p.end))


def _dimension(col: ColumnElement[str] | QueryableAttribute[str]) -> ColumnElement[str]:
    """The grouped value, or ``all`` on ROLLUP's grand-total row."""
    return case((func.grouping(col) == 1, literal(ALL, String)), else_=col)


def _ratio(numerator: ColumnElement[Any], denominator: ColumnElement[Any]) -> ColumnElement[Decimal]:
    return func.round(cast(numerator, Numeric) / func.nullif(denominator, 0), 4)


def _number(value: Decimal) -> ColumnElement[Decimal]:
    return literal(value, Numeric)


def _text_array(name: str, items: Sequence[str]) -> Any:
    return bindparam(name, list(items), type_=ARRAY(Text))


def _numeric_array(name: str, items: Sequence[Decimal]) -> Any:
    return bindparam(name, list(items), type_=ARRAY(Numeric))


def _numbers_table(numbers: Mapping[str, Decimal], *, name: str, key: str, value: str,
                   params: tuple[str, str]) -> Any:
    """Figures from outside the database as a derived table ``name(key, value)``: one ``unnest`` of
    two array parameters (named ``params``), so the query joins them however many there are."""
    keys = sorted(numbers)
    return (func.unnest(_text_array(params[0], keys), _numeric_array(params[1], [numbers[k] for k in keys]))
            .table_valued(column(key, Text), column(value, Numeric))
            .render_derived(name=name))


def _figures(session: Session, metric: str, stmt: Select[*tuple[Any, ...]]) -> list[Figure]:
    """Rows of (dimension, value, numerator, denominator, alert) as figures of ``metric``."""
    return [Figure(metric=metric, dimension=r[0], value=r[1], numerator=r[2], denominator=r[3], alert=bool(r[4]))
            for r in session.execute(stmt)]


# ---------------------------------------------------------------- a. attrition after maternity return
def _company(p: Period, departures: CTE) -> CTE:
    """Departures in the 12 months, and the employees on the books when they began."""
    left = (select(func.count()).select_from(departures)
            .where(departures.c.end_date.between(p.window_start, p.end)).scalar_subquery())
    headcount = (select(func.count()).select_from(Employee)
                 .outerjoin(departures, departures.c.employee_id == Employee.employee_id)
                 .where(Employee.hire_date <= p.window_start,
                        or_(departures.c.end_date.is_(None), departures.c.end_date >= p.window_start))
                 .scalar_subquery())
    return select(left.label("departures"), headcount.label("headcount")).cte("company")


def company_attrition(session: Session, p: Period) -> list[Figure]:
    """Departures in the 12 months ending with the month / headcount at the window's start."""
    company = _company(p, departure_dates())
    stmt = select(literal(ALL, String), _ratio(company.c.departures, company.c.headcount),
                  company.c.departures, company.c.headcount, false())
    return _figures(session, "company_attrition", stmt)


def maternity_return_attrition(session: Session, p: Period, t: ReportThresholds) -> list[Figure]:
    """Of the mothers whose return was confirmed in the 12 months, the share who left within 365
    days of it (and by the month's end); alert at ``attrition_ratio_alert`` x the company rate,
    compared as exact fractions (no rounding can tip it)."""
    departures = departure_dates()
    company = _company(p, departures)
    returns = (select(AuditEvent.subject.label("employee_id"), func.max(returned_on()).label("returned_on"))
               .where(AuditEvent.action == RETURNED, AuditEvent.subject.is_not(None),
                      returned_on().between(p.window_start, p.end))
               .group_by(AuditEvent.subject).cte("returns"))
    end = departures.c.end_date
    left = func.count().filter(and_(end >= returns.c.returned_on, end - returns.c.returned_on <= 365, end <= p.end))
    cohort = func.count()
    company_left = select(company.c.departures).scalar_subquery()
    company_heads = select(company.c.headcount).scalar_subquery()
    dept = Employee.department
    alert = and_(func.grouping(dept) == 0, case(
        (and_(company_left > 0, company_heads > 0),
         left * company_heads >= _number(t.attrition_ratio_alert) * company_left * cohort),
        else_=left > 0))
    stmt = (select(_dimension(dept), _ratio(left, cohort), left, cohort, alert)
            .select_from(returns)
            .join(Employee, Employee.employee_id == returns.c.employee_id)
            .outerjoin(departures, departures.c.employee_id == returns.c.employee_id)
            .group_by(func.rollup(dept)).order_by(func.grouping(dept), dept))
    return _figures(session, "maternity_return_attrition", stmt)


# ---------------------------------------------------------------- b. advances not yet deducted
def undeducted_rate(session: Session, p: Period, t: ReportThresholds) -> list[Figure]:
    """Of maternity advances whose recovery was due (her return confirmed, or she left, before the
    month began), the yuan still open / the yuan advanced; reversed advances are not owed."""
    departures = departure_dates()
    returned = exists().where(AuditEvent.action == RETURNED, AuditEvent.workflow_id == Receivable.workflow_id,
                              returned_on() < p.start)
    open_amount = func.coalesce(func.sum(case((Receivable.status == "open", Receivable.amount - Receivable.settled),
                                              else_=0)), 0)
    advanced = func.coalesce(func.sum(Receivable.amount), 0)
    dept = Employee.department
    alert = and_(func.grouping(dept) == 0, open_amount > _number(t.undeducted_rate_alert) * advanced)
    stmt = (select(_dimension(dept), _ratio(open_amount, advanced), open_amount, advanced, alert)
            .select_from(Receivable)
            .join(Employee, Employee.employee_id == Receivable.employee_id)
            .outerjoin(departures, departures.c.employee_id == Receivable.employee_id)
            .where(Receivable.kind == ADVANCE, Receivable.status != "reversed",
                   or_(returned, departures.c.end_date < p.start))
            .group_by(func.rollup(dept)).order_by(func.grouping(dept), dept))
    return _figures(session, "undeducted_rate", stmt)


# ---------------------------------------------------------------- c. departed with money unsettled
def departed_unsettled_share(session: Session, p: Period, t: ReportThresholds) -> list[Figure]:
    """Per position, of those who left in the 12 months, the share who still owe or are owed money:
    an open receivable not fully settled, or an open loan or advance record with an amount."""
    departures = departure_dates()
    owes = or_(
        exists().where(Receivable.employee_id == Employee.employee_id, Receivable.status == "open",
                       Receivable.amount > Receivable.settled),
        exists().where(EmployeeRecord.employee_id == Employee.employee_id, EmployeeRecord.status == "open",
                       EmployeeRecord.kind.in_(("loan", "advance")), EmployeeRecord.amount > 0))
    departed = (select(Employee.position, owes.label("owes"))
                .join(departures, departures.c.employee_id == Employee.employee_id)
                .where(departures.c.end_date.between(p.window_start, p.end)).subquery())
    unsettled = func.count().filter(departed.c.owes)
    total = func.count()
    position = departed.c.position
    alert = and_(func.grouping(position) == 0, unsettled > _number(t.departed_unsettled_alert) * total)
    stmt = (select(_dimension(position), _ratio(unsettled, total), unsettled, total, alert)
            .group_by(func.rollup(position)).order_by(func.grouping(position), position))
    return _figures(session, "departed_unsettled_share", stmt)


# ---------------------------------------------------------------- d. receivable ageing
def receivable_ageing(session: Session, p: Period) -> list[Figure]:
    """Open yuan by days from booking (China date) to the month's end; every bucket, empty or not."""
    buckets = values(column("bucket", String), column("low", Integer), column("high", Integer),
                     column("ord", Integer), name="buckets").data(
        [(label, low, high, i) for i, (label, low, high) in enumerate(AGE_BUCKETS)])
    booked_on = cast(func.timezone(literal_column("'Asia/Shanghai'"), Receivable.booked_at), Date)
    age = literal(p.end, Date) - booked_on
    outstanding = func.coalesce(func.sum(Receivable.amount - Receivable.settled), 0)
    stmt = (select(buckets.c.bucket, outstanding, func.count(Receivable.id), null(), false())
            .select_from(buckets)
            .outerjoin(Receivable, and_(Receivable.status == "open", Receivable.amount > Receivable.settled,
                                        Receivable.booked_at < p.end_instant, age >= buckets.c.low,
                                        or_(buckets.c.high.is_(None), age <= buckets.c.high)))
            .group_by(buckets.c.bucket, buckets.c.ord).order_by(buckets.c.ord))
    return _figures(session, "receivable_ageing", stmt)


# ---------------------------------------------------------------- e. contribution bases off the wage band
def wages_table(inputs: ReportInputs) -> Any:
    return _numbers_table(inputs.average_wages, name="wages", key="city", value="average_wage",
                          params=("wage_cities", "wage_amounts"))


def base_outside_band(session: Session, p: Period, inputs: ReportInputs) -> list[Figure]:
    """Employees on the books whose base is below ``base_low_share`` or above ``base_high_share``
    of their city's average wage (the band's ends are inside it)."""
    t, departures, wages = inputs.thresholds, departure_dates(), wages_table(inputs)
    base = Employee.contribution_base
    outside = func.count().filter(or_(base < _number(t.base_low_share) * wages.c.average_wage,
                                      base > _number(t.base_high_share) * wages.c.average_wage))
    total = func.count()
    dept = Employee.department
    stmt = (select(_dimension(dept), _ratio(outside, total), outside, total,
                   and_(func.grouping(dept) == 0, outside > 0))
            .select_from(Employee)
            .outerjoin(departures, departures.c.employee_id == Employee.employee_id)
            .join(wages, wages.c.city == Employee.si_city)
            .where(on_books(p, departures))
            .group_by(func.rollup(dept)).order_by(func.grouping(dept), dept))
    return _figures(session, "base_outside_band", stmt)


def base_unknown_city(session: Session, p: Period, inputs: ReportInputs) -> list[Figure]:
    """Employees on the books whose city has no average wage in the catalogue, per city: they
    could not be checked, and the report says so rather than leaving them out silently."""
    departures, wages = departure_dates(), wages_table(inputs)
    n = func.count()
    stmt = (select(Employee.si_city, n, n, null(), false())
            .select_from(Employee)
            .outerjoin(departures, departures.c.employee_id == Employee.employee_id)
            .outerjoin(wages, wages.c.city == Employee.si_city)
            .where(on_books(p, departures), wages.c.city.is_(None))
            .group_by(Employee.si_city).order_by(Employee.si_city))
    return _figures(session, "base_unknown_city", stmt)


def cities_on_books(session: Session, p: Period) -> list[str]:
    """The cities (as stored) of the employees on the books: the caller looks up their wages."""
    departures = departure_dates()
    stmt = (select(Employee.si_city).distinct()
            .outerjoin(departures, departures.c.employee_id == Employee.employee_id)
            .where(on_books(p, departures)).order_by(Employee.si_city))
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- f. advances that differ from base x rate
def advances_of_month(p: Period) -> list[ColumnElement[bool]]:
    return [Receivable.kind == ADVANCE, Receivable.month == p.month, Receivable.status != "reversed"]


def expected_table(inputs: ReportInputs) -> Any:
    return _numbers_table(inputs.expected_deductions, name="expected", key="employee_id", value="amount",
                          params=("expected_ids", "expected_amounts"))


def deduction_subjects(session: Session, p: Period) -> list[tuple[str, str, Decimal]]:
    """(employee, city, base) of everyone with an advance booked for the month, for the caller to
    work out each one's personal monthly contribution from the catalogue."""
    stmt = (select(Employee.employee_id, Employee.si_city, Employee.contribution_base).distinct()
            .join(Receivable, Receivable.employee_id == Employee.employee_id)
            .where(*advances_of_month(p)).order_by(Employee.employee_id))
    return [(r[0], r[1], r[2]) for r in session.execute(stmt)]


def deduction_mismatch(session: Session, p: Period, inputs: ReportInputs) -> list[Figure]:
    """Advances booked for the month whose amount differs from the employee's personal monthly
    contribution on her current base."""
    expected = expected_table(inputs)
    wrong = func.count().filter(Receivable.amount != expected.c.amount)
    total = func.count()
    dept = Employee.department
    stmt = (select(_dimension(dept), _ratio(wrong, total), wrong, total, and_(func.grouping(dept) == 0, wrong > 0))
            .select_from(Receivable)
            .join(Employee, Employee.employee_id == Receivable.employee_id)
            .join(expected, expected.c.employee_id == Receivable.employee_id)
            .where(*advances_of_month(p))
            .group_by(func.rollup(dept)).order_by(func.grouping(dept), dept))
    return _figures(session, "deduction_mismatch", stmt)


def deduction_unknown_rate(session: Session, p: Period, inputs: ReportInputs) -> list[Figure]:
    """Advances of the month that could not be checked: the catalogue has no personal rates for
    the employee's city. Per city."""
    expected = expected_table(inputs)
    n = func.count()
    stmt = (select(Employee.si_city, n, n, null(), false())
            .select_from(Receivable)
            .join(Employee, Employee.employee_id == Receivable.employee_id)
            .outerjoin(expected, expected.c.employee_id == Receivable.employee_id)
            .where(*advances_of_month(p), expected.c.employee_id.is_(None))
            .group_by(Employee.si_city).order_by(Employee.si_city))
    return _figures(session, "deduction_unknown_rate", stmt)


# ---------------------------------------------------------------- g. transfers filed in the month
def transfer_figures(session: Session, p: Period) -> list[Figure]:
    """``db.transfer_stats`` over the transfers filed in the month (China time)."""
    f = transfer_stats.StatsFilter(start=p.start, end=p.end)
    filed = Decimal(sum(c.count for c in transfer_stats.per_month(session, f)))
    out = [Figure(metric="transfers_filed", dimension=ALL, value=filed, numerator=filed, denominator=None,
                  alert=False)]
    for t in transfer_stats.processing_time(session, f):
        done = Decimal(t.completed)
        out += [Figure(metric="transfers_completed", dimension=t.kind, value=done, numerator=done,
                       denominator=None, alert=False),
                Figure(metric="transfers_processing_days", dimension=t.kind, value=t.average_days,
                       numerator=done, denominator=None, alert=False),
                Figure(metric="transfers_processing_days_p90", dimension=t.kind, value=t.p90_days,
                       numerator=done, denominator=None, alert=False)]
    for c in transfer_stats.rejection_reasons(session, f):
        out.append(Figure(metric="transfers_rejections", dimension=c.key, value=Decimal(c.count),
                          numerator=Decimal(c.count), denominator=None, alert=False))
    return out


# ---------------------------------------------------------------- h. work waiting on a missing policy figure
# Open tasks that exist only because the catalogue lacked a figure: a transfer's enrollment moved by
# hand (no base for a city), a maternity leave counted on national law alone, a lapse HR admins must
# enter. Read as they stand when the report is computed.
WAITING_ON_POLICY = {
    "enrollment_by_hand": and_(Case.kind == "transfer", ApprovalTask.task_key.like("enrollment-%")),
    "provincial_extension_unconfirmed": ApprovalTask.task_key.like("confirm-provincial-extension-%"),
    "policy_lapse": ApprovalTask.workflow_id == POLICY_WATCH,
}


def waiting_on_policy(session: Session) -> list[Figure]:
    """Per kind, the open tasks waiting on a figure the catalogue does not hold (alert when any),
    counted in one pass over the open tasks."""
    counts = session.execute(
        select(*(func.count().filter(condition) for condition in WAITING_ON_POLICY.values()))
        .select_from(ApprovalTask).join(Case, Case.workflow_id == ApprovalTask.workflow_id)
        .where(ApprovalTask.status == "open")).one()
    return [Figure(metric="waiting_on_policy", dimension=kind, value=Decimal(n), numerator=Decimal(n),
                   denominator=None, alert=n > 0) for kind, n in zip(WAITING_ON_POLICY, counts, strict=True)]


# ---------------------------------------------------------------- alerts, storing and reading
def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{(value * 100).quantize(Decimal('0.1'))}%"


def _count(value: Decimal | None) -> int:
    return int(value or 0)


def alerts(figures: list[Figure], t: ReportThresholds, month: str) -> list[Alert]:
    """The alerting figures, worded for the people who must act on them: Chinese, and English beside."""
    company = next((f for f in figures if f.metric == "company_attrition"), None)
    company_rate = _pct(company.value if company else None)
    out: list[Alert] = []
    for f in figures:
        if not f.alert:
            continue
        n, d, dim, rate = _count(f.numerator), _count(f.denominator), f.dimension, _pct(f.value)
        if f.metric == "maternity_return_attrition":
            threshold = f"{t.attrition_ratio_alert} x company attrition"
            zh = (f"{dim}：{d} 名产假返岗员工中 {n} 名在一年内离职（{rate}），达到公司离职率 {company_rate} 的"
                  f" {t.attrition_ratio_alert} 倍或以上")
            en = (f"{dim}: {n} of {d} employees who returned from maternity leave left within a year ({rate}),"
                  f" {t.attrition_ratio_alert}x or more the company's {company_rate}")
        elif f.metric == "undeducted_rate":
            threshold = _pct(t.undeducted_rate_alert)
            zh = (f"{dim}：到期应扣回的垫付社保 {f.denominator} 元中 {f.numerator} 元未扣回（{rate}，"
                  f"预警线 {threshold}）")
            en = (f"{dim}: {f.numerator} of {f.denominator} yuan of advanced contributions due for recovery not"
                  f" deducted ({rate}, alert above {threshold})")
        elif f.metric == "departed_unsettled_share":
            threshold = _pct(t.departed_unsettled_alert)
            zh = f"{dim}：近 12 个月离职的 {d} 人中 {n} 人仍有款项未结清（{rate}，预警线 {threshold}）"
            en = (f"{dim}: {n} of {d} employees who left in the last 12 months still have money unsettled"
                  f" ({rate}, alert above {threshold})")
        elif f.metric == "base_outside_band":
            band = f"{_pct(t.base_low_share)}-{_pct(t.base_high_share)}"
            threshold = f"{band} of the local average wage"
            zh = f"{dim}：{d} 人中 {n} 人的缴费基数超出当地社平工资的 {band}"
            en = f"{dim}: {n} of {d} employees have a contribution base outside {threshold}"
        elif f.metric == "waiting_on_policy":
            threshold = "0"
            zh, en = WAITING_WORDS.get(dim, (dim, dim))
            zh, en = f"{n} {zh}", f"{n} {en}"
        elif f.metric == "deduction_mismatch":
            threshold = "base x personal rate"
            zh = f"{dim}：{month} 入账的 {d} 笔垫付中 {n} 笔与缴费基数 × 个人费率不符"
            en = f"{dim}: {n} of {d} advances booked for {month} differ from the contribution base x the personal rate"
        else:
            threshold, zh = "", f"{f.metric} {dim}: {f.value}"
            en = zh
        out.append(Alert(metric=f.metric, dimension=dim, value=f.value, threshold=threshold, message=zh,
                         message_en=en))
    return out


# what each kind of policy-waiting task is, in words (Chinese, English), after its count
WAITING_WORDS = {
    "enrollment_by_hand": ("项转移的参保迁移因缺少缴费基数改为人工办理",
                           "transfer enrollment moves done by hand: no base"),
    "provincial_extension_unconfirmed": ("项产假仅按国家天数计算、待确认本省延长",
                                         "maternity leaves on national days only, provincial extension to confirm"),
    "policy_lapse": ("项政策数据缺失或即将失效、待管理员录入", "policy figures missing or lapsing, for an admin to enter"),
}


def compute_month(session: Session, month: str, inputs: ReportInputs) -> StoredReport:
    """Compute every figure of ``month`` and store them in the caller's transaction, replacing an
    earlier run of the month. The run row is upserted before the figures are replaced, so two runs
    of one month take turns on its lock and the later one's figures stand, whole."""
    p, t = Period.of(month), inputs.thresholds
    figures = [
        *company_attrition(session, p),
        *maternity_return_attrition(session, p, t),
        *undeducted_rate(session, p, t),
        *departed_unsettled_share(session, p, t),
        *receivable_ageing(session, p),
        *base_outside_band(session, p, inputs),
        *base_unknown_city(session, p, inputs),
        *deduction_mismatch(session, p, inputs),
        *deduction_unknown_rate(session, p, inputs),
        *transfer_figures(session, p),
        *waiting_on_policy(session),
    ]
    found = alerts(figures, t, month)
    thresholds = t.model_dump(mode="json")
    alert_rows = [a.model_dump(mode="json") for a in found]
    session.execute(
        pg_insert(ReportRun).values(month=month, computed_at=inputs.computed_at, thresholds=thresholds,
                                    alerts=alert_rows)
        .on_conflict_do_update(index_elements=[ReportRun.month],
                               set_={"computed_at": inputs.computed_at, "thresholds": thresholds,
                                     "alerts": alert_rows}))
    session.execute(delete(ReportFigure).where(ReportFigure.month == month))
    session.execute(insert(ReportFigure), [{"month": month, **f.model_dump()} for f in figures])
    return StoredReport(month=month, computed_at=inputs.computed_at, thresholds=thresholds, alerts=found,
                        figures=figures)


class RunSummary(BaseModel):
    month: str
    computed_at: dt.datetime
    alerts: int


def runs(session: Session) -> list[RunSummary]:
    """Every stored month, newest first, with its number of alerts."""
    stmt = (select(ReportRun.month, ReportRun.computed_at, func.jsonb_array_length(ReportRun.alerts))
            .order_by(ReportRun.month.desc()))
    return [RunSummary(month=r[0], computed_at=r[1], alerts=r[2]) for r in session.execute(stmt)]


def load(session: Session, month: str) -> StoredReport | None:
    run = session.get(ReportRun, month)
    if run is None:
        return None
    rows = session.scalars(select(ReportFigure).where(ReportFigure.month == month).order_by(ReportFigure.id))
    return StoredReport(
        month=run.month, computed_at=run.computed_at, thresholds=run.thresholds,
        alerts=[Alert.model_validate(a) for a in run.alerts],
        figures=[Figure(metric=r.metric, dimension=r.dimension, value=r.value, numerator=r.numerator,
                        denominator=r.denominator, alert=r.alert) for r in rows])


def trend(session: Session, month: str, metrics: Sequence[str] = TREND_METRICS,
          months: int = 12) -> dict[str, list[tuple[str, Decimal | None]]]:
    """The company (``all``) value of each metric over the last ``months`` stored reports up to
    ``month``, oldest first; a month whose figure is missing is left out of that metric's line."""
    recent = (select(ReportRun.month).where(ReportRun.month <= month)
              .order_by(ReportRun.month.desc()).limit(months).scalar_subquery())
    stmt = (select(ReportFigure.metric, ReportFigure.month, ReportFigure.value)
            .where(ReportFigure.metric.in_(list(metrics)), ReportFigure.dimension == ALL,
                   ReportFigure.month.in_(recent))
            .order_by(ReportFigure.metric, ReportFigure.month))
    out: dict[str, list[tuple[str, Decimal | None]]] = {m: [] for m in metrics}
    for metric, m, value in session.execute(stmt):
        out[metric].append((m, value))
    return out
