"""Loading the catalogue once and finding the rule in force for a region, a scope and a date.

Names are matched loosely (北京, 北京市, Beijing, beijing, aliases) but never guessed: a name that is
not in the catalogue raises ``UnknownRegion``. A region that is known but has no rule for the date
raises ``NoRuleInForce`` saying which dates the encoded versions do cover.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from domain.policy.check import DATA_DIR, scan
from domain.policy.errors import CatalogueError, NoRuleInForce, UnknownRegion
from domain.policy.models import City, Region, RegionFile, Rule, RuleRef
from domain.policy.regions import NATIONAL, normalise, short_zh

R = TypeVar("R", bound=Rule)


@dataclass(frozen=True)
class Catalogue:
    files: dict[str, RegionFile]
    file_names: dict[str, str]
    _provinces: dict[str, str] = field(default_factory=dict)
    _cities: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, parsed: dict[str, tuple[str, RegionFile]]) -> Catalogue:
        provinces: dict[str, str] = {}
        cities: dict[str, tuple[str, str]] = {}
        for code, (_, file) in parsed.items():
            region = file.region
            for key in (region.code, region.name_zh, short_zh(region.name_zh), region.name_en, *region.aliases):
                provinces[normalise(key)] = code
            for city in region.cities:
                for key in (city.code, city.name_zh, short_zh(city.name_zh), city.name_en, *city.aliases):
                    cities[normalise(key)] = (code, city.code)
        return cls(
            files={code: f for code, (_, f) in parsed.items()},
            file_names={code: n for code, (n, _) in parsed.items()},
            _provinces=provinces,
            _cities=cities,
        )

    # ------------------------------------------------------------ regions

    @property
    def national(self) -> RegionFile:
        return self.files[NATIONAL]

    def provinces(self) -> list[Region]:
        return [f.region for code, f in sorted(self.files.items()) if code != NATIONAL]

    def province(self, name: str, *, field: str = "province") -> Region:
        """The province-level region named ``name`` (a city name gives its province)."""
        if not isinstance(name, str) or not name.strip():
            raise UnknownRegion(str(name), field=field)
        key = normalise(name)
        code = self._provinces.get(key)
        if code is None and key in self._cities:
            code = self._cities[key][0]
        if code is None or code == NATIONAL:
            raise UnknownRegion(name, field=field, known=[r.name_zh for r in self.provinces()])
        return self.files[code].region

    def city(self, name: str, *, field: str = "city") -> tuple[Region, City]:
        if not isinstance(name, str) or not name.strip():
            raise UnknownRegion(str(name), field=field)
        found = self._cities.get(normalise(name))
        if found is None:
            known = [c.name_zh for r in self.provinces() for c in r.cities]
            raise UnknownRegion(name, field=field, known=known)
        region = self.files[found[0]].region
        return region, next(c for c in region.cities if c.code == found[1])

    # ------------------------------------------------------------ rules

    def rules(self, region: str, section: str) -> list[Rule]:
        file = self.files.get(region)
        return list(getattr(file, section)) if file is not None else []

    def find(self, region: str, section: str, on: dt.date, scope: tuple[str, ...] | None = None) -> Rule | None:
        for rule in self.rules(region, section):
            if (scope is None or rule.scope() == scope) and rule.in_force(on):
                return rule
        return None

    def require(
        self,
        region: str,
        section: str,
        on: dt.date,
        scope: tuple[str, ...] | None = None,
        *,
        label: str | None = None,
        field: str = "on",
    ) -> Rule:
        """The rule in force, or ``NoRuleInForce`` naming what is covered."""
        rule = self.find(region, section, on, scope)
        if rule is not None:
            return rule
        candidates = [r for r in self.rules(region, section) if scope is None or r.scope() == scope]
        what = label or f"{section} rule for {self.label(region)}"
        if not candidates:
            raise NoRuleInForce(f"no {what} is in the catalogue", field=field, rule=section)
        covered = ", ".join(
            f"{r.effective_from}..{r.effective_to or 'open'}"
            for r in sorted(candidates, key=lambda r: r.effective_from)
        )
        raise NoRuleInForce(f"no {what} in force on {on} (encoded: {covered})", field=field, rule=section)

    def ref(self, rule: Rule, section: str, region: str) -> RuleRef:
        return RuleRef.of(rule, section, region)

    def label(self, region: str) -> str:
        file = self.files.get(region)
        return f"{file.region.name_en} ({file.region.name_zh})" if file else region


@lru_cache(maxsize=8)
def _load(path: str) -> Catalogue:
    parsed, problems = scan(path)
    if problems:
        raise CatalogueError(problems)
    return Catalogue.build(parsed)


def load_catalogue(directory: str | Path | None = None) -> Catalogue:
    """The catalogue at ``directory`` (the packaged data by default), parsed once per process.
    Raises ``CatalogueError`` when any file has a problem (see ``check_catalogue``)."""
    return _load(str(Path(directory).resolve() if directory is not None else DATA_DIR.resolve()))
