"""Her employment as every process of hers sees it: one event per change, applied once per case.

The offboarding announces a notice given (with the last day), a notice withdrawn, and the
departure; each of her other running cases receives the event as a signal and reacts as its own
process requires (maternity stops booking advances after the last day and recovers what is open;
an enrollment change not yet executed is withdrawn at the departure). No process needs an HR call
to learn what another did. A rehire (``POST /employees/{id}/rehire``) is recorded as an event too; by
then none of her cases is running, so there is no one to tell.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

EventKind = Literal["notice_given", "notice_withdrawn", "departed"]
# What her employment is after each event (employees.employment_status).
STATUS_AFTER: dict[str, str] = {"notice_given": "notice_given", "notice_withdrawn": "active", "departed": "departed"}
SIGNAL = "employment_changed"  # the signal every case workflow handles


class EmploymentEvent(BaseModel):
    id: str  # the announcing case and its step: a case applies each event once
    employee_id: str
    kind: EventKind
    on: dt.date  # the last day (notice given, departed), or the day of the withdrawal
    source: str  # the announcing case
    by: str = "system"
