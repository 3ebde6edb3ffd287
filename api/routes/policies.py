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


@router.get("/regions", response_model=list[RegionOut], responses=responses(401),
            summary="目录中的省市 (Regions in the catalogue)")
def regions(principal: Authenticated) -> list[RegionOut]:
    """政策目录收录的省份及其城市：代码、中英文名称和别名，其他查询的 province、city 参数用这些写法都可以。
    任何登录用户可调用。

    The provinces and their cities the policy catalogue holds: code, Chinese and English names and
    aliases; the other queries' ``province`` and ``city`` accept any of them. Any signed-in user."""
    return [
        RegionOut(code=r.code, name_zh=r.name_zh, name_en=r.name_en, aliases=list(r.aliases),
                  cities=[CityOut(code=c.code, name_zh=c.name_zh, name_en=c.name_en) for c in r.cities])
        for r in policy.load_catalogue().provinces()
    ]


@router.get("/maternity-leave", response_model=MaternityLeavePolicy, responses=responses(401, 404),
            summary="产假政策与天数 (Maternity leave rules and days)")
def maternity_leave(
    principal: Authenticated,
    province: Annotated[str, Query(description="province or city, Chinese or pinyin")],
    on: Annotated[PlausibleDate | None, Query(description="date the rule must be in force (default birth_date, or today)")] = None,
    birth_date: Annotated[PlausibleDate | None, Query(description="expected or actual birth date, to compute the leave")] = None,
    babies: Annotated[int, Query(ge=1)] = 1,
    difficult_birth: bool = False,
    child_order: Annotated[int | None, Query(ge=1)] = None,
) -> MaternityLeavePolicy:
    """某省在某日有效的国家和地方产假规则及生育津贴规则（附来源）；给出 birth_date 时按胎数、
    难产和孩次算出假期天数和日期，与产假案件固定的数字相同。任何登录用户可调用；省份不认识或该日无有效规则答 404，
    参数缺失或有误答 422。

    The national and provincial maternity leave rules and the allowance rule in force in a province
    on a day, with their sources; with ``birth_date`` the leave days and dates for the babies, a
    difficult birth and the child's order, the same figures a maternity case pins. Any signed-in
    user; an unknown province or no rule in force that day is 404, a missing or malformed input
    422."""
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


@router.get("/contribution", response_model=ContributionPolicy, responses=responses(401, 404),
            summary="社保缴费基数与比例 (Contribution base limits and rates)")
def contribution(
    principal: Authenticated,
    city: Annotated[str, Query(description="city, Chinese or pinyin")],
    on: PlausibleDate | None = None,
) -> ContributionPolicy:
    """某城市在某日（默认今天）的社保缴费基数上下限和各险种单位、个人缴费比例（附来源）。任何登录用户可调用；
    城市不认识或该日无有效规则答 404。

    A city's contribution base floor and ceiling and each insurance's employer and employee rates on a
    day (today by default), with their sources. Any signed-in user; an unknown city or no rule in
    force that day is 404."""
    when = _today(on)
    return _answer(lambda: ContributionPolicy(city=city, on=when, limits=policy.contribution_limits(city, when),
                                              rates=policy.contribution_rates(city, when)))


@router.get("/transfer", response_model=policy.TransferRequirements, responses=responses(401, 404),
            summary="跨省转移要求 (What a transfer needs)")
def transfer(
    principal: Authenticated,
    origin: str,
    destination: str,
    type: Annotated[str, Query(description="pension, medical, unemployment or housing_fund")],
    on: PlausibleDate | None = None,
) -> policy.TransferRequirements:
    """把一个险种（养老、医疗、失业或住房公积金）从原参保地转到新参保地所需的材料和办理步骤（含时限和来源），
    按某日（默认今天）有效的规则。任何登录用户可调用；地区不认识或无有效规则答 404；险种不认识、该险种不随人转移，
    或两地在同一省，答 422。

    The materials and steps (with time limits and sources) to move one insurance type (pension,
    medical, unemployment or housing fund) from the origin to the destination, by the rules in force
    on a day (today by default). Any signed-in user; an unknown region or no rule in force is 404; an
    unknown type, one that does not move with the person, or two places in one province is 422."""
    when = _today(on)
    return _answer(lambda: policy.transfer_requirements(origin, destination, type, when))


@router.get("/deadlines", response_model=DeadlinesPolicy, responses=responses(401, 404),
            summary="法定时限 (Statutory deadlines)")
def deadlines(
    principal: Authenticated,
    on: PlausibleDate | None = None,
    region: Annotated[str | None, Query(description="province whose own deadlines override the national ones")] = None,
) -> DeadlinesPolicy:
    """某日（默认今天）有效的法定时限（如辞职通知期、离职后十五日内的备案），每项注明由哪个地区规定及其来源；给出 region
    时，该省自己的时限取代国家的。任何登录用户可调用；地区不认识答 404。

    The statutory deadlines in force on a day (today by default), such as the resignation notice or
    the filings due 15 days after a departure, each with the region that sets it and its source; with
    ``region`` that province's own deadlines replace the national ones. Any signed-in user; an unknown
    region is 404."""
    when = _today(on)

    def answer() -> DeadlinesPolicy:
        cat = policy.load_catalogue()
        found: dict[str, Any] = policy.deadline_rules(when, region=region, catalogue=cat)
        return DeadlinesPolicy(
            on=when, region=region,
            deadlines={code: DeadlineEntry(region=owner, rule=rule, ref=cat.ref(rule, "deadlines", owner))
                       for code, (owner, rule) in found.items()})

    return _answer(answer)
