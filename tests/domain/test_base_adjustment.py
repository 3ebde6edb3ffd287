"""The base adjustment's arithmetic against the Beijing 2026 notice (floor 7,270, ceiling 36,348
from July), every figure worked by hand: clamping, the exceptions and their order, the flags, the
months back-paid and each insurance's monthly difference to the fen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.base_adjustment import (
    DECLARED,
    RULES,
    Outcome,
    Person,
    Wage,
    back_pay_months,
    compute_line,
    missing_rates,
    monthly_delta,
    rule_text,
)
from domain.policy import pin_si_change

POLICY = pin_si_change("Beijing", dt.date(2026, 7, 1))
JULY = dt.date(2026, 7, 1)


def person(old_base: str | None = "10000.00", *, hired: dt.date = dt.date(2021, 3, 1), status: str = "active",
           leaving_on: dt.date | None = None, on_leave: bool = False) -> Person:
    return Person(employee_id="E1", hire_date=hired, employment_status=status, leaving_on=leaving_on,
                  old_base=Decimal(old_base) if old_base else None, on_maternity_leave=on_leave)


def line(p: Person, wage: str | None):
    return compute_line(p, Wage(Decimal(wage)) if wage else None, POLICY.limits, JULY)


def test_the_notice_pinned_is_beijings_2026() -> None:
    assert (POLICY.limits.floor, POLICY.limits.ceiling) == (Decimal(7270), Decimal(36348))


@pytest.mark.parametrize(("wage", "outcome", "new_base"), [
    ("5000.00", Outcome.RAISED_TO_FLOOR, "7270"),
    ("7269.99", Outcome.RAISED_TO_FLOOR, "7270"),
    ("7270.00", Outcome.ADJUSTED, "7270.00"),  # at the floor: her own wage, nothing clamped
    ("13560.25", Outcome.ADJUSTED, "13560.25"),
    ("36348.00", Outcome.ADJUSTED, "36348.00"),
    ("36348.01", Outcome.CAPPED_AT_CEILING, "36348"),
    ("90000.00", Outcome.CAPPED_AT_CEILING, "36348"),
])
def test_clamped_to_the_floor_and_ceiling(wage: str, outcome: Outcome, new_base: str) -> None:
    got = line(person(), wage)
    assert (got.outcome, got.new_base, got.old_base, got.average_wage) == (
        outcome, Decimal(new_base), Decimal("10000.00"), Decimal(wage))
    assert got.outcome.declared


def test_a_new_base_equal_to_the_old_is_not_declared() -> None:
    assert line(person("12000.00"), "12000.00").outcome is Outcome.UNCHANGED
    assert line(person("7270.00"), "6000.00").outcome is Outcome.UNCHANGED  # raised to a floor she is already on
    assert not Outcome.UNCHANGED.declared


def test_exceptions_in_their_order() -> None:
    # Leaving comes first, even with a wage and no enrollment: her stop is the offboarding's.
    assert line(person(None, status="departed"), "12000.00").outcome is Outcome.DEPARTING
    assert line(person(leaving_on=dt.date(2026, 12, 31), status="notice_given"), "12000.00").outcome is Outcome.DEPARTING
    assert line(person(None), "12000.00").outcome is Outcome.NOT_ENROLLED
    joined = line(person("9000.00", hired=dt.date(2026, 3, 1)), "12000.00")
    assert (joined.outcome, joined.new_base) == (Outcome.JOINED_THIS_YEAR, Decimal("9000.00"))  # keeps her base
    assert line(person(), None).outcome is Outcome.NO_WAGE
    for outcome in (Outcome.DEPARTING, Outcome.NOT_ENROLLED, Outcome.JOINED_THIS_YEAR, Outcome.NO_WAGE):
        assert not outcome.declared


def test_flags_joined_during_last_year_and_on_leave() -> None:
    assert line(person(hired=dt.date(2025, 6, 15)), "12000.00").flags == ["joined_mid_year"]
    assert line(person(hired=dt.date(2025, 1, 1)), "12000.00").flags == []  # the whole year
    on_leave = line(person(on_leave=True), "12000.00")
    assert (on_leave.outcome, on_leave.flags) == (Outcome.ADJUSTED, ["on_maternity_leave"])  # adjusted as anyone


def test_every_outcome_and_flag_states_its_rule() -> None:
    assert DECLARED == {Outcome.ADJUSTED, Outcome.RAISED_TO_FLOOR, Outcome.CAPPED_AT_CEILING, Outcome.CORRECTED}
    for code in [*(o.value for o in Outcome), "on_maternity_leave", "joined_mid_year"]:
        zh, en, source = RULES[code]
        assert zh and en and source, code
    assert rule_text("raised_to_floor") == "低于下限，按下限核定 (below the floor: the floor)"


@pytest.mark.parametrize(("effective", "declared", "months"), [
    (JULY, dt.date(2026, 9, 15), ["2026-07", "2026-08"]),
    (JULY, dt.date(2026, 7, 31), []),  # declared in the effective month: billed at the new base already
    (dt.date(2026, 11, 1), dt.date(2027, 2, 1), ["2026-11", "2026-12", "2027-01"]),
])
def test_months_back_paid(effective: dt.date, declared: dt.date, months: list[str]) -> None:
    assert back_pay_months(effective, declared) == months


def test_monthly_difference_per_insurance_to_the_fen() -> None:
    # 35,811 -> 36,348: employee 8% 2,864.88 -> 2,907.84; 2% + 3 yuan 719.22 -> 729.96; 0.5% 179.055
    # billed 179.06 -> 181.74; the employer's pension 16% 5,729.76 -> 5,815.68.
    delta = monthly_delta(Decimal("35811.00"), Decimal("36348.00"), POLICY.rates)
    assert delta.employee == {"pension": Decimal("42.96"), "medical": Decimal("10.74"),
                              "unemployment": Decimal("2.68"), "work_injury": Decimal("0.00"),
                              "maternity": Decimal("0.00")}
    assert delta.employer["pension"] == Decimal("85.92")
    assert (delta.employee_total, delta.employer_total) == (Decimal("56.38"), Decimal("85.92"))
    assert all(v.as_tuple().exponent == -2 for v in [*delta.employee.values(), *delta.employer.values()])


def test_a_lower_base_saves_and_the_same_base_costs_nothing() -> None:
    lower = monthly_delta(Decimal("12000.00"), Decimal("10000.00"), POLICY.rates)
    assert (lower.employee_total, lower.employer_total) == (Decimal("-210.00"), Decimal("-320.00"))
    same = monthly_delta(Decimal("12000.00"), Decimal("12000.00"), POLICY.rates)
    assert (same.employee_total, same.employer_total) == (Decimal("0.00"), Decimal("0.00"))


def test_rates_the_catalogue_lacks_are_listed() -> None:
    assert "medical.employer" in missing_rates(POLICY.rates)
