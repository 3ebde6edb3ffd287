"""The operator layer without a database: notices checked at the edge, turned into catalogue rules
and calendar arrangements, merged over the shipped files, and gone again when uninstalled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from domain import workdays
from domain.policy import MissingFigure, NoRuleInForce, contribution_limits, leave_entitlement, load_catalogue
from domain.policy.catalogue import Catalogue
from domain.policy.check import DATA_DIR
from domain.policy.errors import NoticeRefused, UnknownRegion
from domain.policy.maternity import BirthFacts
from domain.policy.notices import NoticeIn, NoticeLayer, NoticeRecord, build_layer, check_notice, install

D = dt.date
AT = dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC)


def _record(n: int, notice: dict, **kw) -> NoticeRecord:
    checked = check_notice(NoticeIn.model_validate(notice), load_catalogue())
    return NoticeRecord(id=n, kind=checked.kind, region=checked.region, city=checked.city, scope=checked.scope,
                        effective_from=checked.effective_from, effective_to=checked.effective_to,
                        figures=checked.figures, source=checked.source.model_dump(), entered_by="hr.admin1",
                        entered_at=AT, approved_by="hr.admin2", approved_at=AT, **kw)


@pytest.fixture
def layer() -> Iterator[list[NoticeRecord]]:
    records: list[NoticeRecord] = []
    built: dict[str, NoticeLayer] = {}

    def provider() -> NoticeLayer:
        key = str(len(records))
        if key not in built:
            built[key] = build_layer(records, key)
        return built[key]

    install(provider)
    yield records
    install(None)


HOLIDAY = {"kind": "holiday_arrangement", "source": {"name": "2027 arrangement (test data)"},
           "figures": {"year": 2027, "days_off": sorted({"2027-02-08", "2027-02-09"}
                                                        | {d.isoformat() for d in workdays.statutory_holidays(2027)}),
                       "working_days": ["2027-01-31"]}}


def test_a_2027_arrangement_decides_working_days_and_is_known(layer) -> None:
    assert not workdays.is_arrangement_known(2027) and not workdays.is_working_day(D(2027, 1, 31))
    layer.append(_record(1, HOLIDAY))
    assert workdays.is_arrangement_known(2027) and workdays.years_known_by_notice() == [2027]
    assert workdays.is_working_day(D(2027, 1, 31))  # the adjusted Sunday
    assert not workdays.is_working_day(D(2027, 2, 8)) and not workdays.is_working_day(D(2027, 2, 9))
    assert workdays.is_working_day(D(2027, 2, 10))  # the package's guess no longer counts
    assert not workdays.add_working_days(D(2027, 3, 1), 5).provisional
    assert workdays.is_arrangement_known(2026)  # the package's years stay known


def test_uninstalled_layer_leaves_the_package_and_shipped_files() -> None:
    assert not workdays.is_arrangement_known(2027)
    assert load_catalogue().operator_version is None


def test_operator_base_takes_precedence_only_for_its_dates(layer) -> None:
    notice = {"kind": "contribution_base", "city": "shanghai", "effective_from": "2026-01-01", "effective_to": "2026-12-31",
              "source": {"name": "上海通知", "document_number": "沪人社〔2026〕1号"},
              "figures": {"floor": "7500", "ceiling": "37500"}}
    layer.append(_record(7, notice))
    mid = contribution_limits("上海", D(2026, 3, 1))
    assert mid.floor == Decimal("7500.00") and mid.rule.id == "operator.7.contribution_bases.shanghai"
    assert mid.rule.source.basis == "official" and not mid.rule.verified  # no page to check it against
    assert "hr.admin1" in mid.rule.note and "hr.admin2" in mid.rule.note
    assert contribution_limits("上海", D(2025, 12, 31)).rule.id == "shanghai.contribution_bases.shanghai.2025"
    cat = load_catalogue()
    assert cat.provenance(mid.rule)["layer"] == "operator"
    assert cat.provenance(contribution_limits("上海", D(2025, 12, 31)).rule) == {
        "layer": "shipped", "file": "shanghai.yaml", "source": "上海市 2025年度社会保险缴费基数上下限",
        "url": "https://rsj.sh.gov.cn/tdjjf_17554/20251024/t0035_1436357.html"}


def test_a_maternity_notice_takes_precedence_and_fills_a_province_without_a_file(layer) -> None:
    facts = BirthFacts(birth_date=D(2026, 12, 1), child_order=1)
    notice = {"kind": "maternity_leave", "province": "西藏", "effective_from": "2026-11-01",
              "source": {"name": "人口与计划生育条例 (test data)", "url": "https://www.gov.cn/x.html"},
              "figures": {"extra_days": 77, "counting": "calendar days, holidays included"}}
    layer.append(_record(3, notice))
    leave = leave_entitlement("西藏", facts)
    assert leave.total_days == 98 + 77 and "operator.3.maternity_leave.tibet" in [r.id for r in leave.rules]
    earlier = leave_entitlement("西藏", BirthFacts(birth_date=D(2026, 10, 1), child_order=1))
    assert "operator.3.maternity_leave.tibet" not in [r.id for r in earlier.rules]
    # A province the shipped files lack: refused, naming the notice; a notice gives it a file.
    base = load_catalogue(DATA_DIR)
    without = Catalogue.build({c: (base.file_names[c], f) for c, f in base.files.items() if c != "tibet"})
    with pytest.raises(UnknownRegion) as err:
        leave_entitlement("西藏", facts, catalogue=without)
    assert err.value.message.startswith("政策目录中没有 西藏自治区") and "POST /policy/notices" in err.value.message
    merged = without.with_operator_rules(build_layer(layer, "t").layer)
    assert leave_entitlement("西藏", facts, catalogue=merged).total_days == 98 + 77


def test_missing_figures_say_how_to_enter_them() -> None:
    with pytest.raises(NoRuleInForce) as err:
        contribution_limits("贵阳", D(2026, 12, 1))
    assert err.value.message.startswith("缺少 贵阳市 2026-12-01 适用的社保缴费基数上下限：请管理员通过 POST /policy/notices")
    assert "second admin approves" in err.value.message and err.value.field == "on"
    missing = MissingFigure("no pension contribution rate for 拉萨 on 2026-12-01", field="city",
                            rule="contribution_rates")
    assert missing.message.startswith("缺少社保缴费比例") and "no pension contribution rate" in missing.message


@pytest.mark.parametrize("figures,field,rule", [
    ({"year": 2027, "days_off": ["2027-02-08"], "working_days": ["2027-02-10"]}, "figures.working_days.0", "weekend_only"),
    ({"year": 2027, "days_off": ["2027-02-08"], "working_days": ["2027-02-08"]}, "figures.working_days", "off_and_working"),
    ({"year": 2027, "days_off": ["2029-02-08"]}, "figures.days_off.0", "within_year"),
    ({"year": 2101, "days_off": ["2101-02-08"]}, "figures.year", "year_range"),
    ({"year": 0, "days_off": ["2027-02-08"]}, "figures.year", "year_range"),
    # an arrangement decides its whole year: one that leaves out Spring Festival would make it work
    ({"year": 2027, "days_off": ["2027-02-08", "2027-02-09"]}, "figures.days_off", "statutory_holidays_included"),
])
def test_bad_arrangements_are_refused(figures, field, rule) -> None:
    with pytest.raises(NoticeRefused) as err:
        check_notice(NoticeIn.model_validate(HOLIDAY | {"figures": figures}), load_catalogue())
    assert any(v["field"] == field and v["rule"] == rule for v in err.value.violations), err.value.violations
