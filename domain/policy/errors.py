"""Every way a policy question can fail, as one family of exceptions that name what is missing.

A policy answer decides how many days a woman is paid for or whether a contribution is lawful, so
the catalogue never falls back to a default: an unknown region, a date before any rule, a fact the
rule needs but the caller did not give, each raises with the field and rule named. ``detail()`` is
the shape the API and CLI show (``field``, ``rule``, ``message``).
"""

from __future__ import annotations

from typing import Any


class PolicyError(Exception):
    """Base class. ``field`` is the input at fault, ``rule`` the catalogue rule being applied."""

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule

    def detail(self) -> dict[str, Any]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class UnknownRegion(PolicyError):
    """A province or city name the catalogue does not know (or knows but has no file for)."""

    def __init__(self, name: str, *, field: str = "region", known: list[str] | None = None) -> None:
        hint = f"; known: {', '.join(known)}" if known else ""
        super().__init__(f"unknown {field} {name!r}{hint}", field=field, rule="region")
        self.name = name


class NoRuleInForce(PolicyError):
    """The region is known but no version of the rule covers the date (or none was encoded)."""


class MissingFact(PolicyError):
    """The rule needs a fact about the case that the caller did not supply."""


class MissingFigure(PolicyError):
    """The rule exists but the catalogue does not hold this figure (not verified, left out)."""


class UnknownRule(PolicyError):
    """A deadline or transfer kind the catalogue does not define."""


class NotTransferable(PolicyError):
    """An insurance that does not move with the person (it restarts at the new place)."""


class BaseOutOfRange(PolicyError):
    """A contribution base outside the city's floor and ceiling for the date."""


class CatalogueError(PolicyError):
    """The catalogue files themselves are broken; ``problems`` lists each one."""

    def __init__(self, problems: list[Any]) -> None:
        lines = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"policy catalogue is invalid: {lines}{more}", rule="catalogue")
        self.problems = problems
