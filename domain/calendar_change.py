"""A year's holiday arrangement changed (an approved notice replaced the package's guess): every
running case whose statutory dates fall in that year plans them again, visibly, through the one
deadline function. The API sends the signal after the approval; each case decides whether it has
a date in the year.
"""

from __future__ import annotations

from pydantic import BaseModel

SIGNAL = "calendar_changed"
PATCH = "calendar-replan"  # the handlers take the signal only behind it (older workers had none)


class CalendarChanged(BaseModel):
    year: int
    notice_id: int
    by: str  # the admin who approved the arrangement
