import datetime as dt
from decimal import Decimal

import pytest

from domain.policy import (
    BirthFacts,
    MissingFact,
    NoRuleInForce,
    PolicyError,
    UnknownRegion,
    leave_entitlement,
    load_catalogue,
    maternity_allowance,
    paternity_leave,
)

D = dt.date
BIRTH = D(2026, 3, 16)  # leave starts 15 days before: 2026-03-01 (Zhejiang: on the birth date)
SINGLE = BirthFacts(birth_date=BIRTH, child_order=1)
TWINS_DIFFICULT = BirthFacts(birth_date=BIRTH, babies=2, difficult_birth=True, child_order=1)

# province: (total, last day) for one baby, normal birth; then twins with a difficult birth.
# Totals are the source's figure; last days count calendar days from 2026-03-01.
EXPECTED = {
    "beijing": (158, D(2026, 8, 5), 188, D(2026, 9, 4)),
    "shanghai": (158, D(2026, 8, 6), 188, D(2026, 9, 4)),  # Dragon Boat 06-19 extends the extra 60
    "guangdong": (178, D(2026, 8, 25), 223, D(2026, 10, 9)),  # difficult birth +30 in Guangdong
    "zhejiang": (158, D(2026, 8, 20), 188, D(2026, 9, 19)),  # first child, counted from the birth
    "jiangsu": (158, D(2026, 8, 6), 188, D(2026, 9, 4)),  # extra 60 exclude holidays
    "sichuan": (188, D(2026, 9, 4), 218, D(2026, 10, 4)),
    "chongqing": (178, D(2026, 8, 25), 208, D(2026, 9, 24)),
    "hubei": (158, D(2026, 8, 5), 188, D(2026, 9, 4)),
    "tianjin": (158, D(2026, 8, 5), 188, D(2026, 9, 4)),
    "henan": (188, D(2026, 9, 4), 218, D(2026, 10, 4)),
    "hunan": (158, D(2026, 8, 5), 188, D(2026, 9, 4)),
    "shandong": (158, D(2026, 8, 5), 188, D(2026, 9, 4)),
    "fujian": (158, D(2026, 8, 5), 173, D(2026, 8, 20)),  # a difficult birth adds nothing
    # The whole leave excludes holidays: 04-05, 05-01, 05-02 and 06-19 fall inside it.
    "anhui": (158, D(2026, 8, 9), 188, D(2026, 9, 8)),
    "shaanxi": (158, D(2026, 8, 5), 188, D(2026, 9, 4)),
    "guizhou": (158, D(2026, 8, 5), 188, D(2026, 9, 4)),
    "heilongjiang": (180, D(2026, 8, 27), 210, D(2026, 9, 26)),
}
UNVERIFIED = {"guizhou", "heilongjiang", "anhui", "fujian", "zhejiang", "shaanxi"}
START_AT_BIRTH = {"zhejiang"}
# The audit found no maternity source for these (grade N): they have no provincial rule.
NO_SOURCE = {"hebei", "shanxi", "inner_mongolia", "liaoning", "jilin", "jiangxi", "guangxi", "hainan",
             "yunnan", "tibet", "gansu", "qinghai", "ningxia", "xinjiang"}


def test_every_catalogue_province_has_an_expectation():
    cat = load_catalogue()
    with_rule = {r.code for r in cat.provinces() if cat.rules(r.code, "maternity_leave")}
    assert with_rule == set(EXPECTED)
    assert {r.code for r in cat.provinces()} == set(EXPECTED) | NO_SOURCE


@pytest.mark.parametrize("province", sorted(EXPECTED))
def test_leave_per_province(province):
    total, last, twins_total, twins_last = EXPECTED[province]
    one = leave_entitlement(province, SINGLE)
    assert (one.total_days, one.last_day) == (total, last)
    if province in START_AT_BIRTH:
        assert one.leave_start == BIRTH and one.days_before_birth == 0
    else:
        assert one.leave_start == D(2026, 3, 1) and one.days_before_birth == 15
    assert one.provincial_rule_missing is False and one.confirm is None
    assert one.return_date == last + dt.timedelta(days=1)
    assert one.verified is (province not in UNVERIFIED)
    assert all(r.source.name for r in one.rules)
    two = leave_entitlement(province, TWINS_DIFFICULT)
    assert (two.total_days, two.last_day) == (twins_total, twins_last)


def test_return_date_and_first_working_day():
    two = leave_entitlement("北京", TWINS_DIFFICULT)
    assert two.return_date == D(2026, 9, 5)  # a Saturday
    assert two.first_working_day == D(2026, 9, 7)
    gd = leave_entitlement("广东", TWINS_DIFFICULT)
    assert gd.return_date == gd.first_working_day == D(2026, 10, 10)  # adjusted Saturday workday
    assert [c.code for c in gd.components] == [
        "national_base", "difficult_birth", "additional_babies", "provincial_extension"]
    assert gd.components[1].days == 30


def test_shanghai_extra_days_extended_over_national_day():
    leave = leave_entitlement("上海市", BirthFacts(birth_date=D(2026, 6, 1)))
    # 98 days 05-17..08-22, then 60 days from 08-23 skipping 09-25 and 10-01..03.
    assert leave.holiday_extension_days == 4
    assert leave.calendar_days == 162
    assert leave.last_day == D(2026, 10, 25)
    assert leave.provisional is False


def test_extension_into_unpublished_year_is_provisional():
    leave = leave_entitlement("shanghai", BirthFacts(birth_date=D(2026, 12, 1)))
    assert leave.last_day.year == 2027 and leave.provisional is True


def test_zhejiang_needs_child_order_and_gives_188_for_second():
    with pytest.raises(MissingFact) as err:
        leave_entitlement("zhejiang", BirthFacts(birth_date=BIRTH))
    assert err.value.field == "child_order"
    assert leave_entitlement("Zhejiang", BirthFacts(birth_date=BIRTH, child_order=2)).total_days == 188
    assert leave_entitlement("浙江", BirthFacts(birth_date=BIRTH, child_order=3)).total_days == 188


def test_miscarriage():
    early = leave_entitlement("beijing", BirthFacts(birth_date=BIRTH, outcome="miscarriage", pregnancy_months=3))
    late = leave_entitlement("beijing", BirthFacts(birth_date=BIRTH, outcome="miscarriage", pregnancy_months=4))
    assert (early.total_days, late.total_days) == (15, 42)
    assert late.leave_start == BIRTH and late.last_day == D(2026, 4, 26)
    with pytest.raises(MissingFact) as err:
        leave_entitlement("beijing", BirthFacts(birth_date=BIRTH, outcome="miscarriage"))
    assert err.value.field == "pregnancy_months"


def test_optional_extensions_are_shown_not_added():
    bj = leave_entitlement("beijing", SINGLE)
    assert [e.code for e in bj.optional_extensions] == ["employer_consent_extension"]
    fj = leave_entitlement("fujian", SINGLE)
    assert fj.total_days == 158 and fj.employer_may_extend_to_days == 180


def test_sichuan_rule_applies_to_births_from_2025_11_28():
    assert leave_entitlement("四川", BirthFacts(birth_date=D(2025, 11, 28))).total_days == 188
    # Before it the earlier rule is not encoded: the national floor, flagged for HR to confirm.
    earlier = leave_entitlement("四川", BirthFacts(birth_date=D(2025, 11, 27)))
    assert (earlier.total_days, earlier.provincial_rule_missing, earlier.verified) == (98, True, False)
    assert "2025-11-28" in earlier.confirm and [r.region for r in earlier.rules] == ["national"]


def test_leave_start_outside_the_window_is_refused():
    with pytest.raises(PolicyError) as err:
        leave_entitlement("beijing", BirthFacts(birth_date=BIRTH, leave_start=D(2026, 2, 1)))
    assert err.value.field == "leave_start"
    later = leave_entitlement("beijing", BirthFacts(birth_date=BIRTH, leave_start=BIRTH))
    assert later.last_day == D(2026, 8, 20)


def test_unknown_province_is_named():
    with pytest.raises(UnknownRegion) as err:
        leave_entitlement("Atlantis", SINGLE)
    assert "Atlantis" in str(err.value) and err.value.field == "province"


def test_paternity_leave_is_unverified():
    sh = paternity_leave("上海", D(2026, 1, 1))
    assert sh.days == 10 and sh.verified is False
    with pytest.raises(NoRuleInForce):
        paternity_leave("guizhou", D(2026, 1, 1))


def test_maternity_allowance_beijing_verified_formula():
    result = maternity_allowance("beijing", employer_average_monthly_wage=Decimal("12345.67"),
                                 leave_days=158, on=D(2026, 3, 1), employee_monthly_wage=Decimal(20000))
    assert result.allowance == Decimal("65020.53")  # 12345.67 * 158 / 30
    assert result.employee_leave_pay == Decimal("105333.33")
    assert result.employer_top_up == Decimal("40312.80")
    assert result.verified is True and result.rule.region == "beijing"


def test_maternity_allowance_elsewhere_is_unverified():
    result = maternity_allowance("guangdong", employer_average_monthly_wage=Decimal(9000),
                                 leave_days=178, on=D(2026, 3, 1))
    assert result.allowance == Decimal("53400.00") and result.verified is False
    assert result.rule.region == "national"
    with pytest.raises(PolicyError):
        maternity_allowance("beijing", employer_average_monthly_wage=9000.0, leave_days=1, on=D(2026, 3, 1))
