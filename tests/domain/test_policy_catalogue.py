import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from domain.policy import (
    BirthFacts,
    CatalogueError,
    ContributionSnapshot,
    MaternitySnapshot,
    NoRuleInForce,
    UnknownRegion,
    check_catalogue,
    load_catalogue,
    pin_contribution,
    pin_maternity,
    pin_offboarding,
    pin_transfer,
)
from domain.policy.check import DATA_DIR

D = dt.date
ON = D(2026, 1, 5)


def test_real_catalogue_is_clean():
    assert check_catalogue() == []


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _append(path: Path, text: str, before: str | None = None) -> None:
    """Add rules at the end of the file, or at the end of the section preceding ``before``."""
    content = path.read_text(encoding="utf-8")
    if before is None:
        content += text
    else:
        content = content.replace(before, text + before, 1)
    path.write_text(content, encoding="utf-8")


def test_broken_copy_names_each_problem(tmp_path):
    data = _copy(tmp_path)
    # 1. overlapping contribution years for Beijing
    _append(data / "beijing.yaml", """
  - id: beijing.contribution_bases.beijing.overlap
    city: beijing
    effective_from: 2026-01-01
    effective_to: 2026-12-31
    source: {name: test, url: https://example.org/x}
    verified: true
    floor: "1"
    ceiling: "2"
    period_confirmed: true
""", before="\ncontribution_rates:")
    # 2. a rule without a source
    (data / "tianjin.yaml").write_text((data / "tianjin.yaml").read_text(encoding="utf-8").replace(
        "    source:\n      name: 天津市人口与计划生育条例, Tianjin government office document\n"
        "      url: https://www.tj.gov.cn/zwgk/szfwj/tjsrmzfbgt/202205/t20220520_5886520.html\n", ""),
        encoding="utf-8")
    # 3. bad schema: days as words, and a float rate
    (data / "hunan.yaml").write_text(
        (data / "hunan.yaml").read_text(encoding="utf-8").replace("extra_days: 60", "extra_days: sixty"),
        encoding="utf-8")
    # 4. effective_to before effective_from, and a city that is not in the region
    _append(data / "hubei.yaml", """
  - id: hubei.contribution_bases.atlantis.2025
    city: atlantis
    effective_from: 2025-07-01
    effective_to: 2025-01-01
    source: {name: test, url: https://example.org/y}
    verified: true
    floor: "3"
    ceiling: "4"
    period_confirmed: true
""")
    # 5. a region that does not exist
    (data / "atlantis.yaml").write_text(
        "schema_version: 1\nregion: {code: atlantis, name_zh: 亚特兰蒂斯, name_en: Atlantis, kind: province}\n",
        encoding="utf-8")
    problems = check_catalogue(data)
    found = {(p.file, p.rule, p.kind) for p in problems}
    assert ("beijing.yaml", "beijing.contribution_bases.beijing.overlap", "overlap") in found
    assert ("tianjin.yaml", "tianjin.maternity_leave.2022", "missing_source") in found
    assert ("hunan.yaml", "hunan.maternity_leave.2025", "schema") in found
    assert ("hubei.yaml", "hubei.contribution_bases.atlantis.2025", "range") in found
    assert ("hubei.yaml", "hubei.contribution_bases.atlantis.2025", "region") in found
    assert ("atlantis.yaml", None, "region") in found
    messages = " | ".join(str(p) for p in problems)
    assert "missing source" in messages and "extra_days" in messages
    with pytest.raises(CatalogueError):
        load_catalogue(data)


def test_float_money_and_verified_without_page_are_problems(tmp_path):
    data = _copy(tmp_path)
    text = (data / "shanghai.yaml").read_text(encoding="utf-8")
    text = text.replace('floor: "7460"', "floor: 7460.5")
    (data / "shanghai.yaml").write_text(text, encoding="utf-8")
    jiangsu = (data / "jiangsu.yaml").read_text(encoding="utf-8")
    (data / "jiangsu.yaml").write_text(jiangsu.replace("    verified: false\n    floor:", "    verified: true\n    floor:"),
                                       encoding="utf-8")
    problems = check_catalogue(data)
    kinds = {(p.file, p.kind) for p in problems}
    assert ("shanghai.yaml", "schema") in kinds
    assert ("jiangsu.yaml", "verification") in kinds  # a secondary source cannot be verified
    assert ("jiangsu.yaml", "missing_source") in kinds  # verified without a page


@pytest.mark.parametrize("name", ["北京", "北京市", "Beijing", "beijing", " BEIJING ", "京"])
def test_names_resolve_in_chinese_and_pinyin(name):
    assert load_catalogue().province(name).code == "beijing"


@pytest.mark.parametrize("name,city", [("广州", "guangzhou"), ("广州市", "guangzhou"), ("Guangzhou", "guangzhou"),
                                       ("哈尔滨", "harbin"), ("Haerbin", "harbin"), ("贵阳市", "guiyang")])
def test_city_names(name, city):
    assert load_catalogue().city(name)[1].code == city


def test_city_name_gives_its_province_and_unknown_is_named():
    assert load_catalogue().province("深圳").code == "guangdong"
    with pytest.raises(UnknownRegion) as err:
        load_catalogue().province("Xanadu")
    assert "Xanadu" in err.value.message


def test_pinning_is_stable_and_serialisable():
    facts = BirthFacts(birth_date=D(2026, 3, 16), child_order=1)
    first = pin_maternity("北京", "北京", facts)
    again = pin_maternity("beijing", "Beijing", facts)
    assert first.version == again.version and len(first.version) == 64
    assert first.leave.total_days == 158 and first.contribution.floor == Decimal(7162)
    assert first.allowance.divisor == 30 and first.allowance_region == "beijing"
    assert first.allowance_claim.amount == 10
    assert MaternitySnapshot.model_validate_json(first.model_dump_json()) == first
    # A different case using the same entries has the same policy version.
    other = pin_maternity("beijing", "beijing", BirthFacts(birth_date=D(2026, 3, 20), child_order=1))
    assert other.version == first.version


def test_pin_records_gaps_rather_than_defaults():
    snap = pin_maternity("贵州", "贵阳", BirthFacts(birth_date=D(2026, 5, 1)))
    assert snap.contribution is None and snap.paternity is None
    assert any("contribution base" in g for g in snap.gaps) and snap.verified is False
    with pytest.raises(NoRuleInForce):
        pin_contribution("贵阳", ON)


def test_changed_figure_changes_version(tmp_path):
    data = _copy(tmp_path)
    path = data / "beijing.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('floor: "7162"', 'floor: "7163"'), encoding="utf-8")
    original = pin_contribution("beijing", ON)
    changed = pin_contribution("beijing", ON, catalogue=load_catalogue(data))
    assert changed.limits.floor == Decimal(7163)
    assert changed.version != original.version
    # An unrelated file's change does not touch this case's version.
    sh = data / "shanghai.yaml"
    sh.write_text(sh.read_text(encoding="utf-8").replace('floor: "7460"', 'floor: "7461"'), encoding="utf-8")
    data2 = _copy(tmp_path / "second")
    (data2 / "shanghai.yaml").write_text(sh.read_text(encoding="utf-8"), encoding="utf-8")
    assert pin_contribution("beijing", ON, catalogue=load_catalogue(data2)).version == original.version
    assert ContributionSnapshot.model_validate_json(original.model_dump_json()) == original


def test_pin_transfer_and_offboarding():
    snap = pin_transfer("贵州", "黑龙江", ["pension", "medical", "housing_fund"], ON)
    assert set(snap.requirements) == {"pension", "medical", "housing_fund"}
    assert snap.give_up.amount == 30 and snap.give_up.source.basis == "company_policy"
    assert pin_transfer("Guizhou", "Heilongjiang", ["housing_fund", "medical", "pension"], ON).version == snap.version
    off = pin_offboarding("北京", ON)
    assert off.deadlines["archive_and_insurance_transfer"].amount == 15
    assert off.deadlines["resignation_notice"].amount == 30
    assert off.non_compete.max_months == 24
    assert off.non_compete.default_compensation_rate == Decimal("0.30")
    assert off.verified is True


def test_two_documents_under_one_material_code_are_a_problem(tmp_path):
    """The pension and housing-fund application forms are different papers: one upload must not
    count for both (the shipped catalogue gives each its own code)."""
    shipped = load_catalogue()
    codes = {kind: {m.code for m in shipped.find("national", "transfers", dt.date(2026, 12, 1), (kind,)).materials}
             for kind in ("pension", "housing_fund")}
    assert "transfer_application" in codes["pension"] and "transfer_application" not in codes["housing_fund"]
    data = _copy(tmp_path)
    path = data / "national.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "code: housing_fund_transfer_application", "code: transfer_application"), encoding="utf-8")
    slots = [p for p in check_catalogue(data) if p.kind == "material_slot"]
    assert slots and all("transfer_application" in p.message for p in slots)
