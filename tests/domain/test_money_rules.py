"""The pure money rules, each worked out by hand from the rule it implements.

Every expected figure is a string compared with ``str()`` of the result, so a test checks the value
and that it is in fen (two decimal places). The arithmetic behind each figure is in the comment
beside it. Rates in the contribution tests are made up on purpose (``_rates``), so they test the
rule and not the catalogue's figures; where a test relies on a catalogue figure it asserts it first.

Rounding, as the code does it today:
- ``domain.maternity.installments``: each share rounded DOWN to the fen, the last one takes the rest;
- ``domain.maternity.allowance`` and the damages cap in ``domain.offboarding.final_pay``:
  ``quantize(FEN)`` with the decimal context's default, ROUND_HALF_EVEN;
- everything in ``domain.policy`` and ``domain.si_change``: ROUND_HALF_UP.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.maternity import allowance, installments, months_on_leave_at_cutoff
from domain.months import add_months
from domain.offboarding import Deduction, FinalPay, final_pay
from domain.policy import (
    PolicyError,
    contribution_rates,
    employee_deduction,
    maternity_allowance,
    max_wage_deduction,
    non_compete_compensation,
    pin_offboarding,
    pin_si_change,
)
from domain.policy.contributions import ContributionRates
from domain.policy.maternity import allowance_rule
from domain.policy.pinning import OffboardingSnapshot, SiChangeSnapshot
from domain.si_change import ChangeKind, estimate, monthly_lines, personal_monthly

D = dt.date
ON = D(2026, 3, 2)
MINIMUM = Decimal("2540.00")  # a local minimum wage, per month


def yuan(value: object) -> str:
    """The figure as written, so ``"460.00"`` checks both the amount and that it is in fen."""
    assert isinstance(value, Decimal), f"{value!r} is not a Decimal"
    return str(value)


# ---------------------------------------------------------------- installments


def test_installments_split_in_fen_and_the_last_takes_the_remainder():
    # 100.00 / 3 = 33.333... -> 33.33 each; the last is 100.00 - 2 x 33.33 = 33.34.
    assert [yuan(p) for p in installments(Decimal("100.00"), 3)] == ["33.33", "33.33", "33.34"]


def test_installment_shares_round_down_never_up():
    # 200.00 / 3 = 66.666... -> 66.66 (half-up would give 66.67, and 3 x 66.67 = 200.01 is more than
    # is owed); the last is 200.00 - 2 x 66.66 = 66.68.
    assert [yuan(p) for p in installments(Decimal("200.00"), 3)] == ["66.66", "66.66", "66.68"]


@pytest.mark.parametrize(("total", "count"), [
    ("0.01", 1), ("1234.56", 7), ("9999.99", 24), ("6312.00", 5), ("0.05", 24), ("123.45", 2),
])
def test_installments_sum_exactly_to_the_total(total, count):
    amount = Decimal(total)
    parts = installments(amount, count)
    assert sum(parts, Decimal("0.00")) == amount
    assert all(p > 0 and p == p.quantize(Decimal("0.01")) for p in parts)
    assert 1 <= len(parts) <= count
    # Equal shares of floor(total / count) fen; the last is larger by less than one fen per installment.
    *equal, last = parts
    assert len(set(equal)) <= 1
    if equal:
        assert Decimal(0) <= last - equal[0] < Decimal("0.01") * count


def test_one_installment_is_the_whole_total():
    assert [yuan(p) for p in installments(Decimal("7890.12"), 1)] == ["7890.12"]


def test_installments_of_zero_fen_are_left_out():
    # 0.02 / 3 = 0.0066... -> 0.00, 0.00; the last takes 0.02: only the one deduction remains.
    assert [yuan(p) for p in installments(Decimal("0.02"), 3)] == ["0.02"]


@pytest.mark.parametrize("total", ["0.00", "0", "-5.00"])
def test_nothing_to_recover_gives_no_installments(total):
    assert installments(Decimal(total), 3) == []


@pytest.mark.parametrize("count", [0, -1])
def test_installments_need_at_least_one(count):
    with pytest.raises(ValueError, match="at least one installment"):
        installments(Decimal("100.00"), count)


def test_installments_do_not_take_a_float():
    with pytest.raises((TypeError, AttributeError)):
        installments(100.0, 3)


# ---------------------------------------------------------------- months an advance is booked


def test_advance_months_are_the_cutoffs_inside_the_leave():
    # Leave 10 March to 15 July, cut-off the 25th: March to June; 25 July is after the last day.
    assert months_on_leave_at_cutoff(D(2026, 3, 10), D(2026, 7, 15), 25) == [
        D(2026, 3, 25), D(2026, 4, 25), D(2026, 5, 25), D(2026, 6, 25)]


def test_advance_months_include_a_leave_that_starts_or_ends_on_the_cutoff():
    assert months_on_leave_at_cutoff(D(2026, 3, 25), D(2026, 6, 25), 25) == [
        D(2026, 3, 25), D(2026, 4, 25), D(2026, 5, 25), D(2026, 6, 25)]
    # A day later at the start, a day earlier at the end: one month fewer each side.
    assert months_on_leave_at_cutoff(D(2026, 3, 26), D(2026, 6, 24), 25) == [D(2026, 4, 25), D(2026, 5, 25)]


def test_advance_months_cross_the_year_and_may_be_none():
    assert months_on_leave_at_cutoff(D(2025, 11, 30), D(2026, 2, 10), 28) == [D(2025, 12, 28), D(2026, 1, 28)]
    # 26 March to 24 April holds no 25th: no advance is booked.
    assert months_on_leave_at_cutoff(D(2026, 3, 26), D(2026, 4, 24), 25) == []


# ---------------------------------------------------------------- the case's allowance estimate


def test_case_allowance_is_wage_over_divisor_times_days():
    # 12345.67 x 158 = 1950615.86; / 30 = 65020.528666... -> 65020.53
    assert yuan(allowance(Decimal("12345.67"), 158, 30)) == "65020.53"
    # 9000 x 98 / 30 = 29400 exactly, written in fen.
    assert yuan(allowance(Decimal(9000), 98, 30)) == "29400.00"
    assert yuan(allowance(Decimal(9000), 0, 30)) == "0.00"


def test_case_allowance_is_not_a_rounded_daily_amount_times_days():
    # 10000 x 98 / 30 = 32666.666... -> 32666.67; a daily 333.33 x 98 would be 32666.34.
    assert yuan(allowance(Decimal(10000), 98, 30)) == "32666.67"


def test_case_allowance_rounds_a_half_fen_to_even():
    # 12345.15 x 1 / 30 = 411.505 exactly: banker's rounding gives 411.50. The policy's
    # maternity_allowance rounds half up and gives 411.51 (see the test below): they differ on ties.
    assert yuan(allowance(Decimal("12345.15"), 1, 30)) == "411.50"


def test_case_allowance_does_not_take_a_float():
    with pytest.raises((TypeError, AttributeError)):
        allowance(9000.0, 98, 30)


# ---------------------------------------------------------------- the policy's maternity allowance


def test_beijing_allowance_rule_is_the_one_these_figures_assume():
    owner, rule = allowance_rule("beijing", ON)
    assert (owner, rule.divisor, rule.employer_makes_up_shortfall) == ("beijing", 30, True)


def test_allowance_from_the_exact_quotient_and_the_daily_amount_for_information():
    result = maternity_allowance("beijing", employer_average_monthly_wage=Decimal(10000), leave_days=98, on=ON)
    # 10000 x 98 / 30 = 32666.666... -> 32666.67; daily 10000 / 30 = 333.333... -> 333.33.
    assert (yuan(result.allowance), yuan(result.daily_amount)) == ("32666.67", "333.33")
    assert result.employee_leave_pay is None and result.employer_top_up is None


def test_allowance_rounds_half_a_fen_up():
    result = maternity_allowance("beijing", employer_average_monthly_wage=Decimal("12345.15"), leave_days=1, on=ON)
    # 12345.15 / 30 = 411.505 exactly -> 411.51 (half-even would give 411.50).
    assert (yuan(result.allowance), yuan(result.daily_amount)) == ("411.51", "411.51")


@pytest.mark.parametrize(("own", "days", "expected"), [
    # allowance 9000 x 98 / 30 = 29400.00; her own pay 12000 x 98 / 30 = 39200.00; top-up 9800.00.
    pytest.param("12000", 98, ("29400.00", "39200.00", "9800.00"), id="the employer makes up a lower allowance"),
    # 6000 x 98 / 30 = 19600.00 < 29400.00: the top-up is 0.00, never negative.
    pytest.param("6000", 98, ("29400.00", "19600.00", "0.00"), id="no top-up when the allowance is higher"),
    pytest.param("12000", 0, ("0.00", "0.00", "0.00"), id="no days, no allowance"),
])
def test_allowance_and_the_employers_top_up(own, days, expected):
    result = maternity_allowance("beijing", employer_average_monthly_wage=Decimal(9000), leave_days=days, on=ON,
                                 employee_monthly_wage=Decimal(own))
    assert (yuan(result.allowance), yuan(result.employee_leave_pay), yuan(result.employer_top_up)) == expected


def test_allowance_takes_int_and_decimal_strings_alike():
    exact = maternity_allowance("beijing", employer_average_monthly_wage=Decimal(9000), leave_days=98, on=ON)
    for given in (9000, "9000", "9000.00"):
        other = maternity_allowance("beijing", employer_average_monthly_wage=given, leave_days=98, on=ON)
        assert other.allowance == exact.allowance


@pytest.mark.parametrize(("wage", "days", "own", "field"), [
    (Decimal(-1), 98, None, "employer_average_monthly_wage"),
    (Decimal(9000), -1, None, "leave_days"),
    (Decimal(9000), 98, Decimal("-0.01"), "employee_monthly_wage"),
    (9000.0, 98, None, "employer_average_monthly_wage"),
    (True, 98, None, "employer_average_monthly_wage"),
    (Decimal(9000), 98, 12000.0, "employee_monthly_wage"),
])
def test_allowance_refuses_negative_and_float_input(wage, days, own, field):
    with pytest.raises(PolicyError) as err:
        maternity_allowance("beijing", employer_average_monthly_wage=wage, leave_days=days, on=ON,
                            employee_monthly_wage=own)
    assert err.value.field == field


@pytest.mark.parametrize("wage", ["9000", "12345.67", "7162", "35811.11"])
def test_case_and_policy_allowance_agree_off_ties(wage):
    policy = maternity_allowance("beijing", employer_average_monthly_wage=Decimal(wage), leave_days=158, on=ON)
    assert allowance(Decimal(wage), 158, 30) == policy.allowance


# ---------------------------------------------------------------- final pay


@pytest.fixture(scope="module")
def offboarding() -> OffboardingSnapshot:
    snapshot = pin_offboarding("beijing", ON)
    rule = snapshot.wage_deductions
    assert (rule.max_rate_of_monthly_wage, rule.remainder_not_below_minimum_wage) == (Decimal("0.20"), True)
    return snapshot


def _pay(policy: OffboardingSnapshot, wages: str, *, monthly: str | None = None, agreed: str | None = None,
         damages: str | None = None, compensation: str = "0.00", handover_complete: bool = True) -> FinalPay:
    deductions = []
    if agreed is not None:
        deductions.append(Deduction(title="laptop repayment", amount=Decimal(agreed), agreed_in_writing=True))
    if damages is not None:
        deductions.append(Deduction(title="lost equipment", amount=Decimal(damages), agreed_in_writing=False))
    return final_pay(wages_due=Decimal(wages), monthly_wage=Decimal(monthly or wages), minimum_wage=MINIMUM,
                     deductions=deductions, economic_compensation=Decimal(compensation),
                     handover_complete=handover_complete, policy=policy)


def _money(pay: FinalPay) -> tuple[str, str, str, str, str]:
    return (yuan(pay.wages_due), yuan(pay.agreed_deductions), yuan(pay.damages_deducted),
            yuan(pay.damages_to_recover), yuan(pay.net_wages))


# (wages due, monthly wage, agreed in writing, damages) -> (wages due, agreed, damages deducted,
# damages to recover, net wages); the minimum wage is 2540.00 throughout.
FINAL_PAY = [
    # cap 10000.00 x 20% = 2000.00 (10000.00 - 2540.00 = 7460.00 leaves room); 1000.00 left to recover.
    pytest.param(("10000.00", None, None, "3000.00"), ("10000.00", "0.00", "2000.00", "1000.00", "8000.00"),
                 id="a fifth of the monthly wage caps damages"),
    pytest.param(("10000.00", None, None, "100.00"), ("10000.00", "0.00", "100.00", "0.00", "9900.00"),
                 id="damages below the cap are deducted in full"),
    # 20% of 3000.00 = 600.00, but 3000.00 - 2540.00 = 460.00 is all that may go; 540.00 to recover.
    pytest.param(("3000.00", None, None, "1000.00"), ("3000.00", "0.00", "460.00", "540.00", "2540.00"),
                 id="what remains is never below the minimum wage"),
    # cap 5000.00 x 20% = 1000.00; room 5000.00 - 2000.00 - 2540.00 = 460.00: 460.00 taken.
    pytest.param(("5000.00", None, "2000.00", "1000.00"), ("5000.00", "2000.00", "460.00", "540.00", "2540.00"),
                 id="agreed deductions count before the minimum wage"),
    # room 3000.00 - 1000.00 - 2540.00 = -540.00 -> 0.00: nothing taken, all 500.00 to recover.
    pytest.param(("3000.00", None, "1000.00", "500.00"), ("3000.00", "1000.00", "0.00", "500.00", "2000.00"),
                 id="no damages once agreed deductions reach the minimum wage"),
    # What she agreed to in writing is not damages: no 20% cap (4000.00 > 2000.00).
    pytest.param(("10000.00", None, "4000.00", None), ("10000.00", "4000.00", "0.00", "0.00", "6000.00"),
                 id="agreed deductions are not capped"),
    # 12 of 26 working days of a 10000.00 month: wages due 4615.38. The cap is 10000.00 x 20% = 2000.00
    # (not 20% of 4615.38 = 923.08); the room is 4615.38 - 2540.00 = 2075.38.
    pytest.param(("4615.38", "10000.00", None, "2500.00"), ("4615.38", "0.00", "2000.00", "500.00", "2615.38"),
                 id="a partial month caps on the monthly wage"),
    # cap 2000.00, but room 3000.00 - 2540.00 = 460.00.
    pytest.param(("3000.00", "10000.00", None, "2500.00"), ("3000.00", "0.00", "460.00", "2040.00", "2540.00"),
                 id="a partial month floors on the wages due"),
    pytest.param(("8888.88", None, None, None), ("8888.88", "0.00", "0.00", "0.00", "8888.88"),
                 id="nothing deducted"),
]


@pytest.mark.parametrize(("given", "expected"), FINAL_PAY)
def test_final_pay(offboarding, given, expected):
    wages, monthly, agreed, damages = given
    assert _money(_pay(offboarding, wages, monthly=monthly, agreed=agreed, damages=damages)) == expected


@pytest.mark.parametrize(("monthly", "cap"), [("12345.67", "2469.13"), ("12345.68", "2469.14")])
def test_the_cap_is_rounded_to_the_fen(offboarding, monthly, cap):
    # 12345.67 x 0.20 = 2469.134 -> 2469.13; 12345.68 x 0.20 = 2469.136 -> 2469.14.
    pay = _pay(offboarding, monthly, damages="5000.00")
    assert yuan(pay.damages_deducted) == cap


@pytest.mark.parametrize("monthly", ["10000.00", "3000.00", "2540.00", "2000.00", "12345.67", "3175.00"])
def test_final_pay_and_the_policy_cap_agree(offboarding, monthly):
    pay = _pay(offboarding, monthly, damages="99999.00")
    assert pay.damages_deducted == max_wage_deduction(Decimal(monthly), MINIMUM, ON)


def test_without_the_minimum_wage_floor_only_the_fifth_caps(offboarding):
    rule = offboarding.wage_deductions.model_copy(update={"remainder_not_below_minimum_wage": False})
    policy = offboarding.model_copy(update={"wage_deductions": rule})
    pay = _pay(policy, "3000.00", damages="1000.00")
    # 3000.00 x 20% = 600.00, leaving 2400.00 below the minimum wage: allowed by this (made-up) rule.
    assert _money(pay) == ("3000.00", "0.00", "600.00", "400.00", "2400.00")


def test_nothing_deducted_nothing_withheld(offboarding):
    pay = _pay(offboarding, "8888.88")
    assert pay.compensation_held is False and len(pay.explanation) == 1


@pytest.mark.parametrize(("compensation", "handover_complete", "held"), [
    ("30000.00", False, True), ("30000.00", True, False), ("0.00", False, False),
])
def test_compensation_waits_for_the_handover_wages_do_not(offboarding, compensation, handover_complete, held):
    pay = _pay(offboarding, "10000.00", compensation=compensation, handover_complete=handover_complete)
    assert pay.compensation_held is held
    assert yuan(pay.economic_compensation) == compensation
    assert yuan(pay.net_wages) == "10000.00"  # the wages are paid in full either way (art. 9)


def test_final_pay_does_not_take_a_float(offboarding):
    with pytest.raises(TypeError):
        final_pay(wages_due=Decimal("10000.00"), monthly_wage=10000.0, minimum_wage=MINIMUM,
                  deductions=[], economic_compensation=Decimal(0), handover_complete=True, policy=offboarding)
    with pytest.raises(TypeError):
        final_pay(wages_due=10000.0, monthly_wage=Decimal("10000.00"), minimum_wage=MINIMUM,
                  deductions=[], economic_compensation=Decimal(0), handover_complete=True, policy=offboarding)


# ---------------------------------------------------------------- the policy's wage-deduction cap


def test_policy_cap_floors_at_zero_and_is_in_fen():
    # 20% of 2540.00 = 508.00 but nothing may go below the minimum wage; 2000.00 is below it already.
    assert yuan(max_wage_deduction(Decimal("2540.00"), MINIMUM, ON)) == "0.00"
    assert yuan(max_wage_deduction(Decimal("2000.00"), MINIMUM, ON)) == "0.00"
    # 3000 - 2540 = 460 (an integer difference) still comes back in fen.
    assert yuan(max_wage_deduction(Decimal(3000), Decimal(2540), ON)) == "460.00"
    # 3175.00 x 20% = 635.00 = 3175.00 - 2540.00: both limits meet.
    assert yuan(max_wage_deduction(Decimal("3175.00"), MINIMUM, ON)) == "635.00"


@pytest.mark.parametrize(("wage", "minimum"), [(10000.0, MINIMUM), (Decimal(10000), 2540.0), (True, MINIMUM)])
def test_policy_cap_refuses_floats(wage, minimum):
    with pytest.raises(PolicyError):
        max_wage_deduction(wage, minimum, ON)


# ---------------------------------------------------------------- non-compete compensation


def test_non_compete_is_thirty_percent_rounded_half_up():
    # 12345.55 x 0.30 = 3703.665 -> 3703.67 (half-even would give 3703.66).
    result = non_compete_compensation(Decimal("12345.55"), MINIMUM, ON)
    assert (yuan(result.monthly), yuan(result.from_wage), result.raised_to_minimum_wage) == (
        "3703.67", "3703.67", False)


def test_non_compete_is_raised_to_the_minimum_wage_only_below_it():
    # 8466.63 x 0.30 = 2539.989 -> 2539.99 < 2540.00: raised to 2540.00.
    low = non_compete_compensation(Decimal("8466.63"), MINIMUM, ON)
    assert (yuan(low.monthly), yuan(low.from_wage), low.raised_to_minimum_wage) == ("2540.00", "2539.99", True)
    # 8466.67 x 0.30 = 2540.001 -> 2540.00 = the minimum: not raised, the same amount.
    equal = non_compete_compensation(Decimal("8466.67"), MINIMUM, ON)
    assert (yuan(equal.monthly), equal.raised_to_minimum_wage) == ("2540.00", False)
    # A minimum wage given in whole yuan is paid in fen.
    assert yuan(non_compete_compensation(Decimal(5000), Decimal(2540), ON).monthly) == "2540.00"


def test_non_compete_takes_int_and_strings_refuses_floats():
    assert yuan(non_compete_compensation(20000, "2540", ON).monthly) == "6000.00"
    for wage, minimum in ((20000.0, MINIMUM), (Decimal(20000), 2540.0), (False, MINIMUM)):
        with pytest.raises(PolicyError):
            non_compete_compensation(wage, minimum, ON)


# ---------------------------------------------------------------- contributions


def test_employee_deduction_rounds_each_line_half_up():
    rates = contribution_rates("beijing", ON).rates
    assert [(rates[k].employee, rates[k].employee_fixed_monthly) for k in ("pension", "medical", "unemployment")] == [
        (Decimal("0.08"), None), (Decimal("0.02"), Decimal(3)), (Decimal("0.005"), None)]
    result = employee_deduction("beijing", Decimal("9005.00"), ON)
    # pension 9005.00 x 0.08 = 720.40; medical 9005.00 x 0.02 + 3 = 183.10;
    # unemployment 9005.00 x 0.005 = 45.025 -> 45.03 (half-even would give 45.02); total 948.53.
    assert {ln.insurance: yuan(ln.amount) for ln in result.lines} == {
        "pension": "720.40", "medical": "183.10", "unemployment": "45.03"}
    assert yuan(result.total) == "948.53"
    with pytest.raises(PolicyError):
        employee_deduction("beijing", 9005.0, ON)


@pytest.fixture(scope="module")
def si_policy() -> SiChangeSnapshot:
    return pin_si_change("beijing", ON)


def _rates(policy: SiChangeSnapshot, **given: tuple[str | None, str | None, str | None, bool]) -> ContributionRates:
    """Made-up rates: insurance=(employee rate, employee fixed monthly, employer rate, employee pays)."""
    template = policy.rates.rates["pension"]
    rates = {
        name: template.model_copy(update={
            "insurance": name, "employee": None if e is None else Decimal(e),
            "employee_fixed_monthly": None if f is None else Decimal(f),
            "employer": None if r is None else Decimal(r), "employee_pays": pays})
        for name, (e, f, r, pays) in given.items()
    }
    return policy.rates.model_copy(update={"rates": rates})


FULL = {
    "pension": ("0.08", None, "0.16", True),
    "medical": ("0.02", "3", "0.098", True),
    "unemployment": ("0.005", None, "0.005", True),
    "work_injury": (None, None, "0.004", False),
    "maternity": (None, None, "0.008", False),
}


def test_monthly_lines_per_insurance(si_policy):
    lines, missing = monthly_lines(Decimal("10000.00"), _rates(si_policy, **FULL))
    # employee: 800.00, 200.00 + 3 = 203.00, 50.00, and nothing for work injury and maternity;
    # employer: 1600.00, 980.00, 50.00, 40.00, 80.00.
    assert [(ln.insurance, yuan(ln.employee_monthly), yuan(ln.employer_monthly)) for ln in lines] == [
        ("pension", "800.00", "1600.00"), ("medical", "203.00", "980.00"), ("unemployment", "50.00", "50.00"),
        ("work_injury", "0.00", "40.00"), ("maternity", "0.00", "80.00")]
    assert missing == []


def test_the_fixed_amount_is_added_once_not_scaled(si_policy):
    # 20000.00 x 0.02 + 3 = 403.00 (not 406.00).
    assert yuan(personal_monthly(Decimal("20000.00"), _rates(si_policy, medical=("0.02", "3", "0.098", True)))) == (
        "403.00")


def test_personal_monthly_rounds_each_line_half_up(si_policy):
    # 7165.00: pension 573.20; medical 143.30 + 3 = 146.30; unemployment 35.825 -> 35.83 (half-even:
    # 35.82); her month is 573.20 + 146.30 + 35.83 = 755.33.
    assert yuan(personal_monthly(Decimal("7165.00"), _rates(si_policy, **FULL))) == "755.33"


def test_missing_rates_are_named_and_count_as_nothing(si_policy):
    rates = _rates(si_policy, **FULL | {"medical": (None, "3", "0.098", True),
                                        "work_injury": (None, None, None, False)})
    lines, missing = monthly_lines(Decimal("10000.00"), rates)
    assert missing == ["medical.employee", "work_injury.employer"]
    # Without a medical rate its fixed 3 yuan is not charged either: the line is unknown, not 3.00.
    assert [ln.employee_monthly for ln in lines if ln.insurance == "medical"] == [None]
    # 800.00 + 50.00 = 850.00: a lower bound.
    assert yuan(personal_monthly(Decimal("10000.00"), rates)) == "850.00"
    cost = estimate(ChangeKind.ENROLLMENT, Decimal("10000.00"), [], si_policy.model_copy(update={"rates": rates}))
    # employer 1600.00 + 980.00 + 50.00 + 80.00 = 2710.00
    assert (yuan(cost.employee_monthly), yuan(cost.employer_monthly), cost.missing) == (
        "850.00", "2710.00", ["medical.employee", "work_injury.employer"])


def test_estimate_of_one_month(si_policy):
    policy = si_policy.model_copy(update={"rates": _rates(si_policy, **FULL)})
    for kind in (ChangeKind.ENROLLMENT, ChangeKind.BASE_ADJUSTMENT):
        cost = estimate(kind, Decimal("10000.00"), [], policy)
        # employee 800.00 + 203.00 + 50.00 = 1053.00; employer 2750.00; together 3803.00.
        assert cost.month_count == 1
        assert [yuan(x) for x in (cost.employee_monthly, cost.employer_monthly, cost.monthly_total,
                                  cost.employee_total, cost.employer_total, cost.total)] == [
            "1053.00", "2750.00", "3803.00", "1053.00", "2750.00", "3803.00"]
        assert cost.policy_version == si_policy.version


def test_a_back_payment_costs_every_month_it_covers(si_policy):
    policy = si_policy.model_copy(update={"rates": _rates(si_policy, **FULL)})
    months = ["2025-10", "2025-11", "2025-12"]
    cost = estimate(ChangeKind.BACK_PAYMENT, Decimal("10000.00"), months, policy)
    # 3 x 1053.00 = 3159.00; 3 x 2750.00 = 8250.00; 3 x 3803.00 = 11409.00.
    assert (cost.month_count, cost.months) == (3, months)
    assert [yuan(x) for x in (cost.employee_total, cost.employer_total, cost.total)] == [
        "3159.00", "8250.00", "11409.00"]


def test_a_stop_costs_nothing_and_misses_nothing(si_policy):
    rates = _rates(si_policy, **FULL | {"pension": ("0.08", None, None, True)})
    cost = estimate(ChangeKind.STOP, None, [], si_policy.model_copy(update={"rates": rates}))
    assert (cost.month_count, yuan(cost.base), cost.missing) == (0, "0.00", [])
    assert [yuan(x) for x in (cost.employee_total, cost.employer_total, cost.total)] == ["0.00", "0.00", "0.00"]


@pytest.mark.parametrize(("day", "months", "expected"), [
    (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)), (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
    (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)), (dt.date(2026, 12, 15), 1, dt.date(2027, 1, 15)),
    (dt.date(2026, 1, 15), -13, dt.date(2024, 12, 15)), (dt.date(2026, 5, 31), 0, dt.date(2026, 5, 31)),
])
def test_whole_months_clamp_to_the_month_end(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected
