"""The annual contribution-base adjustment: each employee's new base, and what the change costs.

Every July (or when the city's notice appears) an employer recomputes each insured employee's
base from her last year's average monthly wage, clamped to the city's new floor and ceiling,
declares the changes, and back-pays the difference for the months already paid at the old base
(Beijing 2026: "部分已按旧标准缴费人员需按规定补缴差额"). Pure functions over the pinned policy,
so the import's preview, the computing activity and a maker's correction answer alike.

The rules for the people a plain average does not fit are stated in ``RULES`` and shown with each
line: who is declared, who is not, and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.policy.contributions import ContributionLimits, ContributionRates
from domain.si_change import monthly_lines

ZERO = Decimal("0.00")


class Outcome(StrEnum):
    """How a line's new base was found (the first three are declared)."""

    ADJUSTED = "adjusted"  # last year's average wage, within the limits
    RAISED_TO_FLOOR = "raised_to_floor"  # below the floor: the floor
    CAPPED_AT_CEILING = "capped_at_ceiling"  # above the ceiling: the ceiling
    CORRECTED = "corrected"  # the maker set the base by hand, with a reason
    UNCHANGED = "unchanged"  # the new base is the old one: nothing to declare
    JOINED_THIS_YEAR = "joined_this_year"  # hired after last year: keeps the base of her enrollment
    DEPARTING = "departing"  # left or leaving: her stop is the offboarding's, not this batch's
    NO_WAGE = "no_wage"  # insured here, but payroll gave no wage: the maker decides
    NOT_ENROLLED = "not_enrolled"  # a wage, but no active enrollment in this city

    @property
    def declared(self) -> bool:
        return self in DECLARED


DECLARED = frozenset({Outcome.ADJUSTED, Outcome.RAISED_TO_FLOOR, Outcome.CAPPED_AT_CEILING, Outcome.CORRECTED})
EXCEPTIONS = frozenset({Outcome.NO_WAGE, Outcome.NOT_ENROLLED})  # wait for the maker


# Each outcome and flag, as HR reads it (Chinese, English) and where the rule comes from.
RULES: dict[str, tuple[str, str, str]] = {
    "adjusted": ("按上年度本人月平均工资核定", "last year's average monthly wage", "当地年度缴费基数通知"),
    "raised_to_floor": ("低于下限，按下限核定", "below the floor: the floor", "当地年度缴费基数通知"),
    "capped_at_ceiling": ("高于上限，按上限核定", "above the ceiling: the ceiling", "当地年度缴费基数通知"),
    "corrected": ("经办人手工更正（附理由）", "set by the maker, with a reason", "公司复核制度"),
    "unchanged": ("新基数与原基数相同，无需申报", "the same as the old base: nothing to declare", "—"),
    "joined_this_year": ("本年度新入职：按入职首月工资核定，不参加本次调整",
                         "joined this year: keeps the base of her first month's wage", "当地年度缴费基数通知"),
    "departing": ("已离职或正在离职：不调整，停保由离职流程办理",
                  "left or leaving: not adjusted; her stop is the offboarding's", "公司政策"),
    "no_wage": ("在本市参保但工资表中没有其工资：请经办人核定或排除",
                "insured here but missing from the payroll file: the maker sets or excludes her", "公司政策"),
    "not_enrolled": ("工资表中有，但在本市没有在保记录：不申报", "in the payroll file but not insured in this city",
                     "公司政策"),
    "on_maternity_leave": ("产假期间照常调整；个人应补缴部分由公司垫付，记入其应收款，返岗后扣回",
                           ("on maternity leave: adjusted as anyone; the company advances her share of the"
                           " back-payment, booked as a receivable recovered after her return"), "公司政策（垫付制度）"),
    "joined_mid_year": ("上年度中途入职：按实际工作月份的月平均工资核定",
                        "joined during last year: the average over the months she worked", "当地年度缴费基数通知"),
}


def rule_text(code: str) -> str:
    zh, en, _ = RULES[code]
    return f"{zh} ({en})"


@dataclass(frozen=True)
class Person:
    """What the batch knows of one employee on the day it is computed."""

    employee_id: str
    hire_date: dt.date
    employment_status: str
    leaving_on: dt.date | None
    old_base: Decimal | None  # her active enrollment's base in the city; None: not enrolled there
    on_maternity_leave: bool


@dataclass(frozen=True)
class Wage:
    """One payroll row: her average monthly wage last year, over the months she worked."""

    average: Decimal
    months_worked: int | None = None


class Line(BaseModel):
    model_config = ConfigDict(frozen=True)
    employee_id: str
    old_base: Decimal | None
    new_base: Decimal | None
    average_wage: Decimal | None
    outcome: Outcome
    flags: list[str] = Field(default_factory=list)


def compute_line(person: Person, wage: Wage | None, limits: ContributionLimits, effective: dt.date) -> Line:
    """One employee's new base under the notice in force from ``effective`` (a month's first day):
    her wage clamped to the limits, or the exception that keeps her out of the declaration."""
    average = wage.average if wage else None

    def line(outcome: Outcome, new_base: Decimal | None, flags: list[str] | None = None) -> Line:
        return Line(employee_id=person.employee_id, old_base=person.old_base, new_base=new_base,
                    average_wage=average, outcome=outcome, flags=flags or [])

    wage_year = effective.year - 1
    if person.employment_status == "departed" or person.leaving_on is not None:
        return line(Outcome.DEPARTING, None)
    if person.old_base is None:
        return line(Outcome.NOT_ENROLLED, None)
    if person.hire_date.year > wage_year:
        return line(Outcome.JOINED_THIS_YEAR, person.old_base)
    if wage is None:
        return line(Outcome.NO_WAGE, None)
    flags = []
    if person.hire_date.year == wage_year and person.hire_date > dt.date(wage_year, 1, 1):
        flags.append("joined_mid_year")
    if person.on_maternity_leave:
        flags.append("on_maternity_leave")
    if wage.average < limits.floor:
        new_base, outcome = limits.floor, Outcome.RAISED_TO_FLOOR
    elif wage.average > limits.ceiling:
        new_base, outcome = limits.ceiling, Outcome.CAPPED_AT_CEILING
    else:
        new_base, outcome = wage.average, Outcome.ADJUSTED
    if new_base == person.old_base:
        return line(Outcome.UNCHANGED, new_base, flags)
    return line(outcome, new_base, flags)


class MonthlyDelta(BaseModel):
    """What a change of base adds (or, negative, saves) each month, per insurance and payer."""

    model_config = ConfigDict(frozen=True)
    employee: dict[str, Decimal]
    employer: dict[str, Decimal]

    @property
    def employee_total(self) -> Decimal:
        return sum(self.employee.values(), ZERO)

    @property
    def employer_total(self) -> Decimal:
        return sum(self.employer.values(), ZERO)


def monthly_delta(old_base: Decimal, new_base: Decimal, rates: ContributionRates) -> MonthlyDelta:
    """Each insurance's monthly amount at the new base less at the old, each rounded to the fen as
    the agency bills it. A rate the catalogue lacks counts as nothing (the batch lists it missing)."""
    before, _ = monthly_lines(old_base, rates)
    after, _ = monthly_lines(new_base, rates)
    employee, employer = {}, {}
    for old, new in zip(before, after, strict=True):
        employee[new.insurance] = (new.employee_monthly or ZERO) - (old.employee_monthly or ZERO)
        employer[new.insurance] = (new.employer_monthly or ZERO) - (old.employer_monthly or ZERO)
    return MonthlyDelta(employee=employee, employer=employer)


def missing_rates(rates: ContributionRates) -> list[str]:
    _, missing = monthly_lines(Decimal("1.00"), rates)
    return missing


def back_pay_months(effective: dt.date, declared: dt.date) -> list[str]:
    """The months already paid at the old base: from the notice's effective month up to, not
    including, the month of the declaration (from which the agency bills the new base)."""
    months, day = [], effective.replace(day=1)
    stop = declared.replace(day=1)
    while day < stop:
        months.append(f"{day:%Y-%m}")
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


class Totals(BaseModel):
    """The batch at a glance: lines by outcome and state, and the cost of the declared ones."""

    lines: int = 0
    by_outcome: dict[str, int] = Field(default_factory=dict)
    by_state: dict[str, int] = Field(default_factory=dict)
    pending: int = Field(default=0, description="lines the next declaration sends")
    undecided: int = Field(default=0, description="exceptions the maker must set or exclude before approval")
    monthly_employee: dict[str, Decimal] = Field(default_factory=dict, description="per insurance, per month")
    monthly_employer: dict[str, Decimal] = Field(default_factory=dict, description="per insurance, per month")
    monthly_total: Decimal = ZERO
    back_pay_months: list[str] = Field(default_factory=list, description="as if declared this month")
    back_pay_employee: Decimal = ZERO
    back_pay_employer: Decimal = ZERO
    back_pay_total: Decimal = Field(default=ZERO, description="what the checker echoes to approve")
    declared_back_pay_employee: Decimal = Field(default=ZERO, description="accepted lines: what was back-paid")
    declared_back_pay_employer: Decimal = ZERO
    missing_rates: list[str] = Field(default_factory=list)
