"""Social-insurance enrollment changes: kinds, the checks before one may start, the cost estimate.

Pure functions over the pinned policy (``SiChangeSnapshot``), so the API, the validating activity
and the workflow (when a maker corrects a change) compute exactly the same answer. Seed 003's
lesson is in ``estimate``: a back-payment shows its full cost, month by month, before approval.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.policy.contributions import ContributionRates
from domain.policy.pinning import SiChangeSnapshot
from domain.refusals import FieldRefused

FEN = Decimal("0.01")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ChangeKind(StrEnum):
    ENROLLMENT = "enrollment"  # normal enrollment from the effective month
    BACK_PAYMENT = "back_payment"  # enrollment plus contributions for past months
    STOP = "stop"  # end the enrollment (departure, transfer)
    BASE_ADJUSTMENT = "base_adjustment"  # a new contribution base

    @property
    def zh(self) -> str:
        return {"enrollment": "增员", "back_payment": "补缴", "stop": "减员", "base_adjustment": "调整缴费基数"}[self.value]


def change_summary(kind: ChangeKind, city: str, base: Decimal | None, months: list[str]) -> str:
    """What a person reads of the change in lists and the Temporal UI, Chinese first. It is written
    from the facts as they stand, so a correction (back-payment to enrollment, say) rewrites it."""
    paid = f"，补缴 {len(months)} 个月" if months else ""
    paid_en = f", {len(months)} month(s) back-paid" if months else ""
    shown = f"，基数 {base}" if base is not None else ""
    shown_en = f" base {base}" if base is not None else ""
    return f"社保{kind.zh}：{city}{shown}{paid} ({kind.value} {city}{shown_en}{paid_en})"


class ChangeRefused(FieldRefused):
    """A change that may not start; ``field`` and ``rule`` say what to fix."""


def parse_month(value: str, field: str = "months") -> dt.date:
    match = _MONTH.match(value)
    if not match:
        raise ChangeRefused(field, "month_format", f"{value!r} is not a month written YYYY-MM")
    return dt.date(int(match[1]), int(match[2]), 1)


def _months_between(earlier: dt.date, later: dt.date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def check_request(
    *,
    kind: ChangeKind,
    base: Decimal | None,
    months: list[str],
    effective_month: str,
    today: dt.date,
    policy: SiChangeSnapshot,
) -> None:
    """Everything that can be judged from the request and the pinned policy alone."""
    parse_month(effective_month, "effective_month")
    if kind is ChangeKind.STOP:
        if base is not None or months:
            raise ChangeRefused("base", "not_for_stop", "a stop takes neither a base nor months")
        return
    if base is None:
        raise ChangeRefused("base", "required", f"a {kind.value} needs a contribution base")
    limits = policy.limits
    if not limits.floor <= base <= limits.ceiling:
        raise ChangeRefused(
            "base", "base_within_city_limits",
            f"base {base} is outside {limits.city_zh}'s limits {limits.floor} to {limits.ceiling}"
            f" for the contribution year from {limits.period_from}",
        )
    if kind is not ChangeKind.BACK_PAYMENT:
        if months:
            raise ChangeRefused("months", "only_for_back_payment",
                                "months are given only for a back-payment; choose kind back_payment")
        return
    if not months:
        raise ChangeRefused("months", "required", "a back-payment needs the months it covers")
    parsed = [parse_month(m) for m in months]
    if len(set(parsed)) != len(parsed):
        raise ChangeRefused("months", "no_duplicates", "a month is listed twice")
    this_month = today.replace(day=1)
    lookback = policy.back_payment_lookback.amount
    for month in parsed:
        if month >= this_month:
            raise ChangeRefused("months", "month_in_past",
                                f"{month:%Y-%m} is not a past month; back-payments cover past months only")
        if _months_between(month, this_month) > lookback:
            raise ChangeRefused("months", "within_back_payment_lookback",
                                f"{month:%Y-%m} is more than {lookback} months back"
                                f" (policy {policy.back_payment_lookback.code})")


class CostLine(BaseModel):
    model_config = ConfigDict(frozen=True)
    insurance: str
    employee_rate: Decimal | None
    employer_rate: Decimal | None
    employee_monthly: Decimal | None
    employer_monthly: Decimal | None


class CostEstimate(BaseModel):
    """Monthly cost per insurance, and the total the change commits the company and employee to.

    Rates the catalogue does not hold are listed in ``missing``: the total is then a lower bound,
    and the confirmation says so rather than pretending to be complete.
    """

    model_config = ConfigDict(frozen=True)
    base: Decimal
    months: list[str]
    month_count: int
    lines: list[CostLine]
    employee_monthly: Decimal
    employer_monthly: Decimal
    monthly_total: Decimal
    employee_total: Decimal
    employer_total: Decimal
    total: Decimal
    missing: list[str]
    policy_version: str


def _amount(base: Decimal, rate: Decimal | None, fixed: Decimal | None = None) -> Decimal | None:
    if rate is None:
        return None
    return (base * rate + (fixed or Decimal(0))).quantize(FEN, rounding=ROUND_HALF_UP)


def monthly_lines(base: Decimal, rates: ContributionRates) -> tuple[list[CostLine], list[str]]:
    """Each insurance's monthly employee and employer amount on ``base``, and the rates missing."""
    lines: list[CostLine] = []
    missing: list[str] = []
    for name, rate in rates.rates.items():
        employee = _amount(base, rate.employee, rate.employee_fixed_monthly) if rate.employee_pays else Decimal("0.00")
        employer = _amount(base, rate.employer)
        if rate.employee_pays and employee is None:
            missing.append(f"{name}.employee")
        if employer is None:
            missing.append(f"{name}.employer")
        lines.append(CostLine(insurance=name, employee_rate=rate.employee, employer_rate=rate.employer,
                              employee_monthly=employee, employer_monthly=employer))
    return lines, missing


def personal_monthly(base: Decimal, rates: ContributionRates) -> Decimal:
    """The employee's own monthly contribution on ``base``: what a company advances during leave."""
    lines, _ = monthly_lines(base, rates)
    return sum((ln.employee_monthly or Decimal(0) for ln in lines), Decimal("0.00"))


def estimate(kind: ChangeKind, base: Decimal | None, months: list[str],
             policy: SiChangeSnapshot) -> CostEstimate:
    """The cost of the change: one month for an enrollment or base change, each listed month for
    a back-payment, nothing for a stop."""
    base = base or Decimal("0.00")
    count = {ChangeKind.BACK_PAYMENT: len(months), ChangeKind.STOP: 0}.get(kind, 1)
    lines, missing = monthly_lines(base, policy.rates)
    employee_monthly = sum((ln.employee_monthly or Decimal(0) for ln in lines), Decimal("0.00"))
    employer_monthly = sum((ln.employer_monthly or Decimal(0) for ln in lines), Decimal("0.00"))
    return CostEstimate(
        base=base, months=list(months), month_count=count, lines=lines,
        employee_monthly=employee_monthly, employer_monthly=employer_monthly,
        monthly_total=employee_monthly + employer_monthly,
        employee_total=employee_monthly * count, employer_total=employer_monthly * count,
        total=(employee_monthly + employer_monthly) * count,
        missing=missing if count else [], policy_version=policy.version,
    )
