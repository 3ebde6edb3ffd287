"""Social-insurance enrollment changes: the facts of a change, its checks, its stages, its execution
at the agency and its revocation (the compensating step).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.contracts import ActivityRef
from domain.contracts.cases import CloseTask
from domain.policy.pinning import SiChangeSnapshot
from domain.si_change import ChangeKind


class ChangeFacts(BaseModel):
    """What the change is, as the maker last submitted it."""

    employee_id: str
    city: str
    kind: ChangeKind
    base: Decimal | None = None
    months: list[str] = Field(default_factory=list)
    effective_month: str


class ValidateChange(BaseModel):
    workflow_id: str
    facts: ChangeFacts
    today: dt.date
    policy: SiChangeSnapshot


class Transition(BaseModel):
    workflow_id: str
    step: str
    facts: ChangeFacts
    stage: str
    status: str | None = None
    estimate_total: Decimal
    maker: str
    approver: str | None = None
    agency_reason: str | None = None
    at: dt.datetime
    next_due_at: dt.datetime | None = None
    actor: Actor = Field(default_factory=Actor)
    details: dict[str, Any] = Field(default_factory=dict)
    closes: list[CloseTask] = Field(default_factory=list, description="the tasks the decision closes, in this step")


class Execute(BaseModel):
    workflow_id: str
    attempt: int = Field(description="approval round; each round is one agency submission")
    facts: ChangeFacts
    at: dt.datetime


class Executed(BaseModel):
    acceptance_no: str
    previous_base: Decimal | None = None


class Revoke(BaseModel):
    workflow_id: str
    facts: ChangeFacts
    acceptance_no: str
    previous_base: Decimal | None = None
    reason: str
    at: dt.datetime
    actor: Actor


class Revoked(BaseModel):
    revocation_no: str


# The activities, by the names recorded in every history.
VALIDATE: ActivityRef[ValidateChange, None] = ActivityRef("si.validate", bookkeeping=True)
TRANSITION: ActivityRef[Transition, None] = ActivityRef("si.transition", bookkeeping=True)
EXECUTE: ActivityRef[Execute, Executed] = ActivityRef("si.execute", Executed)
REVOKE: ActivityRef[Revoke, Revoked] = ActivityRef("si.revoke", Revoked)
