"""Pinning: a case resolves the policy it needs once, at its start, and carries the result.

A workflow receives a snapshot as input instead of reading the catalogue, so editing the catalogue
(a new contribution year, a corrected figure) never changes a running case, and every case can show
which rules it used. ``version`` is the SHA-256 of the canonical JSON of the catalogue entries used
(each entry's full content, through its ``content_hash``): the same entries give the same version,
any changed figure gives another. The snapshots are plain pydantic models (Decimal and date fields),
safe for Temporal's pydantic data converter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from domain.policy.catalogue import Catalogue, load_catalogue
from domain.policy.contributions import ContributionLimits, ContributionRates, contribution_limits, contribution_rates
from domain.policy.deadlines import deadline_rule, deadline_rules, non_compete_rule, wage_deduction_rule
from domain.policy.errors import PolicyError
from domain.policy.maternity import (
    BirthFacts,
    LeaveEntitlement,
    PaternityEntitlement,
    allowance_rule,
    leave_entitlement,
    paternity_leave,
)
from domain.policy.models import (
    DeadlineRule,
    MaternityAllowanceRule,
    NonCompeteRule,
    RuleRef,
    WageDeductionRule,
    canonical_json,
)
from domain.policy.regions import NATIONAL
from domain.policy.transfers import TransferRequirements, transfer_requirements

# How a gap for a missing provincial maternity rule starts, so the workflow can recognise it.
PROVINCIAL_EXTENSION_GAP = "provincial_extension: "


class PolicySnapshot(BaseModel):
    """Common part of every snapshot: what was asked, when, which rules answered, their version."""

    model_config = ConfigDict(frozen=True)
    kind: str
    on: dt.date
    rules: list[RuleRef]
    verified: bool  # every rule used is verified
    gaps: list[str] = []  # figures the case may need that the catalogue does not hold, in words
    version: str


class MaternitySnapshot(PolicySnapshot):
    kind: Literal["maternity"] = "maternity"
    province: str
    city: str | None
    facts: BirthFacts
    leave: LeaveEntitlement
    paternity: PaternityEntitlement | None
    allowance: MaternityAllowanceRule
    allowance_region: str
    allowance_claim: DeadlineRule  # agency processing time
    contribution: ContributionLimits | None
    rates: ContributionRates | None


class ContributionSnapshot(PolicySnapshot):
    kind: Literal["contribution"] = "contribution"
    city: str
    limits: ContributionLimits
    rates: ContributionRates


class TransferSnapshot(PolicySnapshot):
    kind: Literal["transfer"] = "transfer"
    origin: str
    destination: str
    requirements: dict[str, TransferRequirements]
    give_up: DeadlineRule  # company policy: how long material collection may stay open
    registration_change: DeadlineRule


class OffboardingSnapshot(PolicySnapshot):
    kind: Literal["offboarding"] = "offboarding"
    province: str
    deadlines: dict[str, DeadlineRule]
    non_compete: NonCompeteRule
    wage_deductions: WageDeductionRule


def policy_version(rules: list[RuleRef]) -> str:
    """SHA-256 over the canonical JSON of the entries used (order does not matter)."""
    entries = sorted({(r.section, r.region, r.id, r.content_hash) for r in rules})
    return hashlib.sha256(canonical_json([list(e) for e in entries]).encode()).hexdigest()


def _unique(rules: list[RuleRef]) -> list[RuleRef]:
    seen: dict[str, RuleRef] = {}
    for ref in rules:
        seen.setdefault(ref.id, ref)
    return sorted(seen.values(), key=lambda r: (r.section, r.region, r.id))


class _Common(TypedDict):
    """The ``PolicySnapshot`` fields every pin computes the same way (the kind is each pin's own)."""

    on: dt.date
    rules: list[RuleRef]
    verified: bool
    gaps: list[str]
    version: str


def _common(on: dt.date, refs: list[RuleRef], gaps: list[str] | None = None) -> _Common:
    rules = _unique(refs)
    return {"on": on, "rules": rules, "verified": all(r.verified for r in rules),
            "gaps": gaps or [], "version": policy_version(rules)}


def pin_maternity(
    province: str,
    city: str | None,
    birth_facts: BirthFacts,
    on: dt.date | None = None,
    *,
    catalogue: Catalogue | None = None,
) -> MaternitySnapshot:
    """Everything a maternity case needs: leave, paternity leave (None where none is encoded, noted
    in ``gaps``), allowance formula, claim processing limit, and the city's base limits and rates
    (None with a gap when the catalogue lacks them, e.g. Guiyang). ``on`` (default the birth date)
    chooses the allowance, claim, base and rate rules; the leave and paternity leave follow the
    law in force at the birth. A province without a leave rule gets the national floor and a gap
    starting ``provincial_extension:``, from which the case opens an HR task."""
    cat = catalogue or load_catalogue()
    when = on or birth_facts.birth_date
    region = cat.province(province)
    if city is not None:
        city_region, _ = cat.city(city)
        if city_region.code != region.code:
            raise PolicyError(f"city {city!r} is not in {region.name_zh}", field="city", rule="region")
    leave = leave_entitlement(region.code, birth_facts, when, catalogue=cat)
    refs = list(leave.rules)
    gaps: list[str] = []
    if leave.provincial_rule_missing:
        gaps.append(f"{PROVINCIAL_EXTENSION_GAP}{leave.confirm}")
    paternity: PaternityEntitlement | None
    try:
        paternity = paternity_leave(region.code, birth_facts.birth_date, catalogue=cat)
        refs.append(paternity.rule)
    except PolicyError as exc:
        paternity = None
        gaps.append(f"paternity leave: {exc.message}")
    owner, allowance = allowance_rule(region.code, when, catalogue=cat)
    refs.append(cat.ref(allowance, "maternity_allowance", owner))
    claim_owner, claim = deadline_rule("maternity_allowance_processing", when, region=region.code, catalogue=cat)
    refs.append(cat.ref(claim, "deadlines", claim_owner))
    limits = rates = None
    if city is not None:
        try:
            limits = contribution_limits(city, when, catalogue=cat)
            refs.append(limits.rule)
        except PolicyError as exc:
            gaps.append(f"contribution base: {exc.message}")
        rates = contribution_rates(city, when, catalogue=cat)
        refs.extend(_rates_refs(rates))
    common = _common(when, refs, gaps)
    if leave.provincial_rule_missing:
        common["verified"] = False  # the national rule is verified, the answer is not complete
    return MaternitySnapshot(
        kind="maternity", **common,
        province=region.code, city=cat.city(city)[1].code if city else None, facts=birth_facts, leave=leave,
        paternity=paternity, allowance=allowance, allowance_region=owner, allowance_claim=claim,
        contribution=limits, rates=rates,
    )


def _rates_refs(rates: ContributionRates) -> list[RuleRef]:
    """The rules behind a rates answer: each insurance's, the housing fund's rates and base."""
    refs = [r.rule for r in rates.rates.values()]
    refs.append(rates.housing_fund.rule)
    if rates.housing_fund.base_rule is not None:
        refs.append(rates.housing_fund.base_rule)
    return refs


def pin_contribution(city: str, on: dt.date, *, catalogue: Catalogue | None = None) -> ContributionSnapshot:
    """Base limits and rates for ``city``; raises when the catalogue holds no base for the date."""
    cat = catalogue or load_catalogue()
    limits = contribution_limits(city, on, catalogue=cat)
    rates = contribution_rates(city, on, catalogue=cat)
    refs = [limits.rule, *_rates_refs(rates)]
    return ContributionSnapshot(kind="contribution", **_common(on, refs), city=limits.city, limits=limits, rates=rates)


def pin_transfer(
    origin: str,
    destination: str,
    kinds: list[str] | tuple[str, ...],
    on: dt.date,
    *,
    catalogue: Catalogue | None = None,
) -> TransferSnapshot:
    """Requirements for each insurance in ``kinds`` (pension, medical, unemployment, housing_fund)."""
    cat = catalogue or load_catalogue()
    if not kinds:
        raise PolicyError("give at least one insurance type to transfer", field="kinds", rule="transfers")
    requirements: dict[str, TransferRequirements] = {}
    for kind in kinds:
        found = transfer_requirements(origin, destination, kind, on, catalogue=cat)
        requirements[found.kind] = found
    src, dst = cat.province(origin, field="origin"), cat.province(destination, field="destination")
    give_owner, give_up = deadline_rule("transfer_materials_give_up", on, region=dst.code, catalogue=cat)
    reg_owner, registration = deadline_rule("insurance_registration_change", on, region=dst.code, catalogue=cat)
    refs = [r.rule for r in requirements.values()]
    refs += [cat.ref(give_up, "deadlines", give_owner), cat.ref(registration, "deadlines", reg_owner)]
    return TransferSnapshot(
        kind="transfer", **_common(on, refs), origin=src.code, destination=dst.code,
        requirements=dict(sorted(requirements.items())), give_up=give_up, registration_change=registration)


OFFBOARDING_DEADLINES = (
    "resignation_notice",
    "resignation_notice_probation",
    "separation_certificate",
    "final_wages",
    "archive_and_insurance_transfer",
    "unemployment_report",
    "housing_fund_change",
    "contract_copy_retention",
    "non_compete_max_term",
)


def pin_offboarding(province: str, on: dt.date, *, catalogue: Catalogue | None = None) -> OffboardingSnapshot:
    """The deadlines, non-compete and wage-deduction rules an offboarding case applies."""
    cat = catalogue or load_catalogue()
    region = cat.province(province)
    in_force = deadline_rules(on, region=region.code, catalogue=cat)
    missing = [c for c in OFFBOARDING_DEADLINES if c not in in_force]
    if missing:
        raise PolicyError(f"no rule in force on {on} for deadline(s) {', '.join(missing)}",
                          field="on", rule="deadlines")
    chosen = {code: in_force[code] for code in OFFBOARDING_DEADLINES}
    non_compete = non_compete_rule(on, catalogue=cat)
    deductions = wage_deduction_rule(on, catalogue=cat)
    refs = [cat.ref(rule, "deadlines", owner) for owner, rule in chosen.values()]
    refs += [cat.ref(non_compete, "non_compete", NATIONAL), cat.ref(deductions, "wage_deductions", NATIONAL)]
    return OffboardingSnapshot(
        kind="offboarding", **_common(on, refs), province=region.code,
        deadlines={code: rule for code, (_, rule) in chosen.items()},
        non_compete=non_compete, wage_deductions=deductions)


class SiChangeSnapshot(PolicySnapshot):
    kind: Literal["si_change"] = "si_change"
    city: str
    limits: ContributionLimits
    rates: ContributionRates
    back_payment_lookback: DeadlineRule  # how many months back a back-payment may reach
    agency_revocation_window: DeadlineRule  # after execution, how long the agency accepts a revocation


def pin_si_change(city: str, on: dt.date, *, catalogue: Catalogue | None = None) -> SiChangeSnapshot:
    """Everything a social-insurance change needs: base limits, rates, back-payment and revocation rules."""
    cat = catalogue or load_catalogue()
    contribution = pin_contribution(city, on, catalogue=cat)
    province = cat.city(city)[0].code
    chosen = {code: deadline_rule(code, on, region=province, catalogue=cat)
              for code in ("si_back_payment_lookback", "si_agency_revocation_window")}
    refs = [*contribution.rules, *(cat.ref(rule, "deadlines", owner) for owner, rule in chosen.values())]
    return SiChangeSnapshot(
        kind="si_change", **_common(on, refs), city=contribution.city, limits=contribution.limits,
        rates=contribution.rates, back_payment_lookback=chosen["si_back_payment_lookback"][1],
        agency_revocation_window=chosen["si_agency_revocation_window"][1])
