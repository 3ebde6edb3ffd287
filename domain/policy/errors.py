"""Every way a policy question can fail, as one family of exceptions that name what is missing.

A policy answer decides how many days a woman is paid for or whether a contribution is lawful, so
the catalogue never falls back to a default: an unknown region, a date before any rule, a fact the
rule needs but the caller did not give, each raises with the field and rule named. ``detail()`` is
the shape the API and CLI show (``field``, ``rule``, ``message``).

A missing figure that operators can supply (a city's contribution base, its rates, housing-fund
rates, a province's maternity leave rule) says so, in Chinese first: which figure, and that an
admin enters the local notice through ``POST /policy/notices`` and a second admin approves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Sections an operator notice can fill, and what each figure is called in Chinese and English.
FIGURES: dict[str, tuple[str, str]] = {
    "contribution_bases": ("社保缴费基数上下限", "contribution base"),
    "contribution_rates": ("社保缴费比例", "contribution rates"),
    "housing_fund_rates": ("住房公积金缴存比例", "housing fund rates"),
    "maternity_leave": ("产假规定", "maternity leave rule"),
    "paternity_leave": ("陪产假规定", "paternity leave rule"),
    "maternity_allowance": ("生育津贴规定", "maternity allowance rule"),
    "transfers": ("转移接续规定", "transfer rule"),
    "deadlines": ("办理时限规定", "deadline rule"),
    "non_compete": ("竞业限制规定", "non-compete rule"),
    "wage_deductions": ("工资扣除规定", "wage deduction rule"),
}
BY_NOTICE = frozenset({"contribution_bases", "contribution_rates", "housing_fund_rates", "maternity_leave"})
ENTER_ZH = "请管理员通过 POST /policy/notices 录入当地通知并由另一位管理员审批"
ENTER_EN = "an admin enters the local notice through POST /policy/notices and a second admin approves it"
FILE_ZH = "请在政策目录文件中补充并运行 hrflow policy check"
FILE_EN = "add it to the catalogue files (domain/policy/data) and run hrflow policy check"


def section_of(rule: str | None) -> str | None:
    """The catalogue section a ``rule`` (a section name or a rule id) belongs to."""
    if not rule:
        return None
    return next((s for s in FIGURES if rule == s or f".{s}." in f".{rule}."), None)


def how_to_enter(section: str | None) -> tuple[str, str]:
    """(Chinese, English) instruction for supplying a missing figure of ``section``."""
    return (ENTER_ZH, ENTER_EN) if section in BY_NOTICE else (FILE_ZH, FILE_EN)


def missing_message(section: str, place_zh: str, on: object, english: str) -> str:
    """``缺少 上海市 2026-12-01 适用的社保缴费基数上下限：<how> (<english>: <how>)``."""
    figure_zh = FIGURES.get(section, (section, section))[0]
    how_zh, how_en = how_to_enter(section)
    return f"缺少 {place_zh} {on} 适用的{figure_zh}：{how_zh} ({english}: {how_en})"


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

    def __init__(self, name: str, *, field: str = "region", known: list[str] | None = None,
                 without_file: str | None = None) -> None:
        if without_file is not None:
            # A real province the shipped catalogue has no file for (陕西省): operators may add its rules.
            message = (f"政策目录中没有 {without_file} 的规定：省级规定（如产假）{ENTER_ZH}，"
                       f"城市的缴费基数须先在目录文件中登记该城市 (the catalogue holds no rules for "
                       f"{name!r} ({without_file}): {ENTER_EN}; a city must first be listed in the catalogue files)")
        else:
            hint = f"; known: {', '.join(known)}" if known else ""
            message = f"未知的{'城市' if field == 'city' else '地区'} {name!r} (unknown {field} {name!r}{hint})"
        super().__init__(message, field=field, rule="region")
        self.name = name


class NoRuleInForce(PolicyError):
    """The region is known but no version of the rule covers the date (or none was encoded)."""


class MissingFact(PolicyError):
    """The rule needs a fact about the case that the caller did not supply."""


class MissingFigure(PolicyError):
    """The rule exists but the catalogue does not hold this figure (not verified, left out). The
    message gains the Chinese refusal and how to enter the figure, keeping the caller's English."""

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        section = section_of(rule)
        if section is not None and not message.startswith("缺少"):
            how_zh, how_en = how_to_enter(section)
            message = f"缺少{FIGURES[section][0]}：{how_zh} ({message}: {how_en})"
        super().__init__(message, field=field, rule=rule)


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


class NoticeRefused(PolicyError):
    """An operator notice that may not be entered or approved; ``violations`` lists each reason
    as ``{"field", "rule", "message"}`` (Chinese first), the API's 422 shape."""

    def __init__(self, violations: list[dict[str, str]]) -> None:
        first: Mapping[str, str | None] = violations[0] if violations else {"field": None, "rule": None}
        super().__init__("; ".join(v["message"] for v in violations) if violations else "notice refused",
                         field=first["field"], rule=first["rule"])
        self.violations = violations
