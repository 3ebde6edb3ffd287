"""A change of her employment announced to her other cases (``domain.employment``).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from domain.actors import Actor
from domain.contracts import ActivityRef
from domain.employment import EmploymentEvent


class Announce(BaseModel):
    event: EmploymentEvent
    actor: Actor
    at: dt.datetime


# The activities, by the names recorded in every history.
ANNOUNCE: ActivityRef[Announce, list[str]] = ActivityRef("employment.announce", list[str], bookkeeping=True)
