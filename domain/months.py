"""Whole months on the calendar: the one rule every date in hrflow moves by."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months (back, for a negative number), clamped to the month's last
    day: 31 January + 1 month is 28 or 29 February (Civil Code art. 202)."""
    year, index = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, index + 1, min(day.day, calendar.monthrange(year, index + 1)[1]))
