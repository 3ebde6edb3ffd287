"""Plausibility at the edge: what a request may say before any rule, catalogue or workflow sees it.

A date of 0001-01-01 or 9999-12-31 passes ``dt.date`` but overflows the first ``timedelta`` added
to it (a 500, or a workflow that fails in a loop); 1970-01-01 is a default some client sends for
"unknown" and, taken as a birth, books receivables for 1969. So every date and month in a body is
held to the years 1900..2100 here, and the routes hold the dates that mean something (a birth, a
hire, a back-paid month) to a window around today. Each refusal is the API's 422 shape, its
message written in both languages (``i18n.Text``) and answered in the caller's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from api.errors import ApiError, field_error
from api.i18n import Text

EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
CHINA = dt.timezone(dt.timedelta(hours=8))


def _china_today() -> dt.date:
    return dt.datetime.now(CHINA).date()


_clock: Callable[[], dt.date] = _china_today


def today() -> dt.date:
    """The day the windows around "today" are judged on: the date in China, whatever the server's
    zone (a birth reported at 07:00 in Beijing is not judged on yesterday's UTC date)."""
    return _clock()


def set_clock(clock: Callable[[], dt.date] | None) -> None:
    """Tests on the time-skipping server judge dates on the workflows' clock; ``None`` restores China time."""
    global _clock
    _clock = clock or _china_today
# Largest amount a NUMERIC(12, 2) column holds; the body models' max_digits=12 already stops more.
MAX_AMOUNT = Decimal("9999999999.99")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def problem(field: str, rule: str, zh: str, en: str) -> dict[str, str]:
    """One item of a 422's ``detail``: its message in both languages (a ``Text``, which reads
    "中文 (English)" wherever a plain string is expected), answered in the caller's."""
    return {"field": field, "rule": rule, "message": Text(zh, en)}


def refuse(*items: dict[str, Any]) -> ApiError:
    return ApiError(422, "validation_failed", list(items))


def _date_in_years(value: dt.date) -> dt.date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise field_error("date_in_range", "日期 {value} 须在 {lo} 年至 {hi} 年之间",
                          "the date {value} must lie in the years {lo} to {hi}",
                          value=value.isoformat(), lo=EARLIEST_YEAR, hi=LATEST_YEAR)
    return value


def _month_in_years(value: str) -> str:
    match = _MONTH.match(value)
    if match is not None and not EARLIEST_YEAR <= int(match[1]) <= LATEST_YEAR:
        raise field_error("month_in_range", "月份 {value} 须在 {lo} 年至 {hi} 年之间",
                          "the month {value} must lie in the years {lo} to {hi}",
                          value=value, lo=EARLIEST_YEAR, hi=LATEST_YEAR)
    return value


# A calendar date in the years 1900..2100: use for every date a body or query carries.
PlausibleDate = Annotated[dt.date, AfterValidator(_date_in_years)]
# A month written YYYY-MM in the years 1900..2100 ("0000-01" would otherwise fail deep in a handler).
PlausibleMonth = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"]),
                           AfterValidator(_month_in_years)]


def within(field: str, rule: str, value: dt.date, earliest: dt.date, latest: dt.date, zh_what: str,
           en_what: str) -> dict[str, str] | None:
    """A refusal when ``value`` lies outside ``earliest..latest`` (both included), else None."""
    if earliest <= value <= latest:
        return None
    return problem(field, rule, f"{zh_what} {value} 须在 {earliest} 至 {latest} 之间",
                   f"{en_what} {value} must lie between {earliest} and {latest}")
