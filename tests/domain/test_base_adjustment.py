"""The base adjustment's arithmetic against the Beijing 2026 notice (floor 7,270, ceiling 36,348
from July), every figure worked by hand: clamping and its edges, the exceptions and their order,
the flags, the rules shown with each line, the months back-paid and each insurance's monthly
difference to the fen.

The catalogue figures the hand arithmetic relies on are asserted first
(``test_the_notice_pinned_is_beijings_2026``, ``test_the_rates_pinned_are_beijings``), so a changed
catalogue fails there, by name, rather than as a puzzling difference further down. Where a test
needs rates Beijing does not hold (an employer's medical rate, a missing employee rate) it makes
them up with ``rates``, in the way of ``test_money_rules``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from domain.base_adjustment import (
    DECLARED,
    RULES,
    Line,
    MonthlyDelta,
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
from domain.policy.contributions import ContributionRates
from domain.si_change import monthly_lines

POLICY = pin_si_change("Beijing", dt.date(2026, 7, 1))
JULY = dt.date(2026, 7, 1)  # the notice's first month; wages are last year's, 2025's
FLOOR, CEILING = Decimal(7270), Decimal(36348)
INSURANCES = ["pension", "medical", "unemployment", "work_injury", "maternity"]
FLAGS = ("joined_mid_year", "on_maternity_leave")
CJK = re.compile(r"[\u4e00-\u9fff]")


def person(old_base: str | None = "10000.00", *, hired: dt.date = dt.date(2021, 3, 1), status: str = "active",
           leaving_on: dt.date | None = None, on_leave: bool = False) -> Person:
    return Person(employee_id="E1", hire_date=hired, employment_status=status, leaving_on=leaving_on,
                  old_base=Decimal(old_base) if old_base is not None else None, on_maternity_leave=on_leave)


def line(p: Person, wage: str | None, effective: dt.date = JULY) -> Line:
    return compute_line(p, Wage(Decimal(wage)) if wage is not None else None, POLICY.limits, effective)


def rates(**given: tuple[str | None, str | None, str | None, bool]) -> ContributionRates:
    """Made-up rates: insurance=(employee rate, employee fixed monthly, employer rate, employee pays)."""
    template = POLICY.rates.rates["pension"]
    made = {
        name: template.model_copy(update={
            "insurance": name, "employee": None if e is None else Decimal(e),
            "employee_fixed_monthly": None if f is None else Decimal(f),
            "employer": None if r is None else Decimal(r), "employee_pays": pays})
        for name, (e, f, r, pays) in given.items()
    }
    return POLICY.rates.model_copy(update={"rates": made})


FULL: dict[str, tuple[str | None, str | None, str | None, bool]] = {
    "pension": ("0.08", None, "0.16", True),
    "medical": ("0.02", "3", "0.098", True),
    "unemployment": ("0.005", None, "0.005", True),
    "work_injury": (None, None, "0.004", False),
    "maternity": (None, None, "0.008", False),
}


def fen(values: dict[str, Decimal]) -> dict[str, str]:
    """Each figure as written, after checking it is a Decimal in fen (never a float)."""
    for name, value in values.items():
        assert type(value) is Decimal, f"{name}: {value!r} is not a Decimal"
        assert value.as_tuple().exponent == -2, f"{name}: {value!r} is not in fen"
    return {name: str(value) for name, value in values.items()}


# ---------------------------------------------------------------- the pinned figures


def test_the_notice_pinned_is_beijings_2026() -> None:
    assert (POLICY.limits.floor, POLICY.limits.ceiling) == (FLOOR, CEILING)


def test_the_rates_pinned_are_beijings() -> None:
    # What the Beijing arithmetic below assumes: 8% / 16% pension, 2% + 3 yuan medical and 0.5%
    # unemployment for her; no employer rate but the pension's; work injury and maternity hers not.
    got = {k: (r.employee, r.employee_fixed_monthly, r.employer, r.employee_pays) for k, r in POLICY.rates.rates.items()}
    assert got == {
        "pension": (Decimal("0.08"), None, Decimal("0.16"), True),
        "medical": (Decimal("0.02"), Decimal(3), None, True),
        "unemployment": (Decimal("0.005"), None, None, True),
        "work_injury": (None, None, None, False),
        "maternity": (None, None, None, False),
    }


# ---------------------------------------------------------------- clamping


@pytest.mark.parametrize(("wage", "outcome", "new_base"), [
    ("0.01", Outcome.RAISED_TO_FLOOR, "7270"),
    ("5000.00", Outcome.RAISED_TO_FLOOR, "7270"),
    ("7269.99", Outcome.RAISED_TO_FLOOR, "7270"),  # a fen below the floor
    ("7270.00", Outcome.ADJUSTED, "7270.00"),  # at the floor: her own wage, nothing clamped
    ("7270.01", Outcome.ADJUSTED, "7270.01"),
    ("13560.25", Outcome.ADJUSTED, "13560.25"),
    ("36347.99", Outcome.ADJUSTED, "36347.99"),
    ("36348.00", Outcome.ADJUSTED, "36348.00"),  # at the ceiling: her own wage, nothing clamped
    ("36348.01", Outcome.CAPPED_AT_CEILING, "36348"),  # a fen above the ceiling
    ("90000.00", Outcome.CAPPED_AT_CEILING, "36348"),
])
def test_clamped_to_the_floor_and_ceiling(wage: str, outcome: Outcome, new_base: str) -> None:
    got = line(person(), wage)
    assert (got.employee_id, got.outcome, got.new_base, got.old_base, got.average_wage, got.flags) == (
        "E1", outcome, Decimal(new_base), Decimal("10000.00"), Decimal(wage), [])
    assert got.outcome.declared


def test_a_clamped_base_is_the_limit_itself() -> None:
    assert line(person(), "5000.00").new_base == POLICY.limits.floor == FLOOR
    assert line(person(), "90000.00").new_base == POLICY.limits.ceiling == CEILING


@pytest.mark.parametrize(("old_base", "wage", "new_base"), [
    ("12000.00", "12000.00", "12000.00"),  # her wage is her old base
    ("12000", "12000.00", "12000.00"),  # the same amount, written without fen
    ("7270.00", "6000.00", "7270"),  # raised to a floor she is already on
    ("36348.00", "50000.00", "36348"),  # capped at a ceiling she is already on
])
def test_a_new_base_equal_to_the_old_is_not_declared(old_base: str, wage: str, new_base: str) -> None:
    got = line(person(old_base), wage)
    assert (got.outcome, got.new_base, got.old_base) == (Outcome.UNCHANGED, Decimal(new_base), Decimal(old_base))
    assert not got.outcome.declared


def test_a_fen_of_difference_is_declared() -> None:
    got = line(person("12000.00"), "12000.01")
    assert (got.outcome, got.new_base) == (Outcome.ADJUSTED, Decimal("12000.01"))


# ---------------------------------------------------------------- the exceptions, in their order


def test_departed_or_leaving_comes_first() -> None:
    # Even with a wage and an enrollment, and before "not enrolled": her stop is the offboarding's.
    for p in (person(status="departed"),
              person(None, status="departed"),
              person(status="notice_given", leaving_on=dt.date(2026, 12, 31)),
              person(status="active", leaving_on=dt.date(2026, 8, 31)),  # a last day is enough
              person(None, leaving_on=dt.date(2026, 8, 31)),
              person(status="departed", hired=dt.date(2026, 3, 1))):  # before "joined this year"
        got = line(p, "12000.00")
        assert (got.outcome, got.new_base, got.average_wage) == (Outcome.DEPARTING, None, Decimal("12000.00")), p
        assert not got.outcome.declared
    assert line(person(status="departed"), None).outcome is Outcome.DEPARTING  # before "no wage"


def test_not_enrolled_in_the_city() -> None:
    got = line(person(None), "12000.00")
    assert (got.outcome, got.old_base, got.new_base, got.average_wage) == (
        Outcome.NOT_ENROLLED, None, None, Decimal("12000.00"))
    assert line(person(None, hired=dt.date(2026, 3, 1)), "12000.00").outcome is Outcome.NOT_ENROLLED  # before joined
    assert line(person(None), None).outcome is Outcome.NOT_ENROLLED  # before "no wage"
    assert not Outcome.NOT_ENROLLED.declared


@pytest.mark.parametrize("hired", [dt.date(2026, 1, 1), dt.date(2026, 3, 1), dt.date(2026, 6, 30)])
def test_joined_this_year_keeps_her_base(hired: dt.date) -> None:
    got = line(person("9000.00", hired=hired), "12000.00")
    assert (got.outcome, got.old_base, got.new_base, got.flags) == (
        Outcome.JOINED_THIS_YEAR, Decimal("9000.00"), Decimal("9000.00"), [])
    assert not got.outcome.declared
    assert line(person("9000.00", hired=hired), None).outcome is Outcome.JOINED_THIS_YEAR  # before "no wage"


def test_the_wage_year_is_the_year_before_the_effective_month() -> None:
    # Effective January 2027, the wages are 2026's: hired in March 2026 she is adjusted, flagged.
    got = line(person("9000.00", hired=dt.date(2026, 3, 1)), "12000.00", dt.date(2027, 1, 1))
    assert (got.outcome, got.new_base, got.flags) == (Outcome.ADJUSTED, Decimal("12000.00"), ["joined_mid_year"])
    hired_2027 = line(person("9000.00", hired=dt.date(2027, 1, 1)), "12000.00", dt.date(2027, 1, 1))
    assert (hired_2027.outcome, hired_2027.new_base) == (Outcome.JOINED_THIS_YEAR, Decimal("9000.00"))


def test_no_wage_waits_for_the_maker() -> None:
    got = line(person(), None)
    assert (got.outcome, got.old_base, got.new_base, got.average_wage) == (
        Outcome.NO_WAGE, Decimal("10000.00"), None, None)
    assert not got.outcome.declared


# ---------------------------------------------------------------- the flags


@pytest.mark.parametrize(("hired", "flags"), [
    (dt.date(2025, 6, 15), ["joined_mid_year"]),
    (dt.date(2025, 1, 2), ["joined_mid_year"]),  # a day late is part of the year
    (dt.date(2025, 12, 31), ["joined_mid_year"]),
    (dt.date(2025, 1, 1), []),  # the whole of last year
    (dt.date(2024, 12, 31), []),
    (dt.date(2010, 9, 1), []),
])
def test_joined_during_last_year(hired: dt.date, flags: list[str]) -> None:
    got = line(person(hired=hired), "12000.00")
    assert (got.outcome, got.new_base, got.flags) == (Outcome.ADJUSTED, Decimal("12000.00"), flags)


def test_on_maternity_leave_she_is_adjusted_as_anyone() -> None:
    on_leave = line(person(on_leave=True), "12000.00")
    assert (on_leave.outcome, on_leave.new_base, on_leave.flags) == (
        Outcome.ADJUSTED, Decimal("12000.00"), ["on_maternity_leave"])
    raised = line(person(on_leave=True), "5000.00")
    assert (raised.outcome, raised.new_base, raised.flags) == (Outcome.RAISED_TO_FLOOR, FLOOR, ["on_maternity_leave"])
    capped = line(person(on_leave=True), "90000.00")
    assert (capped.outcome, capped.new_base, capped.flags) == (Outcome.CAPPED_AT_CEILING, CEILING, ["on_maternity_leave"])


def test_both_flags_together() -> None:
    got = line(person(hired=dt.date(2025, 9, 1), on_leave=True), "8000.00")
    assert (got.outcome, got.new_base, got.flags) == (
        Outcome.ADJUSTED, Decimal("8000.00"), ["joined_mid_year", "on_maternity_leave"])


# ---------------------------------------------------------------- declared, and the rules shown


@pytest.mark.parametrize(("outcome", "declared"), [
    (Outcome.ADJUSTED, True),
    (Outcome.RAISED_TO_FLOOR, True),
    (Outcome.CAPPED_AT_CEILING, True),
    (Outcome.CORRECTED, True),
    (Outcome.UNCHANGED, False),
    (Outcome.JOINED_THIS_YEAR, False),
    (Outcome.DEPARTING, False),
    (Outcome.NO_WAGE, False),
    (Outcome.NOT_ENROLLED, False),
])
def test_which_outcomes_are_declared(outcome: Outcome, declared: bool) -> None:
    assert outcome.declared is declared


def test_every_outcome_is_decided_declared_or_not() -> None:
    assert {o.value for o in Outcome} == {
        "adjusted", "raised_to_floor", "capped_at_ceiling", "corrected", "unchanged", "joined_this_year",
        "departing", "no_wage", "not_enrolled"}
    assert DECLARED == {Outcome.ADJUSTED, Outcome.RAISED_TO_FLOOR, Outcome.CAPPED_AT_CEILING, Outcome.CORRECTED}


def test_every_outcome_and_flag_states_its_rule() -> None:
    # The flags the lines above carry, gathered from the lines themselves, are among FLAGS.
    seen = {flag for ln in (line(person(hired=dt.date(2025, 9, 1), on_leave=True), "8000.00"),
                            line(person(hired=dt.date(2025, 3, 1)), "6000.00"),
                            line(person(on_leave=True), "90000.00")) for flag in ln.flags}
    assert seen == set(FLAGS)
    for code in [*(o.value for o in Outcome), *FLAGS]:
        assert code in RULES, code
        zh, en, source = RULES[code]
        assert CJK.search(zh), f"{code}: no Chinese in {zh!r}"
        assert en.strip() and not CJK.search(en), f"{code}: {en!r} is not English"
        assert source.strip(), code
        assert rule_text(code) == f"{zh} ({en})"


def test_rule_text_reads_chinese_then_english() -> None:
    assert rule_text("raised_to_floor") == "低于下限，按下限核定 (below the floor: the floor)"
    assert rule_text("capped_at_ceiling") == "高于上限，按上限核定 (above the ceiling: the ceiling)"
    assert rule_text("joined_mid_year") == (
        "上年度中途入职：按实际工作月份的月平均工资核定 (joined during last year: the average over the months she worked)")


# ---------------------------------------------------------------- the months back-paid


@pytest.mark.parametrize(("effective", "declared", "months"), [
    (JULY, dt.date(2026, 9, 15), ["2026-07", "2026-08"]),
    (JULY, dt.date(2026, 7, 1), []),  # declared in the effective month: billed at the new base already
    (JULY, dt.date(2026, 7, 31), []),
    (JULY, dt.date(2026, 8, 1), ["2026-07"]),
    (JULY, dt.date(2026, 6, 15), []),  # declared before the notice is in force: nothing back-paid
    (dt.date(2026, 11, 1), dt.date(2027, 2, 1), ["2026-11", "2026-12", "2027-01"]),  # across the year's end
    (dt.date(2026, 12, 1), dt.date(2027, 1, 20), ["2026-12"]),
    (JULY, dt.date(2027, 7, 1), ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12",
                                 "2027-01", "2027-02", "2027-03", "2027-04", "2027-05", "2027-06"]),
])
def test_months_back_paid(effective: dt.date, declared: dt.date, months: list[str]) -> None:
    assert back_pay_months(effective, declared) == months


# ---------------------------------------------------------------- each insurance's monthly difference


def test_monthly_difference_per_insurance_to_the_fen() -> None:
    # 35,811 -> 36,348 at Beijing's rates. Hers: pension 8% 2,864.88 -> 2,907.84 = 42.96; medical
    # 2% + 3 yuan 719.22 -> 729.96 = 10.74; unemployment 0.5% 179.055 billed 179.06 -> 181.74 = 2.68
    # (the difference rounded once would be 537 x 0.5% = 2.685 -> 2.69: each month is rounded, then
    # subtracted); work injury and maternity she does not pay. The employer's pension 16%
    # 5,729.76 -> 5,815.68 = 85.92; Beijing holds no other employer rate, which counts as nothing.
    delta = monthly_delta(Decimal("35811.00"), Decimal("36348.00"), POLICY.rates)
    assert list(delta.employee) == INSURANCES and list(delta.employer) == INSURANCES
    assert fen(delta.employee) == {"pension": "42.96", "medical": "10.74", "unemployment": "2.68",
                                   "work_injury": "0.00", "maternity": "0.00"}
    assert fen(delta.employer) == {"pension": "85.92", "medical": "0.00", "unemployment": "0.00",
                                   "work_injury": "0.00", "maternity": "0.00"}
    assert fen({"employee": delta.employee_total, "employer": delta.employer_total}) == {
        "employee": "56.38", "employer": "85.92"}  # 42.96 + 10.74 + 2.68


def test_the_difference_is_the_bill_at_the_new_base_less_the_old() -> None:
    # 10,000 -> 13,560.25 at made-up full rates. Hers: pension 800.00 -> 1,084.82 = 284.82; medical
    # 203.00 -> 271.205 + 3 = 274.205 -> 274.21 = 71.21; unemployment 50.00 -> 67.80125 -> 67.80 =
    # 17.80; total 373.83. The employer's: pension 1,600.00 -> 2,169.64 = 569.64; medical 9.8%
    # 980.00 -> 1,328.9045 -> 1,328.90 = 348.90; unemployment 50.00 -> 67.80 = 17.80; work injury
    # 0.4% 40.00 -> 54.241 -> 54.24 = 14.24; maternity 0.8% 80.00 -> 108.482 -> 108.48 = 28.48;
    # total 979.06.
    full = rates(**FULL)
    delta = monthly_delta(Decimal("10000.00"), Decimal("13560.25"), full)
    assert fen(delta.employee) == {"pension": "284.82", "medical": "71.21", "unemployment": "17.80",
                                   "work_injury": "0.00", "maternity": "0.00"}
    assert fen(delta.employer) == {"pension": "569.64", "medical": "348.90", "unemployment": "17.80",
                                   "work_injury": "14.24", "maternity": "28.48"}
    assert (str(delta.employee_total), str(delta.employer_total)) == ("373.83", "979.06")
    # And each is what the agency bills at the new base less what it billed at the old.
    before, _ = monthly_lines(Decimal("10000.00"), full)
    after, _ = monthly_lines(Decimal("13560.25"), full)
    for old, new in zip(before, after, strict=True):
        assert delta.employee[new.insurance] == (new.employee_monthly or 0) - (old.employee_monthly or 0)
        assert delta.employer[new.insurance] == (new.employer_monthly or 0) - (old.employer_monthly or 0)


def test_a_tenth_of_a_yuan_moves_only_what_the_rounding_lets_through() -> None:
    # 7,270.00 -> 7,270.10 at made-up full rates, each month to the fen: her pension 581.60 ->
    # 581.608 -> 581.61 = 0.01; medical 148.40 -> 148.402 -> 148.40 = 0; unemployment 36.35 ->
    # 36.3505 -> 36.35 = 0. The employer's pension 1,163.20 -> 1,163.216 -> 1,163.22 = 0.02; medical
    # 712.46 -> 712.4698 -> 712.47 = 0.01; the rest unmoved.
    delta = monthly_delta(Decimal("7270.00"), Decimal("7270.10"), rates(**FULL))
    assert fen(delta.employee) == {"pension": "0.01", "medical": "0.00", "unemployment": "0.00",
                                   "work_injury": "0.00", "maternity": "0.00"}
    assert fen(delta.employer) == {"pension": "0.02", "medical": "0.01", "unemployment": "0.00",
                                   "work_injury": "0.00", "maternity": "0.00"}
    assert (str(delta.employee_total), str(delta.employer_total)) == ("0.01", "0.03")


def test_a_lower_base_saves() -> None:
    # 12,000 -> 10,000: hers 960 -> 800, 243 -> 203, 60 -> 50; the employer's pension 1,920 -> 1,600.
    lower = monthly_delta(Decimal("12000.00"), Decimal("10000.00"), POLICY.rates)
    assert fen(lower.employee) == {"pension": "-160.00", "medical": "-40.00", "unemployment": "-10.00",
                                   "work_injury": "0.00", "maternity": "0.00"}
    assert fen(lower.employer) == {"pension": "-320.00", "medical": "0.00", "unemployment": "0.00",
                                   "work_injury": "0.00", "maternity": "0.00"}
    assert (str(lower.employee_total), str(lower.employer_total)) == ("-210.00", "-320.00")
    # Down from the ceiling, the same fen as up to it, negative: 42.96, 10.74, 2.68; 85.92.
    down = monthly_delta(Decimal("36348.00"), Decimal("35811.00"), POLICY.rates)
    assert fen(down.employee) == {"pension": "-42.96", "medical": "-10.74", "unemployment": "-2.68",
                                  "work_injury": "0.00", "maternity": "0.00"}
    assert (str(down.employee_total), str(down.employer_total)) == ("-56.38", "-85.92")


def test_the_same_base_costs_nothing() -> None:
    for policy_rates in (POLICY.rates, rates(**FULL)):
        same = monthly_delta(Decimal("12000.00"), Decimal("12000.00"), policy_rates)
        assert fen(same.employee) == dict.fromkeys(INSURANCES, "0.00")
        assert fen(same.employer) == dict.fromkeys(INSURANCES, "0.00")
        assert (str(same.employee_total), str(same.employer_total)) == ("0.00", "0.00")


def test_a_rate_the_catalogue_lacks_counts_as_nothing() -> None:
    # Her medical rate missing (she pays it, the catalogue does not say how much): no difference
    # there, and the rate is listed missing; the rest as ever.
    gap = rates(**{**FULL, "medical": (None, None, "0.098", True)})
    delta = monthly_delta(Decimal("10000.00"), Decimal("13560.25"), gap)
    assert fen(delta.employee) == {"pension": "284.82", "medical": "0.00", "unemployment": "17.80",
                                   "work_injury": "0.00", "maternity": "0.00"}
    assert str(delta.employee_total) == "302.62"  # 284.82 + 17.80
    assert missing_rates(gap) == ["medical.employee"]


def test_the_totals_are_the_sums() -> None:
    made = MonthlyDelta(employee={"a": Decimal("1.25"), "b": Decimal("-0.30")}, employer={})
    assert (str(made.employee_total), str(made.employer_total)) == ("0.95", "0.00")


# ---------------------------------------------------------------- the rates missing


def test_rates_the_catalogue_lacks_are_listed() -> None:
    assert missing_rates(POLICY.rates) == [
        "medical.employer", "unemployment.employer", "work_injury.employer", "maternity.employer"]
    assert missing_rates(rates(**FULL)) == []
    # An employee rate is missing only where she pays: work injury's None is no gap.
    assert missing_rates(rates(**{**FULL, "pension": (None, None, None, True)})) == [
        "pension.employee", "pension.employer"]
