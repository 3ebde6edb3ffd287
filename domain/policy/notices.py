"""Operator notices: the local figures an HR admin enters from an official notice, as catalogue rules.

The shipped YAML cannot know every city's contribution base for next year; operators keep the
catalogue current by entering the notice (maker) and having a second admin approve it (checker).
A notice is checked here, at the edge, with Chinese-first messages naming field and rule, and is
turned into exactly the rule the catalogue's own pydantic models define (``build_rule``), so an
operator rule answers through the same queries as a shipped one. Its provenance travels in the
rule itself: the id ``operator.<n>.<section>.<scope>``, the ``source`` (name with the document
number) and the ``note`` (who entered and who approved it). A holiday arrangement is not a
catalogue rule: it becomes a ``workdays.Arrangement`` that overrides the ``holidays`` package.

Overlaps: a notice may not overlap an approved notice of the same scope. To replace an approved
notice, enter a new one with ``supersedes: <id>`` starting after it; once approved, the old one
ends the day before (both rows stay as entered: the end date is derived, never written back).
Nothing here reads the database; ``install`` wires a provider given by the API, worker or CLI.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from domain import workdays
from domain.policy.catalogue import Catalogue, OperatorLayer, OperatorRule, install_operator_layer, province_code
from domain.policy.errors import NoticeRefused, UnknownRegion
from domain.policy.models import (
    SECTIONS,
    ContributionBaseRule,
    ContributionRatesRule,
    HousingFundRatesRule,
    MaternityLeaveRule,
    RateFigure,
    RateItem,
    Rule,
    Source,
)
from domain.policy.regions import NATIONAL, PROVINCES

NoticeKind = Literal["contribution_base", "contribution_rates", "housing_fund", "holiday_arrangement",
                     "maternity_leave"]
KINDS: tuple[str, ...] = ("contribution_base", "contribution_rates", "housing_fund", "holiday_arrangement",
                          "maternity_leave")
STATES: tuple[str, ...] = ("entered", "approved", "rejected", "withdrawn")
SECTION: dict[str, str] = {"contribution_base": "contribution_bases", "contribution_rates": "contribution_rates",
                           "housing_fund": "housing_fund_rates", "maternity_leave": "maternity_leave",
                           "holiday_arrangement": "holiday_arrangement"}
INSURANCES = ("pension", "medical", "unemployment", "work_injury", "maternity")
EMPLOYER_ONLY = ("work_injury", "maternity")
FEN = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # Numeric(12, 2)
YEARS = (1900, 2100)

log = logging.getLogger("hrflow.policy_notices")


# ---------------------------------------------------------------- field types with Chinese-first errors


def _decimal(value: Any, what_zh: str, what_en: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise PydanticCustomError("decimal_type", f"{what_zh}须为数字 ({what_en} must be a number)")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise PydanticCustomError("decimal_type", f"{what_zh}须为数字 ({what_en} must be a number)") from None
    if not number.is_finite():
        raise PydanticCustomError("decimal_type", f"{what_zh}须为有限数字 ({what_en} must be a finite number)")
    return number


def _amount(value: Any) -> Decimal:
    number = _decimal(value, "金额", "an amount")
    if number < 0:
        raise PydanticCustomError("amount_range", "金额不能为负数 (an amount cannot be negative)")
    if number > MAX_AMOUNT:
        raise PydanticCustomError("amount_range",
                                  "金额不能超过 9,999,999,999.99 元 (an amount must not exceed 9,999,999,999.99)")
    if number != number.quantize(FEN):
        raise PydanticCustomError("fen_precision", "金额最多精确到分（两位小数） (an amount has at most two decimal places)")
    return number.quantize(FEN)


def _rate(value: Any) -> Decimal:
    number = _decimal(value, "费率", "a rate")
    if not Decimal(0) <= number <= Decimal(1):
        raise PydanticCustomError("rate_range",
                                  "费率须在 0 到 1 之间，如 16% 写 0.16 (a rate must be between 0 and 1, e.g. 0.16 for 16%)")
    if number != number.quantize(Decimal("0.000001")):
        raise PydanticCustomError("rate_precision", "费率最多六位小数 (a rate has at most six decimal places)")
    return number


Amount = Annotated[Decimal, BeforeValidator(_amount)]
RateValue = Annotated[Decimal, BeforeValidator(_rate)]
_FORBID = ConfigDict(extra="forbid")


class NoticeSource(BaseModel):
    """Where the figures come from: the notice's name, its page, its document number (文号), and
    optionally the id of an uploaded copy (a stored material)."""

    model_config = _FORBID
    name: str = Field(min_length=1, max_length=200, description="通知名称 (title of the notice)")
    url: str | None = Field(default=None, max_length=500, description="official page, http(s)")
    document_number: str | None = Field(default=None, min_length=1, max_length=80, description="文号, e.g. 沪人社规〔2026〕12号")
    material_id: int | None = Field(default=None, ge=1, description="id of an uploaded copy of the notice")


class NoticeIn(BaseModel):
    """What an admin enters. ``figures`` depends on ``kind`` (see ``FIGURES_HELP``)."""

    model_config = _FORBID
    kind: NoticeKind
    province: str | None = Field(default=None, max_length=40, description="province (maternity_leave; or province-wide rates)")
    city: str | None = Field(default=None, max_length=40, description="city (contribution_base; or city rates)")
    effective_from: dt.date | None = Field(default=None, description="first day in force (holiday_arrangement: 1 Jan of the year)")
    effective_to: dt.date | None = Field(default=None, description="last day in force, inclusive; null while in force")
    source: NoticeSource
    supersedes: int | None = Field(default=None, ge=1, description="an approved notice this one replaces from its start")
    figures: dict[str, Any]


FIGURES_HELP = """contribution_base: floor, ceiling, average_wage?, minimum_wage?, by_insurance? {medical: {floor, ceiling}}, period_confirmed?
contribution_rates: pension|medical|unemployment|work_injury|maternity: {employee?, employer?, employee_fixed_monthly?, employer_by_industry_class? {"1": "0.002"}}
housing_fund: min_rate, max_rate?, base_floor?, base_ceiling?
holiday_arrangement: year, days_off [dates], working_days [dates, the adjusted Saturdays/Sundays]
maternity_leave: the fields of a catalogue maternity_leave rule (extra_days, counting, extra_days_exclude_statutory_holidays ...)"""


class BaseLimits(BaseModel):
    model_config = _FORBID
    floor: Amount
    ceiling: Amount


class ContributionBaseFigures(BaseModel):
    model_config = _FORBID
    floor: Amount
    ceiling: Amount
    average_wage: Amount | None = None
    minimum_wage: Amount | None = None
    by_insurance: dict[Literal["pension", "medical", "unemployment", "work_injury", "maternity"], BaseLimits] = {}
    period_confirmed: bool = True


class RateIn(BaseModel):
    model_config = _FORBID
    employee: RateValue | None = None
    employer: RateValue | None = None
    employee_fixed_monthly: Amount | None = None
    employer_by_industry_class: dict[Annotated[str, Field(pattern=r"^[0-9A-Za-z一二三四五六七八九十类_-]{1,8}$")],
                                     RateValue] = {}


class ContributionRatesFigures(BaseModel):
    model_config = _FORBID
    pension: RateIn | None = None
    medical: RateIn | None = None
    unemployment: RateIn | None = None
    work_injury: RateIn | None = None
    maternity: RateIn | None = None


class HousingFundFigures(BaseModel):
    model_config = _FORBID
    min_rate: RateValue | None = None
    max_rate: RateValue | None = None
    base_floor: Amount | None = None
    base_ceiling: Amount | None = None


class HolidayFigures(BaseModel):
    model_config = _FORBID
    year: int
    days_off: list[dt.date] = Field(min_length=1, max_length=60)
    working_days: list[dt.date] = Field(default=[], max_length=20)


_MODELS: dict[str, type[BaseModel]] = {"contribution_base": ContributionBaseFigures,
                                       "contribution_rates": ContributionRatesFigures,
                                       "housing_fund": HousingFundFigures, "holiday_arrangement": HolidayFigures}
_RULE_FIELDS = set(Rule.model_fields)

_PYDANTIC_ZH = {"missing": "缺少此项", "extra_forbidden": "不认识的字段", "date_from_datetime_parsing": "不是有效日期",
                "date_parsing": "不是有效日期", "date_type": "不是有效日期", "int_parsing": "须为整数",
                "int_type": "须为整数", "bool_parsing": "须为 true 或 false", "bool_type": "须为 true 或 false",
                "string_type": "须为文字", "list_type": "须为列表", "dict_type": "须为对象",
                "literal_error": "取值不在允许范围内", "too_short": "不能为空", "too_long": "条目过多或过长",
                "greater_than_equal": "数值过小", "less_than_equal": "数值过大", "string_pattern_mismatch": "格式不对",
                "model_type": "须为对象"}


def _violation(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": message}


def _from_pydantic(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        message = err["msg"]
        if err["type"] in _PYDANTIC_ZH:
            message = f"{_PYDANTIC_ZH[err['type']]} ({message})"
        elif not any("\u4e00" <= ch <= "\u9fff" for ch in message):
            message = f"输入无效 ({message})"
        out.append(_violation(where, err["type"], message))
    return out


# ---------------------------------------------------------------- a checked notice


@dataclass(frozen=True)
class CheckedNotice:
    """A notice that passed every edge check: where it applies, when, and its figures."""

    kind: str
    section: str
    region: str  # province code, or "national" for a holiday arrangement
    city: str | None
    scope: str  # what two notices must not both cover on one day
    place_zh: str
    effective_from: dt.date
    effective_to: dt.date | None
    figures: dict[str, Any]  # the validated figures, JSON-ready
    source: NoticeSource
    supersedes: int | None
    year: int | None = None


def _year_ok(day: dt.date | None, name: str, out: list[dict[str, str]]) -> None:
    if day is not None and not YEARS[0] <= day.year <= YEARS[1]:
        out.append(_violation(name, "year_range", f"年份须在 1900 至 2100 之间 (the year must be between 1900 and 2100, not {day.year})"))


def _where(notice: NoticeIn, catalogue: Catalogue, out: list[dict[str, str]]) -> tuple[str, str | None, str] | None:
    """(province code, city code, place in Chinese) the notice applies to, or None with violations."""
    kind = notice.kind
    if kind == "holiday_arrangement":
        for name in ("province", "city"):
            if getattr(notice, name):
                out.append(_violation(name, "national_only", "节假日安排全国统一，不填地区 (a holiday arrangement is national: leave province and city out)"))
        return NATIONAL, None, "全国"
    province: str | None = None
    if notice.province:
        province = province_code(notice.province)
        if province is None:
            try:
                province = catalogue.province(notice.province).code
            except UnknownRegion:
                known = "、".join(v[1] for v in PROVINCES.values())
                out.append(_violation("province", "unknown_province",
                                      f"未知的省份 {notice.province!r}，可用：{known} (unknown province {notice.province!r})"))
                return None
    if kind == "maternity_leave":
        if notice.city:
            out.append(_violation("city", "province_only", "产假规定按省份录入，不填城市 (a maternity leave rule is provincial: leave city out)"))
        if province is None:
            out.append(_violation("province", "missing", "缺少省份 (give the province)"))
            return None
        return province, None, PROVINCES[province][1]
    if not notice.city:
        if kind == "contribution_base" or province is None:
            out.append(_violation("city", "missing", "缺少城市 (give the city; for rates a province alone means province-wide)"))
            return None
        if province not in catalogue.files:
            out.append(_violation("province", "unknown_province",
                                  f"政策目录中没有 {PROVINCES[province][1]} 的文件，无法录入全省费率 (the catalogue has no file for {province})"))
            return None
        return province, None, PROVINCES[province][1]
    try:
        region, town = catalogue.city(notice.city)
    except UnknownRegion:
        known = "、".join(c.name_zh for r in catalogue.provinces() for c in r.cities)
        out.append(_violation("city", "unknown_city", f"未知的城市 {notice.city!r}，目录中的城市：{known} (unknown city {notice.city!r})"))
        return None
    if province is not None and province != region.code:
        out.append(_violation("city", "city_not_in_province",
                              f"{town.name_zh} 不属于 {PROVINCES[province][1]} ({town.name_en} is not in {province})"))
        return None
    return region.code, town.code, town.name_zh


def check_notice(notice: NoticeIn, catalogue: Catalogue) -> CheckedNotice:
    """The notice, checked: known place, dates 1900-2100 in order, figures in range (amounts in fen
    below 9,999,999,999.99, rates 0..1, floors not above ceilings). Raises ``NoticeRefused``."""
    out: list[dict[str, str]] = []
    place = _where(notice, catalogue, out)
    _year_ok(notice.effective_from, "effective_from", out)
    _year_ok(notice.effective_to, "effective_to", out)
    url = notice.source.url
    if url is not None and not url.startswith(("https://", "http://")):
        out.append(_violation("source.url", "url_scheme", "来源网址须以 http:// 或 https:// 开头 (the source url must be an http(s) address)"))
    figures: dict[str, Any] = {}
    year: int | None = None
    start, end = notice.effective_from, notice.effective_to
    if notice.kind == "maternity_leave":
        reserved = sorted(set(notice.figures) & _RULE_FIELDS)
        if reserved:
            out.append(_violation(f"figures.{reserved[0]}", "reserved_field",
                                  f"{reserved[0]} 由通知本身给出，不在 figures 中填写 ({reserved[0]} comes from the notice, not the figures)"))
        else:
            try:
                MaternityLeaveRule.model_validate(notice.figures | _placeholder())
                figures = dict(notice.figures)
            except ValidationError as exc:
                out.extend(_from_pydantic(exc, "figures"))
    else:
        try:
            parsed = _MODELS[notice.kind].model_validate(notice.figures)
        except ValidationError as exc:
            out.extend(_from_pydantic(exc, "figures"))
        else:
            out.extend(_cross_checks(notice.kind, parsed))
            figures = parsed.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
            if isinstance(parsed, HolidayFigures):
                year = parsed.year
                if not YEARS[0] <= year <= YEARS[1]:
                    out.append(_violation("figures.year", "year_range",
                                          f"年份须在 1900 至 2100 之间 (the year must be between 1900 and 2100, not {year})"))
                else:
                    start = start or dt.date(year, 1, 1)
                    end = end or dt.date(year, 12, 31)
                    if not (start.year == year and end.year == year):
                        out.append(_violation("effective_from", "within_year",
                                              f"节假日安排只适用于 {year} 年 (the arrangement covers {year} only)"))
    if start is None and notice.kind != "holiday_arrangement":
        out.append(_violation("effective_from", "missing", "缺少生效日期 (give effective_from)"))
    if start is not None and end is not None and end < start:
        out.append(_violation("effective_to", "date_order", "失效日期不能早于生效日期 (effective_to must not be before effective_from)"))
    if out or place is None or start is None:
        raise NoticeRefused(out or [_violation("kind", "invalid", "通知无效 (the notice is not valid)")])
    region, city, place_zh = place
    section = SECTION[notice.kind]
    scope = f"{section}:{region}:{year if year is not None else (city or '*')}"
    return CheckedNotice(kind=notice.kind, section=section, region=region, city=city, scope=scope, place_zh=place_zh,
                         effective_from=start, effective_to=end, figures=figures, source=notice.source,
                         supersedes=notice.supersedes, year=year)


def _placeholder() -> dict[str, Any]:
    return {"id": "operator.0.check", "effective_from": dt.date(2000, 1, 1), "verified": False, "note": "check",
            "source": Source(name="check")}


def _cross_checks(kind: str, figures: BaseModel) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    floor_msg = "下限不能高于上限 (floor must not exceed ceiling)"
    if isinstance(figures, ContributionBaseFigures):
        if figures.floor > figures.ceiling:
            out.append(_violation("figures.ceiling", "floor_not_above_ceiling", floor_msg))
        for insurance, limits in figures.by_insurance.items():
            if limits.floor > limits.ceiling:
                out.append(_violation(f"figures.by_insurance.{insurance}.ceiling", "floor_not_above_ceiling",
                                      floor_msg))
    elif isinstance(figures, ContributionRatesFigures):
        given = {k: v for k in INSURANCES if (v := getattr(figures, k)) is not None}
        if not given:
            out.append(_violation("figures", "missing", "至少给出一个险种的费率 (give the rates of at least one insurance)"))
        for name, item in given.items():
            if name in EMPLOYER_ONLY and (item.employee is not None or item.employee_fixed_monthly is not None):
                out.append(_violation(f"figures.{name}.employee", "employer_only",
                                      "工伤和生育保险个人不缴费 (employees pay no work-injury or maternity insurance)"))
            if item.employer_by_industry_class and name != "work_injury":
                out.append(_violation(f"figures.{name}.employer_by_industry_class", "work_injury_only",
                                      "只有工伤保险按行业类别定费率 (only work injury is rated by industry class)"))
            if item.employer_by_industry_class and item.employer is not None:
                out.append(_violation(f"figures.{name}.employer", "one_of",
                                      "单一费率与按行业费率只能填一种 (give one employer rate or rates by class, not both)"))
            if item.employee is None and item.employer is None and item.employee_fixed_monthly is None \
                    and not item.employer_by_industry_class:
                out.append(_violation(f"figures.{name}", "missing", "该险种没有任何费率 (this insurance has no rate)"))
    elif isinstance(figures, HousingFundFigures):
        if figures.min_rate is None and (figures.base_floor is None or figures.base_ceiling is None):
            out.append(_violation("figures.min_rate", "missing",
                                  "须给出最低缴存比例，或缴存基数上下限 (give min_rate, or base_floor and base_ceiling)"))
        if figures.min_rate is None and figures.max_rate is not None:
            out.append(_violation("figures.min_rate", "missing", "给出最高比例时须同时给出最低比例 (max_rate needs min_rate)"))
        if figures.max_rate is not None and figures.min_rate is not None and figures.min_rate > figures.max_rate:
            out.append(_violation("figures.max_rate", "floor_not_above_ceiling",
                                  "最低比例不能高于最高比例 (min_rate must not exceed max_rate)"))
        if figures.base_floor is not None and figures.base_ceiling is not None and figures.base_floor > figures.base_ceiling:
            out.append(_violation("figures.base_ceiling", "floor_not_above_ceiling", floor_msg))
    elif isinstance(figures, HolidayFigures) and 1900 <= figures.year <= 2100:  # else: the year's own refusal
        year = figures.year
        both = sorted(set(figures.days_off) & set(figures.working_days))
        if both:
            out.append(_violation("figures.working_days", "off_and_working",
                                  f"{both[0]} 不能既放假又上班 ({both[0]} cannot be both a day off and a working day)"))
        for name in ("days_off", "working_days"):
            for i, day in enumerate(getattr(figures, name)):
                if not dt.date(year - 1, 12, 1) <= day <= dt.date(year + 1, 1, 31):
                    out.append(_violation(f"figures.{name}.{i}", "within_year",
                                          f"{day} 不在 {year} 年的安排范围内 ({day} is outside the {year} arrangement)"))
        missing = sorted(workdays.statutory_holidays(year) - set(figures.days_off))
        if missing:  # an arrangement decides the whole year: leaving one out would make it a working day
            listed = ", ".join(d.isoformat() for d in missing)
            out.append(_violation("figures.days_off", "statutory_holidays_included",
                                  f"放假日期须包含全部法定节假日，缺少：{listed}"
                                  f" (the days off must include every statutory holiday; missing: {listed})"))
        for i, day in enumerate(figures.working_days):
            if day.weekday() < 5:
                out.append(_violation(f"figures.working_days.{i}", "weekend_only",
                                      f"{day} 本是工作日；调休上班日应为周六或周日 ({day} is a weekday: adjusted working days are Saturdays or Sundays)"))
    return out


# ---------------------------------------------------------------- approved notices and their rules


@dataclass(frozen=True)
class NoticeRecord:
    """A stored notice as the layer needs it (the database row, without the database)."""

    id: int
    kind: str
    region: str
    city: str | None
    scope: str
    effective_from: dt.date
    effective_to: dt.date | None
    figures: dict[str, Any]
    source: dict[str, Any]
    entered_by: str
    entered_at: dt.datetime
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    supersedes: int | None = None


def source_of(source: Mapping[str, Any]) -> Source:
    """The catalogue ``Source``: name with the document number; ``official`` when a page or a
    document number identifies the text, ``secondary`` otherwise."""
    name, number = str(source["name"]), source.get("document_number")
    return Source(name=f"{name}（{number}）" if number else name, url=source.get("url"),
                  basis="official" if source.get("url") or number else "secondary")


def provenance_note(record: NoticeRecord) -> str:
    """``运营通知 #12 … (operator notice #12, entered by hr.admin1 2026-12-02, approved by …)``."""
    entered = f"{record.entered_by} {record.entered_at.date()}"
    if record.approved_by is not None and record.approved_at is not None:
        zh = f"运营通知 #{record.id}，{record.entered_by} 于 {record.entered_at.date()} 录入，{record.approved_by} 于 {record.approved_at.date()} 审批"
        en = f"operator notice #{record.id}, entered by {entered}, approved by {record.approved_by} {record.approved_at.date()}"
    else:
        zh = f"运营通知 #{record.id}，{record.entered_by} 于 {record.entered_at.date()} 录入，尚未审批"
        en = f"operator notice #{record.id}, entered by {entered}, not yet approved"
    extra = _extras(record)
    copy = record.source.get("material_id")
    if copy:
        extra.append(f"uploaded copy: material #{copy}")
    return f"{zh} ({en}{'; ' + '; '.join(extra) if extra else ''})"


def _extras(record: NoticeRecord) -> list[str]:
    """Figures the notice holds that the catalogue models have no field for, kept in words."""
    f = record.figures
    out: list[str] = []
    if record.kind == "contribution_base":
        if f.get("minimum_wage") is not None:
            out.append(f"minimum wage {f['minimum_wage']}")
        if "by_insurance" not in ContributionBaseRule.model_fields:
            for name, limits in sorted(f.get("by_insurance", {}).items()):
                out.append(f"{name} base {limits['floor']}-{limits['ceiling']}")
    if record.kind == "housing_fund" and "base_floor" not in HousingFundRatesRule.model_fields and (
            f.get("base_floor") is not None or f.get("base_ceiling") is not None):
        out.append(f"housing fund base {f.get('base_floor', '?')}-{f.get('base_ceiling', '?')}")
    if record.kind == "contribution_rates":
        classes = f.get("work_injury", {}).get("employer_by_industry_class") or {}
        if classes:
            out.append("work injury employer rate by industry class: "
                       + ", ".join(f"{k} {v}" for k, v in sorted(classes.items())))
    return out


def build_rule(record: NoticeRecord, *, effective_to: dt.date | None = None) -> Rule:
    """The catalogue rule of a notice, validated by the catalogue's own model. ``effective_to``
    overrides the notice's end when a later approved notice supersedes it."""
    section = SECTION[record.kind]
    source = source_of(record.source)
    verified = source.basis == "official" and source.url is not None
    common: dict[str, Any] = {
        "id": f"operator.{record.id}.{section}.{record.city or record.region}",
        "effective_from": record.effective_from,
        "effective_to": effective_to if effective_to is not None else record.effective_to,
        "effective_from_basis": "commencement", "source": source, "verified": verified,
        "note": provenance_note(record),
    }
    f = record.figures
    if record.kind == "contribution_base":
        extra: dict[str, Any] = {}
        if f.get("by_insurance") and "by_insurance" in ContributionBaseRule.model_fields:
            extra["by_insurance"] = f["by_insurance"]
        return ContributionBaseRule.model_validate(
            common | {"city": record.city, "floor": Decimal(f["floor"]), "ceiling": Decimal(f["ceiling"]),
                      "average_wage": _opt(f.get("average_wage")),
                      "period_confirmed": bool(f.get("period_confirmed", True))} | extra)
    if record.kind == "contribution_rates":
        items: dict[str, RateItem] = {}
        for name in INSURANCES:
            given = f.get(name)
            if given is None:
                continue
            items[name] = RateItem(
                employee=_opt(given.get("employee")), employer=_opt(given.get("employer")),
                employee_fixed_monthly=_opt(given.get("employee_fixed_monthly")),
                employee_pays=name not in EMPLOYER_ONLY, verified=verified,
                note="employer rate by industry class, see the rule's note" if given.get("employer_by_industry_class") else None)
        return ContributionRatesRule.model_validate(common | {"city": record.city} | items)
    if record.kind == "housing_fund":
        low, high = _opt(f.get("min_rate")), _opt(f.get("max_rate"))
        limits = {k: _opt(f.get(k)) for k in ("base_floor", "base_ceiling")
                  if f.get(k) is not None and k in HousingFundRatesRule.model_fields}
        return HousingFundRatesRule.model_validate(
            common | {"city": record.city,
                      "min_rate": RateFigure(value=low, verified=verified) if low is not None else None,
                      "max_rate": RateFigure(value=high, verified=verified) if high is not None else None} | limits)
    if record.kind == "maternity_leave":
        return MaternityLeaveRule.model_validate(dict(f) | common)
    raise ValueError(f"a {record.kind} notice is not a catalogue rule")


def _opt(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def arrangement_of(record: NoticeRecord) -> workdays.Arrangement:
    f = record.figures
    return workdays.Arrangement(year=int(f["year"]), days_off=frozenset(dt.date.fromisoformat(d) for d in f["days_off"]),
                                working_days=frozenset(dt.date.fromisoformat(d) for d in f.get("working_days", [])),
                                source=provenance_note(record), notice_id=record.id)


def effective_ends(records: Sequence[NoticeRecord]) -> dict[int, dt.date | None]:
    """Each approved notice's last day: its own, or the day before an approved successor starts."""
    ends: dict[int, dt.date | None] = {r.id: r.effective_to for r in records}
    for r in records:
        if r.supersedes is not None and r.supersedes in ends:
            cut = r.effective_from - dt.timedelta(days=1)
            old = ends[r.supersedes]
            ends[r.supersedes] = cut if old is None or cut < old else old
    return ends


def check_no_overlap(checked: CheckedNotice | NoticeRecord, approved: Sequence[NoticeRecord], *,
                     own_id: int | None = None) -> None:
    """Refuse a notice that overlaps an approved notice of its scope, unless it supersedes that
    one and starts after it. ``approved`` are the approved notices of the same scope; checked at
    entry and again at approval (another notice may have been approved in between)."""
    out: list[dict[str, str]] = []
    ends = effective_ends(approved)
    by_id = {r.id: r for r in approved}
    if checked.supersedes is not None:
        old = by_id.get(checked.supersedes)
        if old is None:
            out.append(_violation("supersedes", "supersedes_approved_same_scope",
                                  f"被替换的通知 #{checked.supersedes} 不是同一范围内已审批的通知 "
                                  f"(notice #{checked.supersedes} is not an approved notice of the same scope)"))
        elif checked.effective_from <= old.effective_from:
            out.append(_violation("effective_from", "after_superseded",
                                  f"新通知须晚于被替换的通知 #{old.id} 生效（{old.effective_from}） "
                                  f"(must start after notice #{old.id} starts on {old.effective_from})"))
        elif any(r.supersedes == old.id and r.id != own_id for r in approved):
            out.append(_violation("supersedes", "already_superseded",
                                  f"通知 #{old.id} 已被另一通知替换 (notice #{old.id} is already superseded)"))
    for r in approved:
        if r.id == own_id or (r.id == checked.supersedes and not out):
            continue
        end = ends[r.id]
        if r.effective_from <= (checked.effective_to or dt.date.max) and checked.effective_from <= (end or dt.date.max):
            span = f"{r.effective_from} 至 {end or '长期'}"
            out.append(_violation("effective_from", "overlaps_approved_notice",
                                  f"与已审批的通知 #{r.id}（{span}）时间重叠：如要替换，请录入 supersedes: {r.id} 且晚于其生效的新通知 "
                                  f"(overlaps approved notice #{r.id} ({r.effective_from}..{end or 'open'}): to replace it, "
                                  f"enter a notice with supersedes: {r.id} that starts after it)"))
    if out:
        raise NoticeRefused(out)


# ---------------------------------------------------------------- the layer


@dataclass(frozen=True)
class NoticeLayer:
    """What the approved notices add: catalogue rules and holiday arrangements, with one version."""

    layer: OperatorLayer
    arrangements: Mapping[int, workdays.Arrangement] = field(default_factory=dict)


def build_layer(records: Sequence[NoticeRecord], version: str, described: str = "operator layer") -> NoticeLayer:
    """The layer of the approved ``records``; a notice whose rule no longer validates is skipped
    rather than breaking every pin (it was validated when entered)."""
    ends = effective_ends(records)
    rules: list[OperatorRule] = []
    arrangements: dict[int, workdays.Arrangement] = {}
    for record in sorted(records, key=lambda r: r.id):
        try:
            if record.kind == "holiday_arrangement":
                arrangements[int(record.figures["year"])] = arrangement_of(record)
                continue
            end = ends[record.id]
            if end is not None and end < record.effective_from:
                continue  # superseded before it started
            rules.append(OperatorRule(region=record.region, section=SECTION[record.kind],
                                      rule=build_rule(record, effective_to=end)))
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            log.error("policy notice #%s no longer validates and is left out of the layer: %s", record.id, exc)
    return NoticeLayer(layer=OperatorLayer(version=version, rules=tuple(rules), described=described),
                       arrangements=arrangements)


def install(provider: Callable[[], NoticeLayer] | None) -> None:
    """Wire one provider into the catalogue and the calendar (``None``: shipped layer only)."""
    if provider is None:
        install_operator_layer(None)
        workdays.install_arrangement_source(None)
        return
    install_operator_layer(lambda: provider().layer)
    workdays.install_arrangement_source(lambda: provider().arrangements)


assert set(SECTION.values()) - {"holiday_arrangement"} <= set(SECTIONS)
