"""``GET /policies/...``: the statutory figures a case would pin, with their sources, for any
signed-in user. The answers come from the pure ``domain.policy`` queries; an unknown region or a
date no rule covers is a 404, a missing or malformed input a 422, each naming field and rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query
from pydantic import BaseModel

from api.auth import Authenticated
from api.errors import responses
from api.plausibility import PlausibleDate
from api.routes import resource_router
from domain import policy
from domain.policy.maternity import allowance_rule, leave_rules
from domain.policy.models import DeadlineRule, MaternityAllowanceRule, MaternityLeaveRule, RuleRef

router = resource_router(prefix="/policies", tags=["policies"])

T = TypeVar("T")


def _answer(call: Callable[[], T]) -> T:
    try:
        return call()
    except (policy.UnknownRegion, policy.NoRuleInForce) as exc:
        raise HTTPException(status_code=404, detail=exc.detail()) from None
    except policy.UnknownRule as exc:
        raise HTTPException(status_code=422, detail=exc.detail()) from None
    except policy.PolicyError as exc:
        raise HTTPException(status_code=422, detail=exc.detail()) from None


def _today(on: dt.date | None) -> dt.date:
    return on or dt.date.today()


class MaternityLeavePolicy(BaseModel):
    province: str
    on: dt.date
    national_rule: MaternityLeaveRule
    provincial_rule: MaternityLeaveRule | None  # None: not in the catalogue, national law alone applies
    provincial_rule_missing: str | None = None  # why, and how to enter it
    allowance_region: str
    allowance_rule: MaternityAllowanceRule
    entitlement: policy.LeaveEntitlement | None  # computed when birth facts are given


class ContributionPolicy(BaseModel):
    city: str
    on: dt.date
    limits: policy.ContributionLimits
    rates: policy.ContributionRates


class DeadlineEntry(BaseModel):
    region: str
    rule: DeadlineRule
    ref: RuleRef


class DeadlinesPolicy(BaseModel):
    on: dt.date
    region: str | None
    deadlines: dict[str, DeadlineEntry]


class CityOut(BaseModel):
    code: str
    name_zh: str
    name_en: str


class RegionOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    aliases: list[str]
    cities: list[CityOut]


@router.get("/regions", response_model=list[RegionOut], responses=responses(401))
def regions(principal: Authenticated) -> list[RegionOut]:
    return [
        RegionOut(code=r.code, name_zh=r.name_zh, name_en=r.name_en, aliases=list(r.aliases),
                  cities=[CityOut(code=c.code, name_zh=c.name_zh, name_en=c.name_en) for c in r.cities])
        for r in policy.load_catalogue().provinces()
    ]


@router.get("/maternity-leave", response_model=MaternityLeavePolicy, responses=responses(401, 404))
def maternity_leave(
    principal: Authenticated,
    province: Annotated[str, Query(description="province or city, Chinese or pinyin")],
    on: Annotated[PlausibleDate | None, Query(description="date the rule must be in force (default birth_date, or today)")] = None,
    birth_date: Annotated[PlausibleDate | None, Query(description="expected or actual birth date, to compute the leave")] = None,
    babies: Annotated[int, Query(ge=1)] = 1,
    difficult_birth: bool = False,
    child_order: Annotated[int | None, Query(ge=1)] = None,
) -> MaternityLeavePolicy:
    def answer() -> MaternityLeavePolicy:
        when = on or birth_date or dt.date.today()
        code, national, local, missing = leave_rules(province, birth_date or when)  # the birth date governs
        owner, allowance = allowance_rule(code, when)
        entitlement = None
        if birth_date is not None:
            facts = policy.BirthFacts(birth_date=birth_date, babies=babies, difficult_birth=difficult_birth,
                               child_order=child_order)
            entitlement = policy.leave_entitlement(code, facts, when)
        return MaternityLeavePolicy(province=code, on=when, national_rule=national, provincial_rule=local,
                                    provincial_rule_missing=missing, allowance_region=owner, allowance_rule=allowance, entitlement=entitlement)

    return _answer(answer)


@router.get("/contribution", response_model=ContributionPolicy, responses=responses(401, 404))
def contribution(
    principal: Authenticated,
    city: Annotated[str, Query(description="city, Chinese or pinyin")],
    on: PlausibleDate | None = None,
) -> ContributionPolicy:
    when = _today(on)
    return _answer(lambda: ContributionPolicy(city=city, on=when, limits=policy.contribution_limits(city, when),
                                              rates=policy.contribution_rates(city, when)))


@router.get("/transfer", response_model=policy.TransferRequirements, responses=responses(401, 404))
def transfer(
    principal: Authenticated,
    origin: str,
    destination: str,
    type: Annotated[str, Query(description="pension, medical, unemployment or housing_fund")],
    on: PlausibleDate | None = None,
) -> policy.TransferRequirements:
    when = _today(on)
    return _answer(lambda: policy.transfer_requirements(origin, destination, type, when))


@router.get("/deadlines", response_model=DeadlinesPolicy, responses=responses(401, 404))
def deadlines(
    principal: Authenticated,
    on: PlausibleDate | None = None,
    region: Annotated[str | None, Query(description="province whose own deadlines override the national ones")] = None,
) -> DeadlinesPolicy:
    when = _today(on)

    def answer() -> DeadlinesPolicy:
        cat = policy.load_catalogue()
        found: dict[str, Any] = policy.deadline_rules(when, region=region, catalogue=cat)
        return DeadlinesPolicy(
            on=when, region=region,
            deadlines={code: DeadlineEntry(region=owner, rule=rule, ref=cat.ref(rule, "deadlines", owner))
                       for code, (owner, rule) in found.items()})

    return _answer(answer)
