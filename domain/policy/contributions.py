"""Social-insurance contribution bases and rates per city, and the checks that use them.

A base must lie between the city's floor and ceiling for the contribution year in force on the
date (Beijing's year runs July to June). Where a city's insurances have different limits (Hohhot:
medical above pension), ``insurance`` asks for one; without it the rule's own limits (the
pension's) answer, and an insurance the source does not cover raises ``MissingFigure``. Rates are merged insurance by insurance: the city's entry,
else the province's, else the national default; a rate the catalogue does not hold is ``None``
and any computation needing it raises ``MissingFigure``. Amounts are Decimal, rounded to the fen.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from domain.policy.catalogue import Catalogue, load_catalogue
from domain.policy.errors import BaseOutOfRange, MissingFigure, PolicyError
from domain.policy.models import (
    ContributionBaseRule,
    ContributionRatesRule,
    HousingFundRatesRule,
    RateFigure,
    RuleRef,
    Source,
)
from domain.policy.regions import NATIONAL

FEN = Decimal("0.01")
INSURANCES = ("pension", "medical", "unemployment", "work_injury", "maternity")


class ContributionLimits(BaseModel):
    model_config = ConfigDict(frozen=True)
    city: str
    city_zh: str
    province: str
    floor: Decimal
    ceiling: Decimal
    average_wage: Decimal | None
    period_from: dt.date
    period_to: dt.date | None
    period_confirmed: bool
    verified: bool
    rule: RuleRef
    insurance: str | None = None  # whose limits these are; None: the rule's own (pension's)


class ResolvedRate(BaseModel):
    model_config = ConfigDict(frozen=True)
    insurance: str
    employee: Decimal | None
    employee_fixed_monthly: Decimal | None
    employer: Decimal | None
    employee_pays: bool
    verified: bool
    note: str | None
    source: Source
    rule: RuleRef


class HousingFundRates(BaseModel):
    model_config = ConfigDict(frozen=True)
    min_rate: RateFigure
    max_rate: RateFigure | None
    verified: bool
    rule: RuleRef  # the rule giving the rates
    # Defaults so snapshots pinned before base limits existed still decode.
    base_floor: Decimal | None = None
    base_ceiling: Decimal | None = None
    base_rule: RuleRef | None = None  # the rule giving the base limits, when one is encoded


class ContributionRates(BaseModel):
    model_config = ConfigDict(frozen=True)
    city: str
    province: str
    on: dt.date
    rates: dict[str, ResolvedRate]
    housing_fund: HousingFundRates
    verified: bool


class DeductionLine(BaseModel):
    model_config = ConfigDict(frozen=True)
    insurance: str
    rate: Decimal
    fixed: Decimal
    amount: Decimal
    verified: bool


class EmployeeDeduction(BaseModel):
    model_config = ConfigDict(frozen=True)
    city: str
    base: Decimal
    lines: list[DeductionLine]
    total: Decimal
    verified: bool


def contribution_limits(
    city: str, on: dt.date, insurance: str | None = None, *, catalogue: Catalogue | None = None
) -> ContributionLimits:
    """Floor and ceiling of the monthly contribution base in ``city`` on ``on``, for ``insurance``
    when given (its own limits where the city sets them apart)."""
    cat = catalogue or load_catalogue()
    region, town = cat.city(city)
    if insurance is not None and insurance not in INSURANCES:
        raise PolicyError(f"unknown insurance {insurance!r}; one of {', '.join(INSURANCES)}",
                          field="insurance", rule="contribution_bases")
    rule = cat.require(region.code, "contribution_bases", on, (town.code,),
                       label=f"contribution base for {town.name_en} ({town.name_zh})")
    assert isinstance(rule, ContributionBaseRule)
    limits = rule.limits_for(insurance)
    if limits is None:
        raise MissingFigure(f"the catalogue has no {insurance} contribution base for {town.name_zh} on {on} "
                            f"(rule {rule.id} covers {', '.join(rule.applies_to or [])})",
                            field="insurance", rule=rule.id)
    return ContributionLimits(
        city=town.code,
        city_zh=town.name_zh,
        province=region.code,
        floor=limits.floor,
        ceiling=limits.ceiling,
        average_wage=rule.average_wage,
        period_from=rule.effective_from,
        period_to=rule.effective_to,
        period_confirmed=rule.period_confirmed,
        verified=rule.verified,
        rule=cat.ref(rule, "contribution_bases", region.code),
        insurance=insurance,
    )


def _decimal(value: Decimal | int | str, name: str, rule: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise PolicyError(f"{name} must be a Decimal, not {type(value).__name__}", field=name, rule=rule)
    try:
        return Decimal(value)
    except ArithmeticError:
        raise PolicyError(f"{name} {value!r} is not a number", field=name, rule=rule) from None


def check_base(city: str, base: Decimal | int | str, on: dt.date, insurance: str | None = None, *,
               catalogue: Catalogue | None = None) -> ContributionLimits:
    """The limits when ``base`` lies within them; otherwise ``BaseOutOfRange`` naming both."""
    limits = contribution_limits(city, on, insurance, catalogue=catalogue)
    amount = _decimal(base, "base", limits.rule.id)
    if not limits.floor <= amount <= limits.ceiling:
        side = "below the floor" if amount < limits.floor else "above the ceiling"
        whose = f" ({insurance})" if insurance else ""
        raise BaseOutOfRange(
            f"contribution base{whose} {amount} for {limits.city_zh} on {on} is {side}: "
            f"min {limits.floor}, max {limits.ceiling} (rule {limits.rule.id}, "
            f"{'verified' if limits.verified else 'UNVERIFIED'})",
            field="base", rule=limits.rule.id)
    return limits


def contribution_rates(city: str, on: dt.date, *, catalogue: Catalogue | None = None) -> ContributionRates:
    """Employee and employer rates for each insurance, and the housing fund range, in ``city``."""
    cat = catalogue or load_catalogue()
    region, town = cat.city(city)
    layers: list[tuple[str, ContributionRatesRule]] = []
    for owner, scope in ((region.code, (town.code,)), (region.code, ("*",)), (NATIONAL, ("*",))):
        rule = cat.find(owner, "contribution_rates", on, scope)
        if rule is not None:
            assert isinstance(rule, ContributionRatesRule)
            layers.append((owner, rule))
    rates: dict[str, ResolvedRate] = {}
    for insurance in INSURANCES:
        for owner, rule in layers:
            item = getattr(rule, insurance)
            if item is not None:
                rates[insurance] = ResolvedRate(
                    insurance=insurance, employee=item.employee,
                    employee_fixed_monthly=item.employee_fixed_monthly, employer=item.employer,
                    employee_pays=item.employee_pays, verified=item.verified, note=item.note,
                    source=item.source or rule.source, rule=cat.ref(rule, "contribution_rates", owner))
                break
        else:
            raise MissingFigure(f"no {insurance} contribution rate for {town.name_zh} on {on}",
                                field="city", rule="contribution_rates")
    fund = housing_fund_rates(city, on, catalogue=cat)
    return ContributionRates(city=town.code, province=region.code, on=on, rates=rates, housing_fund=fund,
                             verified=fund.verified and all(r.verified for r in rates.values()))


def housing_fund_rates(city: str, on: dt.date, *, catalogue: Catalogue | None = None) -> HousingFundRates:
    """Rates and base limits of the housing fund, each from the nearest entry holding them (city,
    then province, then national): a city that sets only its base keeps the national rates."""
    cat = catalogue or load_catalogue()
    region, town = cat.city(city)
    rated: tuple[str, HousingFundRatesRule, RateFigure] | None = None
    based: tuple[str, HousingFundRatesRule] | None = None
    for owner, scope in ((region.code, (town.code,)), (region.code, ("*",)), (NATIONAL, ("*",))):
        rule = cat.find(owner, "housing_fund_rates", on, scope)
        if rule is None:
            continue
        assert isinstance(rule, HousingFundRatesRule)
        if rated is None and rule.min_rate is not None:
            rated = (owner, rule, rule.min_rate)
        if based is None and rule.has_base():
            based = (owner, rule)
    if rated is None:
        raise MissingFigure(f"no housing fund rates for {town.name_zh} on {on}", field="city",
                            rule="housing_fund_rates")
    owner, rule, min_rate = rated
    base_rule = based[1] if based is not None else None
    return HousingFundRates(
        min_rate=min_rate, max_rate=rule.max_rate,
        verified=rule.verified and (base_rule is None or base_rule.verified),
        rule=cat.ref(rule, "housing_fund_rates", owner),
        base_floor=base_rule.base_floor if base_rule is not None else None,
        base_ceiling=base_rule.base_ceiling if base_rule is not None else None,
        base_rule=cat.ref(based[1], "housing_fund_rates", based[0]) if based is not None else None,
    )


def employee_deduction(
    city: str,
    base: Decimal | int | str,
    on: dt.date,
    insurances: tuple[str, ...] = ("pension", "medical", "unemployment"),
    *,
    catalogue: Catalogue | None = None,
) -> EmployeeDeduction:
    """The employee's monthly contributions: base x personal rate (+ a fixed amount where the city
    has one), per insurance, after checking the base against the city's limits (each insurance's
    own where the city sets them apart)."""
    cat = catalogue or load_catalogue()
    limits = check_base(city, base, on, catalogue=cat)
    amount = _decimal(base, "base", limits.rule.id)
    rates = contribution_rates(city, on, catalogue=cat)
    lines: list[DeductionLine] = []
    for insurance in insurances:
        rate = rates.rates.get(insurance)
        if rate is None:
            raise PolicyError(f"unknown insurance {insurance!r}", field="insurances", rule="contribution_rates")
        if not rate.employee_pays:
            continue
        check_base(city, base, on, insurance, catalogue=cat)
        if rate.employee is None:
            raise MissingFigure(f"the catalogue has no employee {insurance} rate for {limits.city_zh}",
                                field=insurance, rule=rate.rule.id)
        fixed = rate.employee_fixed_monthly or Decimal(0)
        lines.append(DeductionLine(
            insurance=insurance, rate=rate.employee, fixed=fixed,
            amount=(amount * rate.employee + fixed).quantize(FEN, ROUND_HALF_UP), verified=rate.verified))
    return EmployeeDeduction(city=limits.city, base=amount, lines=lines,
                             total=sum((line.amount for line in lines), Decimal("0.00")),
                             verified=limits.verified and all(line.verified for line in lines))
