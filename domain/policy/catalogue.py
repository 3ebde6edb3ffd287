"""Loading the catalogue once and finding the rule in force for a region, a scope and a date.

Names are matched loosely (北京, 北京市, Beijing, beijing, aliases) but never guessed: a name that is
not in the catalogue raises ``UnknownRegion``. A region that is known but has no rule for the date
raises ``NoRuleInForce`` saying which dates the encoded versions do cover, and how to supply it.

Two layers: the shipped YAML files (the default) and the operator layer, the approved notices
(``POST /policy/notices``). An operator rule takes precedence over shipped rules of the same scope
for the dates it covers. The domain does not read the database: the API, the worker and the CLI
install a provider (``install_operator_layer``) that answers the current ``OperatorLayer``
cheaply; ``load_catalogue()`` merges it over the shipped files and rebuilds only when its
``version`` changes, so the next case pins a newly approved notice without a restart.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from domain.policy.check import DATA_DIR, scan
from domain.policy.errors import FIGURES, CatalogueError, NoRuleInForce, UnknownRegion, missing_message
from domain.policy.models import City, Region, RegionFile, Rule, RuleRef
from domain.policy.regions import NATIONAL, PROVINCES, normalise, short_zh

OPERATOR_PREFIX = "operator."
OPERATOR_FILE = "operator notices"


@dataclass(frozen=True)
class OperatorRule:
    """One catalogue rule built from an approved notice, and where it belongs."""

    region: str  # province code (a province without a shipped file gets an empty one)
    section: str
    rule: Rule


@dataclass(frozen=True)
class OperatorLayer:
    """The approved notices in force as catalogue rules; ``version`` changes whenever they do."""

    version: str
    rules: tuple[OperatorRule, ...] = ()
    described: str = "operator layer"  # where it was read from, for the CLI


LayerProvider = Callable[[], OperatorLayer]

R = TypeVar("R", bound=Rule)
_MAX_REFS = 20_000


@dataclass(frozen=True)
class Catalogue:
    files: dict[str, RegionFile]
    file_names: dict[str, str]
    _provinces: dict[str, str] = field(default_factory=dict)
    _cities: dict[str, tuple[str, str]] = field(default_factory=dict)
    operator_version: str | None = None  # None: the shipped layer only
    # RuleRef per (rule, section, region): a rule is frozen, so its content hash is computed once.
    _refs: dict[tuple[int, str, str], tuple[Rule, RuleRef]] = field(default_factory=dict, compare=False, repr=False)

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
            real = province_code(name)
            if real is not None:
                raise UnknownRegion(name, field=field, without_file=PROVINCES[real][1])
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
        what = label or f"{FIGURES.get(section, (section, section))[1]} for {self.label(region)}"
        place = self.place_zh(region, scope)
        if not candidates:
            raise NoRuleInForce(missing_message(section, place, on, f"no {what} is in the catalogue for {on}"),
                                field=field, rule=section)
        covered = ", ".join(
            f"{r.effective_from}..{r.effective_to or 'open'}"
            for r in sorted(candidates, key=lambda r: r.effective_from)
        )
        raise NoRuleInForce(missing_message(section, place, on, f"no {what} in force on {on} (encoded: {covered})"),
                            field=field, rule=section)

    def place_zh(self, region: str, scope: tuple[str, ...] | None = None) -> str:
        """上海市, 苏州市 (a city scope), 全国: the place a refusal names."""
        file = self.files.get(region)
        if file is None:
            return region
        if region == NATIONAL:
            return "全国"
        if scope:
            city = next((c for c in file.region.cities if c.code == scope[0]), None)
            if city is not None:
                return city.name_zh
        return file.region.name_zh

    def provenance(self, ref: RuleRef) -> dict[str, Any]:
        """Which layer answered: the shipped file and its source, or the operator notice (its
        ``note`` names who entered and approved it, its ``source`` the document)."""
        if ref.id.startswith(OPERATOR_PREFIX):
            return {"layer": "operator", "notice": int(ref.id.split(".")[1]), "source": ref.source.name,
                    "url": ref.source.url, "note": ref.note}
        return {"layer": "shipped", "file": self.file_names.get(ref.region), "source": ref.source.name,
                "url": ref.source.url}

    def with_operator_rules(self, layer: OperatorLayer) -> Catalogue:
        """A catalogue whose operator rules come before the shipped rules of each section, so that
        ``find`` answers with them for the dates they cover and with the shipped rules elsewhere."""
        parsed: dict[str, tuple[str, RegionFile]] = {c: (self.file_names[c], f) for c, f in self.files.items()}
        by_file: dict[str, dict[str, list[Rule]]] = {}
        for item in layer.rules:
            by_file.setdefault(item.region, {}).setdefault(item.section, []).append(item.rule)
        for code, sections in by_file.items():
            name, file = parsed.get(code) or (OPERATOR_FILE, _empty_file(code))
            update = {sec: [*sorted(rules, key=lambda r: r.effective_from), *getattr(file, sec)]
                      for sec, rules in sections.items()}
            parsed[code] = (name, file.model_copy(update=update))
        merged = Catalogue.build(parsed)
        return Catalogue(files=merged.files, file_names=merged.file_names, _provinces=merged._provinces,
                         _cities=merged._cities, operator_version=layer.version)

    def ref(self, rule: Rule, section: str, region: str) -> RuleRef:
        """What a pinned case records about ``rule``; the same object for the same rule (each
        upload and each page pins again, and hashing a rule's content is most of a pin's work)."""
        key = (id(rule), section, region)
        held = self._refs.get(key)
        if held is not None and held[0] is rule:
            return held[1]
        ref = RuleRef.of(rule, section, region)
        if len(self._refs) < _MAX_REFS:  # the catalogue's own rules; a stray rule is not kept
            self._refs[key] = (rule, ref)
        return ref

    def label(self, region: str) -> str:
        file = self.files.get(region)
        return f"{file.region.name_en} ({file.region.name_zh})" if file else region


@lru_cache(maxsize=8)
def _load(path: str) -> Catalogue:
    parsed, problems = scan(path)
    if problems:
        raise CatalogueError(problems)
    return Catalogue.build(parsed)


def province_code(name: str) -> str | None:
    """The code of any of the mainland's province-level divisions (with or without a file)."""
    key = normalise(name) if isinstance(name, str) else ""
    for code, (_, name_zh, name_en) in PROVINCES.items():
        if key in {normalise(code), normalise(name_zh), normalise(short_zh(name_zh)), normalise(name_en)}:
            return code
    return None


def _empty_file(code: str) -> RegionFile:
    """A file for a province the shipped catalogue lacks, to hold its operator rules."""
    gb, name_zh, name_en = PROVINCES[code]
    kind: Literal["municipality", "autonomous_region", "province"] = (
        "municipality" if name_zh.endswith("市") else "autonomous_region" if name_zh.endswith("自治区") else "province")
    return RegionFile(schema_version=1, region=Region(code=code, name_zh=name_zh, name_en=name_en, kind=kind,
                                                      gb_code=gb))


_provider: LayerProvider | None = None
_merged: tuple[int, str, Catalogue] | None = None
_merge_lock = threading.Lock()


def install_operator_layer(provider: LayerProvider | None) -> None:
    """Install (``None``: remove) the provider of the operator layer; called at start-up by the
    API, the worker and the CLI. The provider must be cheap: every ``load_catalogue()`` asks it."""
    global _provider, _merged
    with _merge_lock:
        _provider, _merged = provider, None


def operator_layer() -> OperatorLayer | None:
    """The operator layer now, or ``None`` when no provider is installed (shipped layer only)."""
    return _provider() if _provider is not None else None


def load_catalogue(directory: str | Path | None = None) -> Catalogue:
    """The catalogue at ``directory`` (the packaged data by default), parsed once per process.
    Without a directory the operator layer (when installed) is merged over it, rebuilt only when
    its version changed. Raises ``CatalogueError`` when any file has a problem."""
    global _merged
    if directory is not None:
        return _load(str(Path(directory).resolve()))
    base = _load(str(DATA_DIR.resolve()))
    layer = operator_layer()
    if layer is None or not layer.rules:
        return base
    with _merge_lock:
        if _merged is not None and _merged[0] == id(base) and _merged[1] == layer.version:
            return _merged[2]
        merged = base.with_operator_rules(layer)
        _merged = (id(base), layer.version, merged)
        return merged
