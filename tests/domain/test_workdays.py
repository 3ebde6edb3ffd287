import datetime as dt

import pytest

from domain import workdays

D = dt.date


def test_fifteen_working_days_after_national_day_eve():
    # National Day + Mid-Autumn 2025-10-01..08 are off; 2025-10-11 (Sat) is an adjusted workday.
    result = workdays.add_working_days(D(2025, 9, 30), 15)
    assert result == workdays.CalendarDate(D(2025, 10, 28), provisional=False)


def test_adjusted_weekend_days_count_and_holidays_do_not():
    assert workdays.is_working_day(D(2025, 9, 28))  # Sunday, adjusted workday
    assert workdays.is_working_day(D(2025, 10, 11))  # Saturday, adjusted workday
    assert not workdays.is_working_day(D(2025, 10, 8))  # substituted day off
    assert not workdays.is_working_day(D(2025, 10, 1))
    assert not workdays.is_working_day(D(2025, 10, 4))  # plain Saturday


def test_start_day_is_not_counted():
    assert workdays.add_working_days(D(2025, 10, 27), 1).date == D(2025, 10, 28)
    assert workdays.add_working_days(D(2025, 10, 27), 0).date == D(2025, 10, 27)


def test_year_without_published_arrangement_is_provisional():
    assert workdays.is_arrangement_known(2025) and workdays.is_arrangement_known(2026)
    latest = max(workdays.known_years())
    assert not workdays.is_arrangement_known(latest + 1)
    inside = workdays.add_working_days(D(latest, 11, 2), 5)
    assert inside.provisional is False
    crossing = workdays.add_working_days(D(latest, 12, 24), 10)
    assert crossing.date.year == latest + 1 and crossing.provisional is True
    assert workdays.next_working_day(D(latest + 1, 3, 1)).provisional is True


def test_calendar_days_move_off_holidays_civil_code_203():
    # 15 days after 2025-09-20 is Sunday 2025-10-05 inside the holiday: moves to Thursday 10-09.
    assert workdays.add_calendar_days(D(2025, 9, 20), 15) == workdays.CalendarDate(D(2025, 10, 9), False)
    assert workdays.add_calendar_days(D(2025, 9, 20), 15, roll=False).date == D(2025, 10, 5)
    # A working last day stays.
    assert workdays.add_calendar_days(D(2025, 10, 13), 15).date == D(2025, 10, 28)


def test_months_use_corresponding_day_or_month_end():
    assert workdays.add_months(D(2026, 1, 31), 1, roll=False).date == D(2026, 2, 28)
    assert workdays.add_months(D(2025, 3, 15), 24, roll=False).date == D(2027, 3, 15)
    assert workdays.add_months(D(2025, 3, 15), 24, roll=False).provisional is True


def test_statutory_holidays_are_13_days_from_2025_without_substituted_days():
    days = workdays.statutory_holidays(2025)
    assert len(days) == 13
    assert D(2025, 10, 8) not in days  # substituted rest day, not a statutory holiday
    assert D(2025, 1, 28) in days  # New Year's Eve is statutory from 2025
    assert len(workdays.statutory_holidays(2024)) == 11


def test_negative_counts_rejected():
    with pytest.raises(ValueError):
        workdays.add_working_days(D(2025, 1, 1), -1)
