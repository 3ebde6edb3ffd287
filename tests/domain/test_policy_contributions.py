import datetime as dt
from decimal import Decimal

import pytest

from domain.policy import (
    BaseOutOfRange,
    NoRuleInForce,
    PolicyError,
    UnknownRegion,
    check_base,
    contribution_limits,
    contribution_rates,
    employee_deduction,
    load_catalogue,
)

D = dt.date

# city: (date, floor, ceiling, verified, source url fragment)
LIMITS = {
    "beijing": (D(2025, 7, 1), "7162", "35811", True, "rsj.beijing.gov.cn/xxgk/2024zcwj"),
    "shanghai": (D(2026, 1, 5), "7460", "37302", True, "rsj.sh.gov.cn"),
    "guangzhou": (D(2026, 1, 5), "5510", "27549", True, "hrss.gd.gov.cn"),
    "shenzhen": (D(2026, 1, 5), "4775", "27549", False, "hrss.gd.gov.cn"),
    "hangzhou": (D(2026, 1, 5), "4986", "25299", True, "zhejiang.chinatax.gov.cn"),
    "chengdu": (D(2026, 1, 5), "4588", "22938", True, "rst.sc.gov.cn"),
    "wuhan": (D(2026, 1, 5), "4498", "22488", True, "dxh.gov.cn"),
    "nanjing": (D(2026, 1, 5), "4952", "24762", False, None),
}


@pytest.mark.parametrize("city", sorted(LIMITS))
def test_limits_per_city_with_source(city):
    on, floor, ceiling, verified, url = LIMITS[city]
    limits = contribution_limits(city, on)
    assert (limits.floor, limits.ceiling) == (Decimal(floor), Decimal(ceiling))
    assert limits.verified is verified
    assert limits.rule.source.name
    if url:
        assert url in limits.rule.source.url
    else:
        assert limits.rule.note and "not recorded" in limits.rule.note


def test_beijing_contribution_years_run_july_to_june():
    assert contribution_limits("北京", D(2026, 6, 30)).floor == Decimal(7162)
    nxt = contribution_limits("北京市", D(2026, 7, 1))
    assert (nxt.floor, nxt.ceiling, nxt.verified) == (Decimal(7270), Decimal(36348), False)
    # Two secondary sources quote the 2026 notice, which was never read (audit 2026-12 §2.1).
    assert nxt.rule.source.basis == "secondary" and nxt.period_confirmed is False
    assert "t20260821_4831461" in nxt.rule.source.url
    with pytest.raises(NoRuleInForce) as err:
        contribution_limits("Beijing", D(2025, 6, 30))
    assert "2025-07-01" in str(err.value)


def test_ten_cities_known_and_guiyang_harbin_have_no_base():
    cities = {c.code for r in load_catalogue().provinces() for c in r.cities}
    assert set(LIMITS) | {"guiyang", "harbin"} <= cities
    for city in ("贵阳", "Harbin"):
        with pytest.raises(NoRuleInForce) as err:
            contribution_limits(city, D(2026, 1, 5))
        assert "contribution base" in str(err.value)


def test_base_outside_limits_is_rejected_with_the_limits():
    assert check_base("beijing", Decimal(7162), D(2026, 1, 5)).ceiling == Decimal(35811)
    with pytest.raises(BaseOutOfRange) as low:
        check_base("beijing", Decimal(5869), D(2026, 1, 5))
    assert "7162" in str(low.value) and "35811" in str(low.value) and "below" in str(low.value)
    with pytest.raises(BaseOutOfRange) as high:
        check_base("上海", "40000", D(2026, 1, 5))
    assert "7460" in str(high.value) and "37302" in str(high.value)
    with pytest.raises(PolicyError):
        check_base("beijing", 8000.5, D(2026, 1, 5))


def test_rates_merge_city_over_national():
    rates = contribution_rates("beijing", D(2026, 1, 5))
    pension = rates.rates["pension"]
    assert (pension.employee, pension.employer, pension.verified) == (Decimal("0.08"), Decimal("0.16"), True)
    medical = rates.rates["medical"]
    assert medical.employee_fixed_monthly == Decimal(3) and medical.verified is False
    assert medical.rule.region == "beijing"
    assert rates.rates["work_injury"].employee_pays is False
    assert rates.rates["work_injury"].employer is None  # not in the catalogue, never zero
    assert rates.housing_fund.min_rate.value == Decimal("0.05") and rates.housing_fund.min_rate.verified
    assert rates.housing_fund.max_rate.value == Decimal("0.12") and not rates.housing_fund.max_rate.verified
    assert contribution_rates("广州", D(2026, 1, 5)).rates["medical"].employee_fixed_monthly is None


def test_employee_deduction_in_fen():
    result = employee_deduction("beijing", Decimal("12345.67"), D(2026, 1, 5))
    amounts = {line.insurance: line.amount for line in result.lines}
    assert amounts == {"pension": Decimal("987.65"), "medical": Decimal("249.91"),
                       "unemployment": Decimal("61.73")}
    assert result.total == Decimal("1299.29") and result.verified is False


def test_unknown_city():
    with pytest.raises(UnknownRegion) as err:
        contribution_limits("Gotham", D(2026, 1, 5))
    assert err.value.field == "city" and "Gotham" in str(err.value)
