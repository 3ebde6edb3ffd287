"""Validating the catalogue as a whole, so a bad edit is caught by ``hrflow policy check`` (and the
tests) instead of by a running case.

Beyond the schema: no two versions of one rule may be in force on the same day, every rule must
name its source (and a page, when it claims to be verified), a rule may not end before it starts,
a region must be one of the mainland's province-level divisions and a city must belong to it, a
rule may only claim ``verified: true`` when none of its parts is unverified, and a rule may not say
two contradictory things (the old holiday flag against the new field).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from domain.policy.models import (
    SECTIONS,
    ContributionBaseRule,
    HousingFundRatesRule,
    MaternityLeaveRule,
    RegionFile,
    Rule,
)
from domain.policy.regions import NATIONAL, PROVINCES, normalise, short_zh

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Problem:
    file: str
    rule: str | None  # the rule id (or section[index] when it has none); None for the file
    kind: str  # yaml, schema, missing_source, overlap, range, region, verification, duplicate,
    # contradiction
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.rule}" if self.rule else self.file
        return f"{where}: {self.message}"


def check_catalogue(directory: str | Path | None = None) -> list[Problem]:
    """Every problem in the catalogue at ``directory`` (the packaged data by default)."""
    return scan(directory)[1]


def scan(directory: str | Path | None = None) -> tuple[dict[str, tuple[str, RegionFile]], list[Problem]]:
    """Parse and validate; returns ``{region code: (file name, parsed file)}`` and the problems."""
    root = Path(directory) if directory is not None else DATA_DIR
    problems: list[Problem] = []
    parsed: dict[str, tuple[str, RegionFile]] = {}
    paths = sorted(root.glob("*.yaml")) if root.is_dir() else []
    if not paths:
        return {}, [Problem(str(root), None, "schema", "no *.yaml policy files found")]
    for path in paths:
        result = _parse(path, problems)
        if result is None:
            continue
        if result.region.code in parsed:
            problems.append(
                Problem(path.name, None, "duplicate",
                        f"region {result.region.code!r} is also defined in {parsed[result.region.code][0]}")
            )
            continue
        parsed[result.region.code] = (path.name, result)
    if NATIONAL not in parsed and not any(p.file == "national.yaml" for p in problems):
        problems.append(Problem(str(root), None, "region", "national.yaml (the national rules) is missing"))
    for name, file in parsed.values():
        problems.extend(_check_file(name, file))
    problems.extend(_check_across(parsed))
    return parsed, problems


def _rule_name(raw: Any, loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] in SECTIONS and isinstance(loc[1], int):
        try:
            rule_id = raw[loc[0]][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            rule_id = None
        return str(rule_id) if rule_id else f"{loc[0]}[{loc[1]}]"
    return None


def _parse(path: Path, problems: list[Problem]) -> RegionFile | None:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(Problem(path.name, None, "yaml", f"not valid YAML: {exc}".splitlines()[0]))
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(path.name, None, "schema", "the file must be a mapping"))
        return None
    try:
        return RegionFile.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            rule = _rule_name(raw, loc)
            field = ".".join(str(p) for p in (loc[2:] if rule else loc)) or "rule"
            if err["type"] == "missing" and loc and loc[-1] == "source":
                problems.append(Problem(path.name, rule, "missing_source", "missing source"))
            elif err["type"] == "missing":
                problems.append(Problem(path.name, rule, "schema", f"missing {field}"))
            else:
                problems.append(Problem(path.name, rule, "schema", f"{field}: {err['msg']}"))
        return None


def _check_file(name: str, file: RegionFile) -> list[Problem]:
    out: list[Problem] = []
    region = file.region
    stem = name.removesuffix(".yaml")
    if region.code != stem:
        out.append(Problem(name, None, "region", f"region code {region.code!r} does not match the file name"))
    if region.code != NATIONAL:
        known = PROVINCES.get(region.code)
        if known is None:
            out.append(Problem(name, None, "region", f"unknown region {region.code!r} ({region.name_zh})"))
        else:
            gb, name_zh, _ = known
            if region.name_zh != name_zh:
                out.append(Problem(name, None, "region", f"region {region.code!r} is {name_zh}, not {region.name_zh}"))
            if region.gb_code is not None and region.gb_code != gb:
                out.append(Problem(name, None, "region", f"region {region.code!r} has GB code {gb}, not {region.gb_code}"))
    cities = {c.code for c in region.cities}
    for section, rules in file.sections().items():
        for rule in rules:
            out.extend(_check_rule(name, section, rule, cities))
    return out


def _check_rule(name: str, section: str, rule: Rule, cities: set[str]) -> list[Problem]:
    out: list[Problem] = []
    if rule.effective_to is not None and rule.effective_to < rule.effective_from:
        out.append(Problem(name, rule.id, "range",
                           f"effective_to {rule.effective_to} is before effective_from {rule.effective_from}"))
    source = rule.source
    if rule.verified:
        if source.basis in ("secondary", "derived"):
            out.append(Problem(name, rule.id, "verification",
                               f"a rule from a {source.basis} source cannot be verified: true"))
        if source.basis != "company_policy" and not source.url:
            out.append(Problem(name, rule.id, "missing_source", "verified rule without a source url"))
        parts = rule.unverified_parts()
        if parts:
            out.append(Problem(name, rule.id, "verification",
                               f"verified: true but these parts are not: {', '.join(parts)}"))
    elif not rule.note:
        out.append(Problem(name, rule.id, "verification", "an unverified rule needs a note saying why"))
    city = getattr(rule, "city", None)
    if city is not None and city not in cities:
        out.append(Problem(name, rule.id, "region", f"unknown city {city!r} (not among this region's cities)"))
    floor, ceiling = getattr(rule, "floor", None), getattr(rule, "ceiling", None)
    if floor is not None and ceiling is not None and floor > ceiling:
        out.append(Problem(name, rule.id, "range", f"floor {floor} is above ceiling {ceiling}"))
    low, high = getattr(rule, "min_rate", None), getattr(rule, "max_rate", None)
    if low is not None and high is not None and low.value > high.value:
        out.append(Problem(name, rule.id, "range", f"min_rate {low.value} is above max_rate {high.value}"))
    if isinstance(rule, MaternityLeaveRule):
        out.extend(_check_maternity(name, rule))
    if isinstance(rule, ContributionBaseRule):
        out.extend(_check_bases(name, rule))
    if isinstance(rule, HousingFundRatesRule):
        out.extend(_check_housing_fund(name, rule))
    return out


def _check_maternity(name: str, rule: MaternityLeaveRule) -> list[Problem]:
    """The old bool may stay beside the new field only when both say the same."""
    new = rule.statutory_holidays_excluded
    if rule.extra_days_exclude_statutory_holidays and new not in (None, "extra_days"):
        return [Problem(name, rule.id, "contradiction",
                        f"extra_days_exclude_statutory_holidays: true contradicts statutory_holidays_excluded: "
                        f"{new}; write only statutory_holidays_excluded")]
    return []


def _check_bases(name: str, rule: ContributionBaseRule) -> list[Problem]:
    out: list[Problem] = []
    for insurance, limits in rule.by_insurance.items():
        if limits.floor > limits.ceiling:
            out.append(Problem(name, rule.id, "range",
                               f"{insurance} floor {limits.floor} is above ceiling {limits.ceiling}"))
    if rule.applies_to is not None:
        both = sorted(set(rule.applies_to) & set(rule.by_insurance))
        if both:
            out.append(Problem(name, rule.id, "contradiction",
                               f"{', '.join(both)} both in applies_to and with limits of their own in by_insurance"))
    return out


def _check_housing_fund(name: str, rule: HousingFundRatesRule) -> list[Problem]:
    out: list[Problem] = []
    if rule.min_rate is None and rule.max_rate is not None:
        out.append(Problem(name, rule.id, "schema", "max_rate without min_rate"))
    if rule.min_rate is None and not rule.has_base():
        out.append(Problem(name, rule.id, "schema", "a housing fund rule needs min_rate or base limits"))
    if (rule.base_floor is None) != (rule.base_ceiling is None):
        out.append(Problem(name, rule.id, "schema", "give both base_floor and base_ceiling"))
    elif rule.base_floor is not None and rule.base_ceiling is not None and rule.base_floor > rule.base_ceiling:
        out.append(Problem(name, rule.id, "range",
                           f"base_floor {rule.base_floor} is above base_ceiling {rule.base_ceiling}"))
    if name == "national.yaml" and rule.min_rate is None:
        out.append(Problem(name, rule.id, "schema", "the national housing fund rule must give min_rate"))
    return out


def _check_across(parsed: dict[str, tuple[str, RegionFile]]) -> list[Problem]:
    out: list[Problem] = []
    seen_ids: dict[str, str] = {}
    groups: dict[tuple[str, str, tuple[str, ...]], list[Rule]] = defaultdict(list)
    names: dict[str, str] = {}
    city_names: dict[str, str] = {}
    for code, (name, file) in sorted(parsed.items()):
        for section, rules in file.sections().items():
            for rule in rules:
                if rule.id in seen_ids:
                    out.append(Problem(name, rule.id, "duplicate", f"rule id also used in {seen_ids[rule.id]}"))
                seen_ids.setdefault(rule.id, name)
                groups[(code, section, rule.scope())].append(rule)
        region = file.region
        for alias in _region_keys(region.code, region.name_zh, region.name_en, region.aliases):
            other = names.setdefault(alias, code)
            if other != code:
                out.append(Problem(name, None, "region", f"name {alias!r} also names region {other!r}"))
        for city in region.cities:
            for alias in _region_keys(city.code, city.name_zh, city.name_en, city.aliases):
                other = city_names.setdefault(alias, f"{code}/{city.code}")
                if other != f"{code}/{city.code}":
                    out.append(Problem(name, None, "region", f"city name {alias!r} also names city {other!r}"))
    for (code, section, _scope), rules in groups.items():
        ordered = sorted(rules, key=lambda r: r.effective_from)
        for earlier, later in itertools.pairwise(ordered):
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                out.append(Problem(parsed[code][0], later.id, "overlap",
                                   f"{section}: overlaps {earlier.id} (effective ranges must not overlap)"))
    out.extend(_check_material_slots(parsed))
    return out


def _check_material_slots(parsed: dict[str, tuple[str, RegionFile]]) -> list[Problem]:
    """A material code is one upload slot shared by every insurance that asks for it (an ID card
    is uploaded once): two different documents under one code would let one upload count for both."""
    out: list[Problem] = []
    documents: dict[str, tuple[str, str]] = {}  # code -> (document name, the rule that named it first)
    for _code, (name, file) in sorted(parsed.items()):
        for rule in file.transfers:
            for material in rule.materials:
                first = documents.setdefault(material.code, (material.zh, rule.id))
                if first[0] != material.zh:
                    out.append(Problem(name, rule.id, "material_slot",
                                       f"material {material.code!r} is {material.zh!r} here but {first[0]!r} in"
                                       f" {first[1]}: give each document its own code"))
    return out


def _region_keys(code: str, name_zh: str, name_en: str, aliases: list[str]) -> set[str]:
    return {normalise(k) for k in (code, name_zh, short_zh(name_zh), name_en, *aliases) if k}
