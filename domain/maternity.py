"""Maternity-leave case arithmetic: which payroll months fall inside the leave, how an advanced
total is split into payroll deductions, and how the allowance reconciles with the pay she got.

Seed 000: the company advanced her personal contribution each month of leave and nobody recovered
it. The rule here is explicit: a month's advance is booked when she is on leave on that month's
payroll cut-off day and the company pays her no salary from which to deduct it.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal

FEN = Decimal("0.01")

# Her social-insurance status while she is on leave and the company advances her share
# (``Employee.si_status``): what the other processes of hers read.
ON_LEAVE_STATUS = "on_maternity_leave_return_pending"
# The receivable kind of her share of a base adjustment's back-payment, advanced while on leave.
BASE_DIFFERENCE = "si_base_difference"


def cutoff(month: dt.date, day: int) -> dt.date:
    return month.replace(day=day)


def months_on_leave_at_cutoff(start: dt.date, last_day: dt.date, cutoff_day: int) -> list[dt.date]:
    """Cut-off dates (one per month) on which the leave is running, in order."""
    found: list[dt.date] = []
    month = start.replace(day=1)
    while month <= last_day:
        day = cutoff(month, cutoff_day)
        if start <= day <= last_day:
            found.append(day)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return found


def installments(total: Decimal, count: int) -> list[Decimal]:
    """Split ``total`` into ``count`` payroll deductions in fen; the last one takes the remainder."""
    if count < 1:
        raise ValueError("at least one installment")
    if total <= 0:
        return []
    share = (total / count).quantize(FEN, rounding=ROUND_DOWN)
    parts = [share] * (count - 1)
    return [p for p in [*parts, total - sum(parts, Decimal("0.00"))] if p > 0]


def allowance(wage_basis: Decimal, leave_days: int, divisor: int) -> Decimal:
    """Maternity allowance: the employer's average monthly contribution wage / divisor x days."""
    return (wage_basis * leave_days / divisor).quantize(FEN)
