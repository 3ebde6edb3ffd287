import datetime as dt
from decimal import Decimal

import pytest

from domain import policy

D = dt.date
ON = D(2026, 1, 5)


def test_pension_transfer_guiyang_to_harbin():
    req = policy.transfer_requirements("贵阳", "哈尔滨", "pension", ON)
    assert (req.origin, req.destination) == ("guizhou", "heilongjiang")
    codes = {m.code: m for m in req.materials}
    assert codes["contribution_certificate"].zh == "参保缴费凭证"
    assert codes["contribution_certificate"].provided_by == "origin_office"
    assert codes["contribution_certificate"].verified is True
    steps = [(s.code, s.actor, s.time_limit_working_days) for s in req.steps]
    assert steps[1:] == [
        ("destination_review", "destination_office", 15),
        ("origin_transfer", "origin_office", 15),
        ("destination_close", "destination_office", 15),
    ]
    assert all(not s.verified for s in req.steps)  # art. 8 not read from the official text
    assert req.verified is False and "2009" in req.rule.source.name


@pytest.mark.parametrize("kind", ["medical", "unemployment", "housing_fund", "housing-fund", "公积金"])
def test_other_kinds_resolve(kind):
    req = policy.transfer_requirements("Guizhou", "Heilongjiang", kind, ON)
    assert req.steps and req.materials


def test_housing_fund_employer_change_30_days_and_unemployment_report_15():
    hf = policy.transfer_requirements("guizhou", "heilongjiang", "housing_fund", ON)
    assert hf.steps[0].time_limit_days == 30 and hf.steps[0].verified
    un = policy.transfer_requirements("guizhou", "heilongjiang", "unemployment", ON)
    assert un.steps[0].time_limit_days == 15


def test_work_injury_does_not_transfer_and_bad_kinds_raise():
    with pytest.raises(policy.NotTransferable) as err:
        policy.transfer_requirements("guizhou", "heilongjiang", "work_injury", ON)
    assert err.value.rule == "national.transfers.work_injury.2024"
    with pytest.raises(policy.UnknownRule):
        policy.transfer_requirements("guizhou", "heilongjiang", "pets", ON)
    with pytest.raises(policy.PolicyError) as same:
        policy.transfer_requirements("广州", "深圳", "pension", ON)
    assert same.value.field == "destination"


def test_labour_law_deadlines():
    assert policy.deadline("resignation_notice", D(2026, 3, 2)).due == D(2026, 4, 1)
    assert policy.deadline("resignation_notice_probation", D(2026, 3, 2)).due == D(2026, 3, 5)
    assert policy.deadline("separation_certificate", D(2026, 4, 1)).due == D(2026, 4, 1)
    transfer = policy.deadline("archive_and_insurance_transfer", D(2025, 9, 20))
    assert transfer.due == D(2025, 10, 9) and transfer.verified  # moved off the National Day holiday
    assert policy.deadline("unemployment_report", D(2026, 4, 1)).due == D(2026, 4, 16)
    assert policy.deadline("housing_fund_change", D(2026, 4, 1)).due == D(2026, 5, 6)  # 05-01..05 off
    assert policy.deadline("maternity_allowance_processing", D(2025, 9, 30)).due == D(2025, 10, 21)
    assert policy.deadline("non_compete_max_term", D(2026, 4, 1)).due == D(2028, 4, 1)
    give_up = policy.deadline("transfer_materials_give_up", D(2026, 1, 5))
    assert give_up.rule.source.basis == "company_policy" and give_up.due == D(2026, 2, 4)
    assert policy.deadline("non_compete_max_term", D(2026, 4, 1)).provisional is True


def test_unknown_deadline_and_listing():
    with pytest.raises(policy.UnknownRule) as err:
        policy.deadline("coffee_break", ON)
    assert "coffee_break" in str(err.value)
    assert {"resignation_notice", "archive_and_insurance_transfer"} <= set(policy.deadline_rules(ON))


def test_non_compete_compensation():
    plain = policy.non_compete_compensation(Decimal(20000), Decimal(2540), ON)
    assert plain.monthly == Decimal("6000.00") and not plain.raised_to_minimum_wage
    low = policy.non_compete_compensation(Decimal(5000), Decimal(2540), ON)
    assert low.monthly == Decimal("2540.00") and low.raised_to_minimum_wage
    assert low.rule.source.url.startswith("https://www.court.gov.cn")


def test_wage_deduction_cap():
    assert policy.max_wage_deduction(Decimal(10000), Decimal(2540), ON) == Decimal("2000.00")
    assert policy.max_wage_deduction(Decimal(3000), Decimal(2540), ON) == Decimal("460.00")
