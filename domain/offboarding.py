"""Offboarding rules: the last day, and the final pay with what the law lets a company withhold.

The law, not the seed's wish to "block the departure", decides (Labour Contract Law arts. 37, 50;
Wage Payment Provisions arts. 9, 15, 16): an employee who gave notice leaves on the last day
whatever is open; wages are paid in full; a deduction for damages is at most 20% of the monthly
wage and leaves at least the minimum wage, unless she agreed to it in writing; the economic
compensation may wait until the handover is complete. Everything else is recovered later, by
agreement or arbitration.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.policy.deadlines import due_date
from domain.policy.pinning import OffboardingSnapshot
from domain.refusals import FieldRefused

FEN = Decimal("0.01")


class OffboardingKind(StrEnum):
    RESIGNATION = "resignation"
    PROBATION_RESIGNATION = "probation_resignation"
    TERMINATION = "termination"  # by the employer, with its legal ground
    MUTUAL_AGREEMENT = "mutual_agreement"


class LastDayRefused(FieldRefused):
    """A last day that the notice rules do not allow."""


def last_day(kind: OffboardingKind, notice_date: dt.date, agreed_last_day: dt.date | None,
             policy: OffboardingSnapshot) -> dt.date:
    """Notice plus the statutory period (30 days; 3 in probation), or a day both sides agreed."""
    if kind in (OffboardingKind.RESIGNATION, OffboardingKind.PROBATION_RESIGNATION):
        code = "resignation_notice" if kind is OffboardingKind.RESIGNATION else "resignation_notice_probation"
        statutory = due_date(policy.deadlines[code], notice_date).date
        if agreed_last_day is None:
            return statutory
        if not notice_date <= agreed_last_day <= statutory:
            raise LastDayRefused("agreed_last_day", "within_notice_period",
                                 f"an agreed last day lies between the notice {notice_date} and {statutory}")
        return agreed_last_day
    if agreed_last_day is None or agreed_last_day < notice_date:
        raise LastDayRefused("agreed_last_day", "required", f"a {kind.value} needs its last day, on or after the notice")
    return agreed_last_day


class Deduction(BaseModel):
    model_config = ConfigDict(frozen=True)
    title: str
    amount: Decimal
    agreed_in_writing: bool


class FinalPay(BaseModel):
    model_config = ConfigDict(frozen=True)
    wages_due: Decimal  # paid in full, whatever is open
    agreed_deductions: Decimal  # repayments she agreed to in writing
    damages_deducted: Decimal  # within 20% of the monthly wage, not below the minimum wage
    damages_to_recover: Decimal  # the rest: agreement or arbitration
    net_wages: Decimal
    economic_compensation: Decimal
    compensation_held: bool  # held until the handover is complete (art. 50)
    explanation: list[str]


def final_pay(*, wages_due: Decimal, monthly_wage: Decimal, minimum_wage: Decimal, deductions: list[Deduction],
              economic_compensation: Decimal, handover_complete: bool, policy: OffboardingSnapshot) -> FinalPay:
    rule = policy.wage_deductions
    agreed = sum((d.amount for d in deductions if d.agreed_in_writing), Decimal("0.00"))
    damages = sum((d.amount for d in deductions if not d.agreed_in_writing), Decimal("0.00"))
    cap = (monthly_wage * rule.max_rate_of_monthly_wage).quantize(FEN)
    if rule.remainder_not_below_minimum_wage:
        cap = max(Decimal("0.00"), min(cap, wages_due - agreed - minimum_wage))
    taken = min(damages, cap)
    notes = [f"wages of {wages_due} are paid in full (Wage Payment Provisions art. 9)"]
    if agreed:
        notes.append(f"{agreed} deducted as she agreed in writing")
    if damages:
        notes.append(f"damages: {taken} deducted (cap {cap}: {rule.max_rate_of_monthly_wage:%} of the monthly wage,"
                     f" remainder not below the minimum wage {minimum_wage}); {damages - taken} to recover"
                     " by agreement or arbitration")
    if economic_compensation:
        notes.append("economic compensation " + ("is paid" if handover_complete else
                                                  "is held until the handover is complete (art. 50)"))
    return FinalPay(
        wages_due=wages_due, agreed_deductions=agreed, damages_deducted=taken, damages_to_recover=damages - taken,
        net_wages=wages_due - agreed - taken, economic_compensation=economic_compensation,
        compensation_held=bool(economic_compensation) and not handover_complete, explanation=notes)
