"""The erasure case's activities: the legal check on the day, and the erasure itself."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from domain.actors import Actor
from domain.contracts import ActivityRef
from domain.erasure import ErasureFacts


class FactsRequest(BaseModel):
    workflow_id: str
    employee_id: str


class EraseRequest(BaseModel):
    workflow_id: str
    employee_id: str
    at: dt.datetime
    approved_by: Actor


class Erased(BaseModel):
    """What her erasure left (the same on a retry: it counts the state, not the changes)."""

    keys_destroyed: int
    documents_cleared: int
    columns: list[str]


GATHER_FACTS: ActivityRef[FactsRequest, ErasureFacts] = ActivityRef("erasure.facts", ErasureFacts)
ERASE: ActivityRef[EraseRequest, Erased] = ActivityRef("erasure.erase", Erased)
