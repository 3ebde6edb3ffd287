"""The schema of the policy catalogue files: what a rule must say before the code may use it.

Every rule carries its validity (``effective_from``, ``effective_to`` inclusive), its ``source``
(regulation name and public page), and ``verified``: whether the figure was checked against an
official text. Parts of a rule that were checked separately (a rate, a step's time limit) carry
their own ``verified``; a rule may only claim ``verified: true`` when all its parts do (the
catalogue check enforces it). Money and rates are ``Decimal`` and a YAML float is refused, so a
rate is written ``"0.08"`` and never drifts through binary floating point.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        # ValueError, not TypeError: pydantic reports only a ValueError as a validation error of the field.
        raise ValueError(f"write {value!r} as a quoted decimal string, not a float")  # noqa: TRY004
    return value


Money = Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0)]
Rate = Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0, le=1)]

Basis = Literal["official", "secondary", "derived", "company_policy"]
Actor = Literal["employee", "employer", "origin_office", "destination_office"]
InsuranceKind = Literal["pension", "medical", "unemployment", "work_injury", "maternity"]
TransferKind = Literal["pension", "medical", "unemployment", "housing_fund", "work_injury", "maternity"]
DeadlineUnit = Literal["working_days", "calendar_days", "months", "on_trigger"]
# Which maternity leave days statutory holidays do not count in: none (holidays included), only the
# province's extra days (Shanghai, Jiangsu), or the whole leave (Anhui).
HolidayExclusion = Literal["none", "extra_days", "whole_leave"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Source(BaseModel):
    """Where a rule comes from. ``basis``: an official text (``official``), a report of one
    (``secondary``), a figure computed from official ones (``derived``), or the employer's own
    choice (``company_policy``)."""

    model_config = _STRICT
    name: str = Field(min_length=1)
    url: str | None = None
    article: str | None = None
    basis: Basis = "official"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("url must be an http(s) address")
        return value


class Rule(BaseModel):
    """Fields every catalogue rule has."""

    model_config = _STRICT
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    effective_from: dt.date
    effective_to: dt.date | None = None  # inclusive; None while in force
    effective_from_basis: Literal["commencement", "source_date", "assumed"] = "commencement"
    source: Source
    verified: bool
    note: str | None = None

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def scope(self) -> tuple[str, ...]:
        """What distinguishes rules of one section in one region (a city, a kind, a code).
        Two rules with the same scope must not overlap in time."""
        return ()

    def unverified_parts(self) -> list[str]:
        """Names of parts flagged ``verified: false`` inside the rule."""
        return []


class Label(BaseModel):
    """A coded item named in both languages; the parts of a transfer rule extend it."""

    model_config = _STRICT
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    zh: str
    en: str


# ---------------------------------------------------------------- regions


class City(BaseModel):
    model_config = _STRICT
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    name_zh: str
    name_en: str
    aliases: list[str] = []


class Region(BaseModel):
    model_config = _STRICT
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    name_zh: str
    name_en: str
    kind: Literal["national", "province", "municipality", "autonomous_region"]
    gb_code: str | None = None
    aliases: list[str] = []
    cities: list[City] = []


# ---------------------------------------------------------------- maternity


class OptionalExtension(BaseModel):
    """Leave a province allows beyond the entitlement on a condition (employer consent, exclusive
    breastfeeding): shown to HR, never added to the computed entitlement."""

    model_config = _STRICT
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    zh: str
    en: str
    days: int | None = Field(default=None, ge=0)
    max_days: int | None = Field(default=None, ge=0)
    condition: str


class MaternityLeaveRule(Rule):
    """National fields (``base_days`` ...) are set in the national file; a province file sets its
    extras and may override a national figure (Guangdong: difficult birth +30)."""

    base_days: int | None = Field(default=None, ge=0)
    days_before_birth: int | None = Field(default=None, ge=0)
    difficult_birth_days: int | None = Field(default=None, ge=0)
    additional_baby_days: int | None = Field(default=None, ge=0)
    miscarriage_threshold_months: int | None = Field(default=None, ge=1)
    miscarriage_before_threshold_days: int | None = Field(default=None, ge=0)
    miscarriage_from_threshold_days: int | None = Field(default=None, ge=0)
    extra_days: int = Field(default=0, ge=0)
    extra_days_by_child_order: dict[int, int] | None = None  # last key covers higher orders
    # Superseded by ``statutory_holidays_excluded``; still read so older files and payloads decode.
    extra_days_exclude_statutory_holidays: bool = False
    statutory_holidays_excluded: HolidayExclusion | None = None  # None: follow the old bool
    employer_may_extend_to_days: int | None = Field(default=None, ge=0)
    counting: str  # how days are counted, in words (calendar days, holidays included ...)
    optional_extensions: list[OptionalExtension] = []

    def holidays_excluded(self) -> HolidayExclusion:
        """The exclusion in force: the new field when set, else what the old bool said."""
        if self.statutory_holidays_excluded is not None:
            return self.statutory_holidays_excluded
        return "extra_days" if self.extra_days_exclude_statutory_holidays else "none"


class PaternityLeaveRule(Rule):
    days: int = Field(ge=0)
    counting: str | None = None


class MaternityAllowanceRule(Rule):
    """Allowance = wage basis / divisor x leave days; it is the leave pay."""

    wage_basis: Literal["employer_average_monthly_contribution_wage"]
    divisor: int = Field(gt=0)
    employer_makes_up_shortfall: bool
    employer_may_keep_excess: bool


# ---------------------------------------------------------------- contributions


class BaseLimits(BaseModel):
    """One insurance's own floor and ceiling where it differs from the rule's (Hohhot medical)."""

    model_config = _STRICT
    floor: Money
    ceiling: Money


class ContributionBaseRule(Rule):
    """``floor``/``ceiling`` are the base limits (the pension's where insurances differ);
    ``by_insurance`` holds an insurance whose own limits differ. ``applies_to`` lists the insurances
    the rule's floor/ceiling is known to cover (None: every insurance without its own entry), so a
    source that names only some insurances does not lend its figure to the others."""

    city: str
    floor: Money
    ceiling: Money
    average_wage: Money | None = None  # the provincial average monthly wage it derives from
    period_confirmed: bool  # False when the months of the contribution year were assumed
    by_insurance: dict[InsuranceKind, BaseLimits] = {}
    applies_to: list[InsuranceKind] | None = None

    def scope(self) -> tuple[str, ...]:
        return (self.city,)

    def limits_for(self, insurance: str | None) -> BaseLimits | None:
        """The limits for ``insurance`` (None: the rule's own), or None when the rule holds none."""
        if insurance is None:
            return BaseLimits(floor=self.floor, ceiling=self.ceiling)
        for kind, own in self.by_insurance.items():
            if kind == insurance:
                return own
        if self.applies_to is None or insurance in self.applies_to:
            return BaseLimits(floor=self.floor, ceiling=self.ceiling)
        return None


class RateItem(BaseModel):
    """One insurance: the employee's rate, a fixed monthly employee amount, the employer's rate.
    ``None`` means the catalogue does not hold the figure (never "zero")."""

    model_config = _STRICT
    employee: Rate | None = None
    employee_fixed_monthly: Money | None = None
    employer: Rate | None = None
    employee_pays: bool = True  # False for work injury and maternity: employer only
    verified: bool
    source: Source | None = None  # when the item comes from another text than the rule's source
    note: str | None = None


class ContributionRatesRule(Rule):
    """Rates for a city (``city`` set) or a whole region (``city`` None; the national file holds the
    national defaults). A query merges city over region over national, insurance by insurance."""

    city: str | None = None
    pension: RateItem | None = None
    medical: RateItem | None = None
    unemployment: RateItem | None = None
    work_injury: RateItem | None = None
    maternity: RateItem | None = None

    def scope(self) -> tuple[str, ...]:
        return (self.city or "*",)

    def items(self) -> dict[str, RateItem]:
        return {
            k: v
            for k in ("pension", "medical", "unemployment", "work_injury", "maternity")
            if (v := getattr(self, k)) is not None
        }

    def unverified_parts(self) -> list[str]:
        return [k for k, v in self.items().items() if not v.verified]


class RateFigure(BaseModel):
    model_config = _STRICT
    value: Rate
    verified: bool
    note: str | None = None


class HousingFundRatesRule(Rule):
    """Rates (``min_rate``, ``max_rate``) and/or the monthly base limits of the housing fund for a
    city or region. A query takes the rates and the base limits each from the nearest entry that
    has them, so a city entry may give only its base limits (Beijing) and keep the national rates."""

    city: str | None = None
    min_rate: RateFigure | None = None
    max_rate: RateFigure | None = None
    base_floor: Money | None = None
    base_ceiling: Money | None = None

    def scope(self) -> tuple[str, ...]:
        return (self.city or "*",)

    def has_base(self) -> bool:
        return self.base_floor is not None or self.base_ceiling is not None

    def unverified_parts(self) -> list[str]:
        parts = [] if self.min_rate is None or self.min_rate.verified else ["min_rate"]
        if self.max_rate is not None and not self.max_rate.verified:
            parts.append("max_rate")
        return parts


# ---------------------------------------------------------------- transfers


class Condition(Label):
    verified: bool
    note: str | None = None


class Material(Label):
    provided_by: Actor
    required: bool = True
    verified: bool
    note: str | None = None


class Step(Label):
    actor: Actor
    time_limit_working_days: int | None = Field(default=None, ge=0)
    time_limit_days: int | None = Field(default=None, ge=0)  # calendar days
    starts_after: str | None = None  # the step (or event) the limit counts from
    verified: bool
    note: str | None = None


class TransferRule(Rule):
    """How one insurance moves between provinces. ``transferable: false`` records that it does not
    (work injury and maternity restart at the new place)."""

    kind: TransferKind
    transferable: bool = True
    conditions: list[Condition] = []
    materials: list[Material] = []
    steps: list[Step] = []

    def scope(self) -> tuple[str, ...]:
        return (self.kind,)

    def unverified_parts(self) -> list[str]:
        return [
            f"{group}.{item.code}"
            for group in ("conditions", "materials", "steps")
            for item in getattr(self, group)
            if not item.verified
        ]


# ---------------------------------------------------------------- offboarding and deadlines


class DeadlineRule(Rule):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    zh: str
    en: str
    trigger: str  # the event the period counts from, in words
    amount: int = Field(ge=0)
    unit: DeadlineUnit
    roll_to_working_day: bool = True  # Civil Code art. 203; False for caps such as non-compete

    def scope(self) -> tuple[str, ...]:
        return (self.code,)


class NonCompeteRule(Rule):
    max_months: int = Field(gt=0)
    default_compensation_rate: Rate
    not_below_minimum_wage: bool
    unpaid_months_employee_may_end: int = Field(ge=0)
    release_extra_months: int = Field(ge=0)


class WageDeductionRule(Rule):
    max_rate_of_monthly_wage: Rate
    remainder_not_below_minimum_wage: bool


# ---------------------------------------------------------------- a file

SECTIONS: dict[str, type[Rule]] = {
    "maternity_leave": MaternityLeaveRule,
    "paternity_leave": PaternityLeaveRule,
    "maternity_allowance": MaternityAllowanceRule,
    "contribution_bases": ContributionBaseRule,
    "contribution_rates": ContributionRatesRule,
    "housing_fund_rates": HousingFundRatesRule,
    "transfers": TransferRule,
    "deadlines": DeadlineRule,
    "non_compete": NonCompeteRule,
    "wage_deductions": WageDeductionRule,
}


class RegionFile(BaseModel):
    """One YAML file: a province-level region (or ``national``) and its rules by section."""

    model_config = _STRICT
    schema_version: Literal[1]
    region: Region
    maternity_leave: list[MaternityLeaveRule] = []
    paternity_leave: list[PaternityLeaveRule] = []
    maternity_allowance: list[MaternityAllowanceRule] = []
    contribution_bases: list[ContributionBaseRule] = []
    contribution_rates: list[ContributionRatesRule] = []
    housing_fund_rates: list[HousingFundRatesRule] = []
    transfers: list[TransferRule] = []
    deadlines: list[DeadlineRule] = []
    non_compete: list[NonCompeteRule] = []
    wage_deductions: list[WageDeductionRule] = []

    def sections(self) -> dict[str, list[Rule]]:
        return {name: list(getattr(self, name)) for name in SECTIONS}


def canonical_json(value: Any) -> str:
    """One text per content: sorted keys, no spaces, Decimal and dates as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(rule: BaseModel) -> str:
    return hashlib.sha256(canonical_json(rule.model_dump(mode="json")).encode()).hexdigest()


class RuleRef(BaseModel):
    """What an answer says about the rule that produced it; ``content_hash`` covers every field of
    the catalogue entry, so a pinned case can show exactly which version it used."""

    model_config = ConfigDict(frozen=True)
    id: str
    section: str
    region: str
    effective_from: dt.date
    effective_to: dt.date | None
    effective_from_basis: str
    source: Source
    verified: bool
    unverified_parts: list[str] = []
    note: str | None = None
    content_hash: str

    @classmethod
    def of(cls, rule: Rule, section: str, region: str) -> RuleRef:
        return cls(
            id=rule.id,
            section=section,
            region=region,
            effective_from=rule.effective_from,
            effective_to=rule.effective_to,
            effective_from_basis=rule.effective_from_basis,
            source=rule.source,
            verified=rule.verified,
            unverified_parts=rule.unverified_parts(),
            note=rule.note,
            content_hash=content_hash(rule),
        )
