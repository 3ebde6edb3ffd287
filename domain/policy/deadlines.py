"""Statutory (and company) deadlines by code, turned into dates on the Chinese calendar, and the
non-compete and wage-deduction figures offboarding needs.

A deadline's unit decides the counting: working days from the day after the trigger; calendar days
and months with the start day not counted and, unless the rule says otherwise, a last day on a rest
day or holiday moved to the next working day (Civil Code arts. 201-203); ``on_trigger`` is the
trigger date itself (the separation certificate, the final wages).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from domain import workdays
from domain.policy.catalogue import Catalogue, load_catalogue
from domain.policy.errors import PolicyError, UnknownRule
from domain.policy.models import DeadlineRule, NonCompeteRule, RuleRef, WageDeductionRule
from domain.policy.regions import NATIONAL

FEN = Decimal("0.01")


class Deadline(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    zh: str
    en: str
    trigger: str
    from_date: dt.date
    due: dt.date
    provisional: bool
    amount: int
    unit: str
    verified: bool
    rule: RuleRef


class NonCompeteCompensation(BaseModel):
    model_config = ConfigDict(frozen=True)
    monthly: Decimal
    from_wage: Decimal  # 30% of the average monthly wage of the last 12 months
    minimum_wage: Decimal
    raised_to_minimum_wage: bool
    verified: bool
    rule: RuleRef


def deadline_rule(
    code: str, on: dt.date, *, region: str | None = None, catalogue: Catalogue | None = None
) -> tuple[str, DeadlineRule]:
    """The rule for ``code`` in force on ``on``: the region's own, else the national one."""
    cat = catalogue or load_catalogue()
    owners = [NATIONAL]
    if region is not None:
        owners.insert(0, cat.province(region).code)
    known = {r.code for o in owners for r in cat.rules(o, "deadlines") if isinstance(r, DeadlineRule)}
    if code not in known:
        raise UnknownRule(f"unknown deadline {code!r}; known: {', '.join(sorted(known))}",
                          field="rule", rule="deadlines")
    for owner in owners:
        found = cat.find(owner, "deadlines", on, (code,))
        if found is not None:
            assert isinstance(found, DeadlineRule)
            return owner, found
    holder = next(o for o in owners if any(r.scope() == (code,) for r in cat.rules(o, "deadlines")))
    cat.require(holder, "deadlines", on, (code,), label=f"deadline {code}")  # raises NoRuleInForce
    raise AssertionError("unreachable")


def due_date(rule: DeadlineRule, from_date: dt.date) -> workdays.CalendarDate:
    if rule.unit == "working_days":
        return workdays.add_working_days(from_date, rule.amount)
    if rule.unit == "calendar_days":
        return workdays.add_calendar_days(from_date, rule.amount, roll=rule.roll_to_working_day)
    if rule.unit == "months":
        return workdays.add_months(from_date, rule.amount, roll=rule.roll_to_working_day)
    return workdays.CalendarDate(from_date, not workdays.is_arrangement_known(from_date.year))


def deadline(
    rule: str,
    from_date: dt.date,
    *,
    region: str | None = None,
    on: dt.date | None = None,
    catalogue: Catalogue | None = None,
) -> Deadline:
    """When the deadline ``rule`` (a code such as ``archive_and_insurance_transfer``) falls for a
    trigger on ``from_date``; the rule version is the one in force on ``on`` (default the trigger)."""
    cat = catalogue or load_catalogue()
    owner, found = deadline_rule(rule, on or from_date, region=region, catalogue=cat)
    due = due_date(found, from_date)
    return Deadline(code=found.code, zh=found.zh, en=found.en, trigger=found.trigger, from_date=from_date,
                    due=due.date, provisional=due.provisional, amount=found.amount, unit=found.unit,
                    verified=found.verified, rule=cat.ref(found, "deadlines", owner))


def deadline_rules(
    on: dt.date, *, region: str | None = None, catalogue: Catalogue | None = None
) -> dict[str, tuple[str, DeadlineRule]]:
    """Every deadline in force on ``on``: ``{code: (owning region, rule)}``, region over national."""
    cat = catalogue or load_catalogue()
    owners = [NATIONAL] + ([cat.province(region).code] if region is not None else [])
    found: dict[str, tuple[str, DeadlineRule]] = {}
    for owner in owners:  # later owners (the region) override
        for rule in cat.rules(owner, "deadlines"):
            if rule.in_force(on):
                assert isinstance(rule, DeadlineRule)
                found[rule.code] = (owner, rule)
    return dict(sorted(found.items()))


def non_compete_rule(on: dt.date, *, catalogue: Catalogue | None = None) -> NonCompeteRule:
    cat = catalogue or load_catalogue()
    rule = cat.require(NATIONAL, "non_compete", on, label="non-compete rule")
    assert isinstance(rule, NonCompeteRule)
    return rule


def wage_deduction_rule(on: dt.date, *, catalogue: Catalogue | None = None) -> WageDeductionRule:
    cat = catalogue or load_catalogue()
    rule = cat.require(NATIONAL, "wage_deductions", on, label="wage deduction rule")
    assert isinstance(rule, WageDeductionRule)
    return rule


def _amount(value: Decimal | int | str, name: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise PolicyError(f"{name} must be a Decimal, not {type(value).__name__}", field=name, rule="non_compete")
    return Decimal(value)


def non_compete_compensation(
    average_monthly_wage_last_12: Decimal,
    local_minimum_wage: Decimal,
    on: dt.date,
    *,
    catalogue: Catalogue | None = None,
) -> NonCompeteCompensation:
    """Monthly compensation when the contract does not fix it: 30% of the average monthly wage
    of the last 12 months, not below the local minimum wage (Interpretation (I) art. 36)."""
    cat = catalogue or load_catalogue()
    rule = non_compete_rule(on, catalogue=cat)
    wage = _amount(average_monthly_wage_last_12, "average_monthly_wage_last_12")
    minimum = _amount(local_minimum_wage, "local_minimum_wage")
    from_wage = (wage * rule.default_compensation_rate).quantize(FEN, ROUND_HALF_UP)
    raised = rule.not_below_minimum_wage and from_wage < minimum
    return NonCompeteCompensation(
        monthly=minimum.quantize(FEN) if raised else from_wage, from_wage=from_wage, minimum_wage=minimum,
        raised_to_minimum_wage=raised, verified=rule.verified, rule=cat.ref(rule, "non_compete", NATIONAL))


def max_wage_deduction(
    monthly_wage: Decimal, local_minimum_wage: Decimal, on: dt.date, *, catalogue: Catalogue | None = None
) -> Decimal:
    """The most that may be deducted from one month's wage for damages (Wage Payment Provisions
    art. 16): 20% of the wage, and never so much that less than the minimum wage remains."""
    rule = wage_deduction_rule(on, catalogue=catalogue)
    wage = _amount(monthly_wage, "monthly_wage")
    minimum = _amount(local_minimum_wage, "local_minimum_wage")
    cap = (wage * rule.max_rate_of_monthly_wage).quantize(FEN, ROUND_HALF_UP)
    if rule.remainder_not_below_minimum_wage:
        cap = min(cap, max(Decimal("0.00"), wage - minimum))
    return cap.quantize(FEN)
