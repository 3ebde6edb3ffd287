"""Non-compete follow-up: the monthly compensation and its payment records.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.contracts import ActivityRef


class Payment(BaseModel):
    agreement_id: str  # the non-compete workflow id
    employee_id: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    kind: Literal["monthly", "release_extra"]
    amount: Decimal = Field(ge=0, decimal_places=2)
    at: dt.datetime
    actor: Actor = Field(default_factory=Actor)


# The activities, by the names recorded in every history.
PAY: ActivityRef[Payment, bool] = ActivityRef("non_compete.pay", bool, bookkeeping=True)
