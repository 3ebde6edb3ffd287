"""The Chinese statutory calendar for deadlines: working days, calendar-day periods, holidays.

Statutory time limits are counted in two ways. "N working days" counts from the day after the
trigger and skips rest days and statutory holidays, while the adjusted Saturdays and Sundays
(调休) count as working days. "N days" or "N months" (Civil Code arts. 200-203) does not count the
start day, and a last day that is not a working day moves to the next working day.

The calendar comes from ``holidays.China``. The State Council publishes each year's arrangement
late in the year before; for a year the package does not have yet, the package still knows the
statutory holidays (fixed and lunar dates) but not the adjusted workdays, so every result that
touches such a year carries ``provisional=True`` rather than pretending to be final.

An operator who enters the year's notice (``POST /policy/notices``, kind ``holiday_arrangement``,
approved by a second admin) overrides the package for that year: its days off and adjusted working
days decide, and the year is no longer provisional. The override reaches this module through
``install_arrangement_source``, a callable the API and worker install at start-up (this module
never reads the database); it must be cheap, since every working-day question asks it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import holidays

from domain.months import add_months as months_later

_ONE_DAY = dt.timedelta(days=1)
_MAX_SCAN_DAYS = 3660  # no statutory limit comes near ten years; stops a runaway loop


@dataclass(frozen=True)
class CalendarDate:
    """A computed date, and whether it depends on a year whose holiday arrangement is unpublished."""

    date: dt.date
    provisional: bool


@dataclass(frozen=True)
class Arrangement:
    """A year's published holiday arrangement: the days off (holidays and the days moved next to
    them) and the adjusted working days (调休 Saturdays and Sundays). Either list may hold a day of
    a neighbouring year (the New Year days off can start on 30 December)."""

    year: int
    days_off: frozenset[dt.date]
    working_days: frozenset[dt.date]
    source: str = ""  # provenance, in words (the notice and who approved it)
    notice_id: int | None = None  # the approved notice it comes from


ArrangementSource = Callable[[], Mapping[int, Arrangement]]
_source: ArrangementSource | None = None


def install_arrangement_source(source: ArrangementSource | None) -> None:
    """Install (or with ``None`` remove) where operator arrangements come from."""
    global _source
    _source = source


def operator_arrangements() -> Mapping[int, Arrangement]:
    """The arrangements operators entered, by year (empty without a source)."""
    return _source() if _source is not None else {}


def years_known_by_notice() -> list[int]:
    """Years the ``holidays`` package left provisional that an operator notice made known: the
    years whose deadlines should be computed again (re-planning running cases is not done here)."""
    return sorted(y for y in operator_arrangements() if y not in known_years())


@lru_cache(maxsize=1)
def known_years() -> frozenset[int]:
    """Years whose official arrangement (with adjusted workdays) the ``holidays`` package holds.

    The package keeps each published State Council notice as an entry of
    ``ChinaStaticHolidays.special_public_holidays`` keyed by year; a year without one is computed
    from the rules alone. Should that internal table move, we fall back to "a year with at least one
    substituted day off", which errs toward flagging a year as provisional.
    """
    try:
        from holidays.countries.china import ChinaStaticHolidays

        years = frozenset(int(y) for y in ChinaStaticHolidays.special_public_holidays)
        if years:
            return years
    except (ImportError, AttributeError):  # pragma: no cover - depends on the package version
        pass
    found = set()
    for year in range(2001, dt.date.today().year + 3):  # pragma: no cover - fallback only
        if any(d.year == year for d in _china(year).weekend_workdays):
            found.add(year)
    return frozenset(found)  # pragma: no cover


def is_arrangement_known(year: int) -> bool:
    """The package holds the year's arrangement, or an approved operator notice does."""
    return year in known_years() or year in operator_arrangements()


@lru_cache(maxsize=64)
def _china(year: int) -> holidays.HolidayBase:
    # Neighbouring years too: an adjusted workday can sit in the previous December.
    return holidays.country_holidays("CN", years=(year - 1, year, year + 1), language="en_US")


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> frozenset[dt.date]:
    """The statutory holiday days of ``year`` (13 a year from 2025), without the substituted days
    off of the arrangement and without observed-on-Monday days: the days a rule such as "extended
    by statutory holidays" counts."""
    table = holidays.country_holidays("CN", years=year, observed=False, language="en_US")
    return frozenset(
        day
        for day, name in table.items()
        if day.year == year and not name.startswith("Day off") and "Extended" not in name
    )


def is_working_day(day: dt.date) -> bool:
    """A weekday that is not a holiday or substituted day off, or an adjusted weekend workday.
    An operator arrangement for the day's year (or naming the day) decides over the package."""
    arrangements = operator_arrangements()
    if arrangements:
        for year in (day.year, day.year + 1, day.year - 1):
            found = arrangements.get(year)
            if found is not None and day in found.days_off:
                return False
            if found is not None and day in found.working_days:
                return True
        if day.year in arrangements:
            return day.weekday() < 5
    return bool(_china(day.year).is_working_day(day))


def _provisional(*days: dt.date) -> bool:
    return any(not is_arrangement_known(d.year) for d in days)


def next_working_day(day: dt.date, *, include_self: bool = True) -> CalendarDate:
    """``day`` itself if it is a working day (and ``include_self``), else the next working day."""
    current = day if include_self else day + _ONE_DAY
    for _ in range(_MAX_SCAN_DAYS):
        if is_working_day(current):
            return CalendarDate(current, _provisional(day, current))
        current += _ONE_DAY
    raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days of {day}")  # pragma: no cover


def add_working_days(start: dt.date, days: int) -> CalendarDate:
    """The ``days``-th working day after ``start`` (the start day itself is never counted)."""
    if days < 0:
        raise ValueError("a number of working days cannot be negative")
    if days == 0:
        return CalendarDate(start, _provisional(start))
    current, counted = start, 0
    while counted < days:
        current += _ONE_DAY
        if is_working_day(current):
            counted += 1
    return CalendarDate(current, _provisional(start, current))


def _roll(start: dt.date, end: dt.date, roll: bool) -> CalendarDate:
    if not roll:
        return CalendarDate(end, _provisional(start, end))
    moved = next_working_day(end)
    return CalendarDate(moved.date, _provisional(start, end, moved.date))


def add_calendar_days(start: dt.date, days: int, *, roll: bool = True) -> CalendarDate:
    """Civil Code art. 201: the period starts the day after ``start``; art. 203: a last day on a
    holiday or rest day moves to the next working day (``roll=False`` for the bare date)."""
    if days < 0:
        raise ValueError("a number of days cannot be negative")
    return _roll(start, start + dt.timedelta(days=days), roll)


def add_months(start: dt.date, months: int, *, roll: bool = True) -> CalendarDate:
    """Civil Code art. 202: a period in months ends on the corresponding day of the last month,
    or on that month's last day when it has no such day."""
    if months < 0:
        raise ValueError("a number of months cannot be negative")
    return _roll(start, months_later(start, months), roll)


def statutory_holidays_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Statutory holiday days in ``first``..``last`` inclusive, in date order."""
    found: list[dt.date] = []
    for year in range(first.year, last.year + 1):
        found.extend(d for d in statutory_holidays(year) if first <= d <= last)
    return sorted(found)


def span_excluding_holidays(first: dt.date, days: int) -> tuple[dt.date, int]:
    """Last day of a run of ``days`` days starting on ``first`` (inclusive) in which statutory
    holidays do not count, and how many holiday days the run was extended by."""
    if days <= 0:
        return first - _ONE_DAY, 0
    current, counted, skipped = first - _ONE_DAY, 0, 0
    while counted < days:
        current += _ONE_DAY
        if current in statutory_holidays(current.year):
            skipped += 1
        else:
            counted += 1
    return current, skipped
