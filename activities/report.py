"""Activities of the monthly risk and compliance report: compute and store a month, and tell HR
and compliance it is ready.

Computing is idempotent by construction: a month's run replaces its figures in one transaction, so
a retry (or a second run of the same month) leaves exactly one report. The catalogue's figures,
average wages per city and personal contributions per employee, are resolved here, on the month's
last day, and handed to ``db.report`` as data: SQL never guesses a statutory figure, and a city the
catalogue lacks is reported as such instead of being dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.unit import DbActivities, db_step
from db import report, report_members
from db.report import Period, ReportInputs, ReportThresholds
from domain.contracts.report import COMPUTE_MONTH, Alert, ComputeMonth, MonthComputed
from domain.policy import PolicyError
from domain.policy.contributions import contribution_limits, contribution_rates
from domain.si_change import monthly_lines, personal_monthly

log = logging.getLogger("hrflow.report")


def average_wage(city: str, on: dt.date) -> Decimal | None:
    """The city's average monthly wage in force on ``on``; None when the catalogue has none."""
    try:
        return contribution_limits(city, on).average_wage
    except PolicyError:
        return None


def expected_advance(city: str, base: Decimal, on: dt.date) -> Decimal | None:
    """Her personal monthly contribution on ``base`` (what maternity books as the month's advance,
    ``domain.si_change.personal_monthly``); None when a personal rate is missing from the catalogue."""
    try:
        rates = contribution_rates(city, on)
    except PolicyError:
        return None
    _, missing = monthly_lines(base, rates)
    if any(m.endswith(".employee") for m in missing):
        return None
    return personal_monthly(base, rates)


def summarise(month: str, alerts: list[Alert]) -> str:
    """One line for the workflow's result and the Temporal UI: Chinese first, the alerts in Chinese."""
    if not alerts:
        return f"{month} 月报：无预警 (Report {month}: no alerts)"
    shown = "；".join(a.message for a in alerts[:5])
    more = f"（另有 {len(alerts) - 5} 项 +{len(alerts) - 5} more）" if len(alerts) > 5 else ""
    return f"{month} 月报：{len(alerts)} 项预警 (Report {month}: {len(alerts)} alert(s))：{shown}{more}"


class ReportActivities(DbActivities):
    def __init__(self, session_factory: sessionmaker[Session], thresholds: ReportThresholds) -> None:
        super().__init__(session_factory)
        self._thresholds = thresholds

    @activity.defn(name=COMPUTE_MONTH.name)
    def compute_month(self, req: ComputeMonth) -> MonthComputed:
        """Resolve the catalogue's figures for the month's end, then compute and store the month."""
        period = Period.of(req.month)
        with db_step(self._sessions) as session:
            wages = {city: average_wage(city, period.end) for city in report.cities_on_books(session, period)}
            expected = {employee: expected_advance(city, base, period.end)
                        for employee, city, base in report.deduction_subjects(session, period)}
            inputs = ReportInputs(
                thresholds=self._thresholds, computed_at=req.computed_at,
                average_wages={c: w for c, w in wages.items() if w is not None},
                expected_deductions={e: a for e, a in expected.items() if a is not None})
            stored = report.compute_month(session, req.month, inputs)
            report_members.store(session, req.month, report_members.compute(session, period, inputs))
        unchecked = sorted({f.dimension for f in stored.figures
                            if f.metric in ("base_unknown_city", "deduction_unknown_rate")})
        log.info("report %s: %d figures, %d alerts", req.month, len(stored.figures), len(stored.alerts))
        return MonthComputed(month=req.month, figures=len(stored.figures), alerts=stored.alerts,
                             summary=summarise(req.month, stored.alerts), unchecked_cities=unchecked)

    def all(self) -> list[Any]:
        return [self.compute_month]
