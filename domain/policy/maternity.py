"""Maternity leave, paternity leave and the maternity allowance, from the national rule plus the
province's.

Leave is counted in calendar days from its first day and runs without a break: the national days
(98, with up to 15 before the birth, +15 for a difficult birth, +15 per additional baby) and then
the province's extra days. Where the province says the extra days exclude statutory holidays
(Shanghai, Jiangsu), each statutory holiday inside them pushes the end back one day; where the
whole leave excludes them (Anhui), every statutory holiday inside the leave does (the bridge days
of the arrangement still count). The return date is the day after the last leave day;
``first_working_day`` is the first working day from it. The leave starts ``days_before_birth``
days before the (expected) birth unless the case says when it started (Zhejiang counts from the
birth itself).

The law in force at the birth governs the leave, so the rule versions are chosen by the birth date
whatever date the case is opened on. Where the province has no rule in force for that date, the
national rule alone applies and the answer says so (``provincial_rule_missing``, ``confirm``):
the national floor is owed in any case, and HR confirms the provincial extension from the local
regulation instead of the catalogue guessing it.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import workdays
from domain.policy.catalogue import Catalogue, load_catalogue
from domain.policy.errors import MissingFact, MissingFigure, NoRuleInForce, PolicyError
from domain.policy.models import (
    HolidayExclusion,
    MaternityAllowanceRule,
    MaternityLeaveRule,
    OptionalExtension,
    PaternityLeaveRule,
    RuleRef,
)
from domain.policy.regions import NATIONAL

FEN = Decimal("0.01")
_DAY = dt.timedelta(days=1)

# What HR is asked to do when a province's extension is not in the catalogue (zh, then en).
MISSING_PROVINCIAL_RULE = (
    "本省（区）产假延长天数未收录，请 HR 按当地条例确认并录入 "
    "(the provincial extension is not in the catalogue; HR must confirm it from the local "
    "regulation and enter it as a notice)"
)


class BirthFacts(BaseModel):
    """What the leave depends on. ``birth_date`` is the date of the birth or miscarriage, expected
    or actual; ``child_order`` (1 for a first child) is needed where the province differs by it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    birth_date: dt.date
    babies: int = Field(default=1, ge=1)
    difficult_birth: bool = False
    child_order: int | None = Field(default=None, ge=1)
    outcome: Literal["birth", "miscarriage"] = "birth"
    pregnancy_months: int | None = Field(default=None, ge=0)  # completed months, for a miscarriage
    leave_start: dt.date | None = None


class LeaveComponent(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    en: str
    days: int
    rule_id: str


class LeaveEntitlement(BaseModel):
    model_config = ConfigDict(frozen=True)
    province: str
    province_zh: str
    outcome: str
    total_days: int  # entitled days under the rules
    days_before_birth: int  # the most that may be taken before the birth
    holiday_extension_days: int  # statutory holidays inside days that exclude them
    calendar_days: int  # total_days + holiday_extension_days: the span on the calendar
    leave_start: dt.date
    last_day: dt.date
    return_date: dt.date  # the day after the last leave day
    first_working_day: dt.date  # the first working day on or after return_date
    provisional: bool  # depends on a year whose holiday arrangement is not yet published
    counting: str
    components: list[LeaveComponent]
    employer_may_extend_to_days: int | None = None
    optional_extensions: list[OptionalExtension] = []
    verified: bool
    rules: list[RuleRef]
    # New fields keep defaults: snapshots pinned before them must still decode in replays.
    holidays_excluded: HolidayExclusion = "none"  # which days statutory holidays do not count in
    provincial_rule_missing: bool = False  # no provincial rule in force: national floor only
    confirm: str | None = None  # what HR must confirm before relying on the figure (zh + en)


class PaternityEntitlement(BaseModel):
    model_config = ConfigDict(frozen=True)
    province: str
    days: int
    verified: bool
    rule: RuleRef


class MaternityAllowance(BaseModel):
    model_config = ConfigDict(frozen=True)
    province: str
    leave_days: int
    wage_basis: Decimal  # the employer's average monthly contribution wage
    daily_amount: Decimal  # wage_basis / divisor, to the fen (information; allowance uses exact)
    allowance: Decimal
    employee_leave_pay: Decimal | None = None  # what the employee's own wage would give
    employer_top_up: Decimal | None = None  # the employer makes up a shortfall
    verified: bool
    rule: RuleRef


def _pick(province_rule: MaternityLeaveRule | None, national_rule: MaternityLeaveRule, name: str) -> int:
    value = getattr(province_rule, name) if province_rule is not None else None
    if value is None:
        value = getattr(national_rule, name)
    if value is None:
        raise MissingFigure(f"the catalogue has no {name} for maternity leave", field=name,
                            rule=(province_rule or national_rule).id)
    return int(value)


def _owner(province_rule: MaternityLeaveRule | None, national_rule: MaternityLeaveRule,
           name: str) -> MaternityLeaveRule:
    """The rule a figure comes from: the province's when it sets it, else the national one."""
    if province_rule is not None and getattr(province_rule, name) is not None:
        return province_rule
    return national_rule


def leave_rules(
    province: str, birth_date: dt.date, *, catalogue: Catalogue | None = None
) -> tuple[str, MaternityLeaveRule, MaternityLeaveRule | None, str | None]:
    """(province code, national rule, province rule or None, why it is None) for a birth on
    ``birth_date``. A missing national rule still raises: there is no floor to fall back to."""
    cat = catalogue or load_catalogue()
    region = cat.province(province)
    national = cat.require(NATIONAL, "maternity_leave", birth_date, label="national maternity leave rule",
                           field="birth_date")
    assert isinstance(national, MaternityLeaveRule)
    try:
        local = cat.require(region.code, "maternity_leave", birth_date,
                            label=f"maternity leave rule for {cat.label(region.code)}", field="birth_date")
    except NoRuleInForce as exc:
        return region.code, national, None, exc.message
    assert isinstance(local, MaternityLeaveRule)
    return region.code, national, local, None


def maternity_rules(
    province: str, on: dt.date, *, catalogue: Catalogue | None = None
) -> tuple[str, MaternityLeaveRule, MaternityLeaveRule]:
    """(province code, national rule, province rule) in force on ``on``; raises ``NoRuleInForce``
    where the province has none (``leave_rules`` answers with the national floor instead)."""
    cat = catalogue or load_catalogue()
    region = cat.province(province)
    national = cat.require(NATIONAL, "maternity_leave", on, label="national maternity leave rule")
    local = cat.require(region.code, "maternity_leave", on,
                        label=f"maternity leave rule for {cat.label(region.code)}")
    assert isinstance(national, MaternityLeaveRule) and isinstance(local, MaternityLeaveRule)
    return region.code, national, local


def leave_entitlement(
    province: str,
    birth_facts: BirthFacts,
    on: dt.date | None = None,
    *,
    catalogue: Catalogue | None = None,
) -> LeaveEntitlement:
    """Days, start, last day and return date of the maternity leave in ``province``. The rules are
    those in force on the birth date; ``on`` (the application date) does not choose them and is
    kept so existing callers need not change."""
    cat = catalogue or load_catalogue()
    facts = birth_facts
    code, national, local, missing = leave_rules(province, facts.birth_date, catalogue=cat)
    region = cat.files[code].region
    refs = [cat.ref(national, "maternity_leave", NATIONAL)]
    if local is not None:
        refs.append(cat.ref(local, "maternity_leave", code))
    components: list[LeaveComponent] = []

    if facts.outcome == "miscarriage":
        if facts.pregnancy_months is None:
            raise MissingFact("a miscarriage needs pregnancy_months (completed months of pregnancy)",
                              field="pregnancy_months", rule=national.id)
        threshold = _pick(local, national, "miscarriage_threshold_months")
        if facts.pregnancy_months < threshold:
            days = _pick(local, national, "miscarriage_before_threshold_days")
            code_ = "miscarriage_before_threshold"
        else:
            days = _pick(local, national, "miscarriage_from_threshold_days")
            code_ = "miscarriage_from_threshold"
        components.append(LeaveComponent(code=code_, en=f"miscarriage, {facts.pregnancy_months} months",
                                         days=days, rule_id=national.id))
        start = facts.leave_start or facts.birth_date
        if start < facts.birth_date:
            raise PolicyError("leave for a miscarriage starts on or after the event",
                              field="leave_start", rule=national.id)
        statutory, extra = days, 0
        exclusion: HolidayExclusion = "none"
        before = 0
        refs = refs[:1]
    else:
        base = _pick(local, national, "base_days")
        before = _pick(local, national, "days_before_birth")
        components.append(LeaveComponent(code="national_base", en="national maternity leave",
                                         days=base, rule_id=national.id))
        if facts.difficult_birth:
            components.append(LeaveComponent(code="difficult_birth", en="difficult birth",
                                             days=_pick(local, national, "difficult_birth_days"),
                                             rule_id=_owner(local, national, "difficult_birth_days").id))
        if facts.babies > 1:
            per = _pick(local, national, "additional_baby_days")
            components.append(LeaveComponent(code="additional_babies",
                                             en=f"{facts.babies - 1} additional baby(ies)",
                                             days=per * (facts.babies - 1),
                                             rule_id=_owner(local, national, "additional_baby_days").id))
        extra = 0
        if local is not None and local.extra_days_by_child_order:
            if facts.child_order is None:
                raise MissingFact(
                    f"{cat.label(code)} grants different leave by child order: give child_order",
                    field="child_order", rule=local.id)
            table = local.extra_days_by_child_order
            key = facts.child_order if facts.child_order in table else max(k for k in table if k <= facts.child_order)
            extra = table[key]
        elif local is not None:
            extra = local.extra_days
        if extra and local is not None:
            components.append(LeaveComponent(code="provincial_extension",
                                             en=f"{region.name_en} extension", days=extra, rule_id=local.id))
        statutory = sum(c.days for c in components) - extra
        exclusion = local.holidays_excluded() if local is not None else "none"
        earliest = facts.birth_date - dt.timedelta(days=before)
        start = facts.leave_start or earliest
        if not earliest <= start <= facts.birth_date:
            raise PolicyError(
                f"leave_start {start} must be between {earliest} and the birth date {facts.birth_date}",
                field="leave_start", rule=(local or national).id)

    total = statutory + extra
    extension = 0
    if exclusion == "whole_leave":
        last, extension = workdays.span_excluding_holidays(start, total)
    elif exclusion == "extra_days" and extra:
        statutory_end = start + dt.timedelta(days=statutory - 1)
        last, extension = workdays.span_excluding_holidays(statutory_end + _DAY, extra)
    else:
        last = start + dt.timedelta(days=total - 1)
    # Which days are holidays is final only for years whose arrangement is published.
    provisional = exclusion != "none" and any(
        not workdays.is_arrangement_known(y) for y in range(start.year, last.year + 1))
    back = last + _DAY
    first_working = workdays.next_working_day(back)
    birth = facts.outcome == "birth"
    confirm = None
    if local is None:
        confirm = f"{MISSING_PROVINCIAL_RULE}: {missing}"
    return LeaveEntitlement(
        province=code,
        province_zh=region.name_zh,
        outcome=facts.outcome,
        total_days=total,
        days_before_birth=before,
        holiday_extension_days=extension,
        calendar_days=total + extension,
        leave_start=start,
        last_day=last,
        return_date=back,
        first_working_day=first_working.date,
        provisional=provisional or first_working.provisional,
        counting=local.counting if birth and local is not None else national.counting,
        components=components,
        employer_may_extend_to_days=local.employer_may_extend_to_days if birth and local is not None else None,
        optional_extensions=list(local.optional_extensions) if birth and local is not None else [],
        verified=local is not None and all(r.verified for r in refs),
        rules=refs,
        holidays_excluded=exclusion,
        provincial_rule_missing=local is None,
        confirm=confirm,
    )


def paternity_leave(province: str, on: dt.date, *, catalogue: Catalogue | None = None) -> PaternityEntitlement:
    cat = catalogue or load_catalogue()
    region = cat.province(province)
    rule = cat.require(region.code, "paternity_leave", on,
                       label=f"paternity leave rule for {cat.label(region.code)}")
    assert isinstance(rule, PaternityLeaveRule)
    return PaternityEntitlement(province=region.code, days=rule.days, verified=rule.verified,
                                rule=cat.ref(rule, "paternity_leave", region.code))


def allowance_rule(
    province: str, on: dt.date, *, catalogue: Catalogue | None = None
) -> tuple[str, MaternityAllowanceRule]:
    """The province's allowance rule, or the national (unverified) one where it has none; the
    returned region says which applied."""
    cat = catalogue or load_catalogue()
    region = cat.province(province)
    rule = cat.find(region.code, "maternity_allowance", on)
    owner = region.code
    if rule is None:
        rule = cat.require(NATIONAL, "maternity_allowance", on, label="national maternity allowance rule")
        owner = NATIONAL
    assert isinstance(rule, MaternityAllowanceRule)
    return owner, rule


def _money(value: Decimal | int | str, name: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise PolicyError(f"{name} must be a Decimal, not {type(value).__name__}", field=name,
                          rule="maternity_allowance")
    amount = Decimal(value)
    if amount < 0:
        raise PolicyError(f"{name} cannot be negative", field=name, rule="maternity_allowance")
    return amount


def maternity_allowance(
    province: str,
    *,
    employer_average_monthly_wage: Decimal,
    leave_days: int,
    on: dt.date,
    employee_monthly_wage: Decimal | None = None,
    catalogue: Catalogue | None = None,
) -> MaternityAllowance:
    """Allowance = employer's average monthly contribution wage / 30 x leave days (Beijing,
    verified; elsewhere the same formula, unverified). With the employee's own monthly wage, also
    the employer's top-up when the allowance is lower than her pay."""
    cat = catalogue or load_catalogue()
    region = cat.province(province)
    owner, rule = allowance_rule(region.code, on, catalogue=cat)
    wage = _money(employer_average_monthly_wage, "employer_average_monthly_wage")
    if leave_days < 0:
        raise PolicyError("leave_days cannot be negative", field="leave_days", rule=rule.id)
    allowance = (wage * leave_days / rule.divisor).quantize(FEN, ROUND_HALF_UP)
    own_pay = top_up = None
    if employee_monthly_wage is not None:
        own = _money(employee_monthly_wage, "employee_monthly_wage")
        own_pay = (own * leave_days / rule.divisor).quantize(FEN, ROUND_HALF_UP)
        top_up = max(Decimal("0.00"), own_pay - allowance) if rule.employer_makes_up_shortfall else Decimal("0.00")
    return MaternityAllowance(
        province=region.code,
        leave_days=leave_days,
        wage_basis=wage,
        daily_amount=(wage / rule.divisor).quantize(FEN, ROUND_HALF_UP),
        allowance=allowance,
        employee_leave_pay=own_pay,
        employer_top_up=top_up,
        verified=rule.verified,
        rule=cat.ref(rule, "maternity_allowance", owner),
    )
