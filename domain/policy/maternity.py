"""Maternity leave, paternity leave and the maternity allowance, from the national rule plus the
province's.

Leave is counted in calendar days from its first day and runs without a break: the national days
(98, with up to 15 before the birth, +15 for a difficult birth, +15 per additional baby) and then
the province's extra days. Where the province says the extra days exclude statutory holidays
(Shanghai, Jiangsu), each statutory holiday inside them pushes the end back one day. The return
date is the day after the last leave day; ``first_working_day`` is the first working day from it.
The leave starts ``days_before_birth`` days before the (expected) birth unless the case says when
it started. The rule version applied is the one in force on ``on``, by default the birth date.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import workdays
from domain.policy.catalogue import Catalogue, load_catalogue
from domain.policy.errors import MissingFact, MissingFigure, PolicyError
from domain.policy.models import (
    MaternityAllowanceRule,
    MaternityLeaveRule,
    OptionalExtension,
    PaternityLeaveRule,
    RuleRef,
)
from domain.policy.regions import NATIONAL

FEN = Decimal("0.01")
_DAY = dt.timedelta(days=1)


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


def _pick(province_rule: MaternityLeaveRule, national_rule: MaternityLeaveRule, name: str) -> int:
    value = getattr(province_rule, name)
    if value is None:
        value = getattr(national_rule, name)
    if value is None:
        raise MissingFigure(f"the catalogue has no {name} for maternity leave", field=name,
                            rule=province_rule.id)
    return int(value)


def maternity_rules(
    province: str, on: dt.date, *, catalogue: Catalogue | None = None
) -> tuple[str, MaternityLeaveRule, MaternityLeaveRule]:
    """(province code, national rule, province rule) in force on ``on``."""
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
    """Days, start, last day and return date of the maternity leave in ``province``."""
    cat = catalogue or load_catalogue()
    facts = birth_facts
    when = on or facts.birth_date
    code, national, local = maternity_rules(province, when, catalogue=cat)
    region = cat.files[code].region
    refs = [cat.ref(national, "maternity_leave", NATIONAL), cat.ref(local, "maternity_leave", code)]
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
        statutory, extra, exclude = days, 0, False
        before = 0
        refs = refs[:1]
    else:
        base = _pick(local, national, "base_days")
        before = _pick(local, national, "days_before_birth")
        components.append(LeaveComponent(code="national_base", en="national maternity leave",
                                         days=base, rule_id=national.id))
        if facts.difficult_birth:
            owner = local if local.difficult_birth_days is not None else national
            components.append(LeaveComponent(code="difficult_birth", en="difficult birth",
                                             days=_pick(local, national, "difficult_birth_days"),
                                             rule_id=owner.id))
        if facts.babies > 1:
            owner = local if local.additional_baby_days is not None else national
            per = _pick(local, national, "additional_baby_days")
            components.append(LeaveComponent(code="additional_babies",
                                             en=f"{facts.babies - 1} additional baby(ies)",
                                             days=per * (facts.babies - 1), rule_id=owner.id))
        if local.extra_days_by_child_order:
            if facts.child_order is None:
                raise MissingFact(
                    f"{cat.label(code)} grants different leave by child order: give child_order",
                    field="child_order", rule=local.id)
            table = local.extra_days_by_child_order
            key = facts.child_order if facts.child_order in table else max(k for k in table if k <= facts.child_order)
            extra = table[key]
        else:
            extra = local.extra_days
        if extra:
            components.append(LeaveComponent(code="provincial_extension",
                                             en=f"{region.name_en} extension", days=extra, rule_id=local.id))
        statutory = sum(c.days for c in components) - extra
        exclude = local.extra_days_exclude_statutory_holidays
        earliest = facts.birth_date - dt.timedelta(days=before)
        start = facts.leave_start or earliest
        if not earliest <= start <= facts.birth_date:
            raise PolicyError(
                f"leave_start {start} must be between {earliest} and the birth date {facts.birth_date}",
                field="leave_start", rule=national.id)

    statutory_end = start + dt.timedelta(days=statutory - 1)
    extension = 0
    provisional = False
    if extra and exclude:
        last, extension = workdays.span_excluding_holidays(statutory_end + _DAY, extra)
        provisional = any(not workdays.is_arrangement_known(y) for y in range(start.year, last.year + 1))
    else:
        last = statutory_end + dt.timedelta(days=extra)
    back = last + _DAY
    first_working = workdays.next_working_day(back)
    total = statutory + extra
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
        counting=local.counting if facts.outcome == "birth" else national.counting,
        components=components,
        employer_may_extend_to_days=local.employer_may_extend_to_days if facts.outcome == "birth" else None,
        optional_extensions=list(local.optional_extensions) if facts.outcome == "birth" else [],
        verified=all(r.verified for r in refs),
        rules=refs,
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
    if isinstance(value, float) or isinstance(value, bool):
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
