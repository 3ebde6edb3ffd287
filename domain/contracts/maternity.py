"""Maternity leave: her social-insurance status, the advances of her personal contribution booked as
receivables, their settlement, the entitlement recomputed after the birth, the allowance claim.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.contracts import ActivityRef
from domain.policy import BirthFacts
from domain.policy.pinning import MaternitySnapshot


class SetSiStatus(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    status: str
    at: dt.datetime
    actor: Actor = Field(default_factory=Actor)


class BookAdvance(BaseModel):
    workflow_id: str
    employee_id: str
    month: str
    amount: Decimal
    at: dt.datetime


class Settle(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    method: str
    amount: Decimal
    reference: str | None = None
    at: dt.datetime
    actor: Actor


class OpenBalance(BaseModel):
    workflow_id: str
    employee_id: str


class ReconcileReturn(BaseModel):
    workflow_id: str
    employee_id: str
    leave_start: dt.date
    returned_on: dt.date
    cutoff_day: int
    amount: Decimal
    at: dt.datetime


class Recompute(BaseModel):
    province: str
    city: str | None
    facts: BirthFacts
    on: dt.date


class ClaimAllowance(BaseModel):
    workflow_id: str
    employee_id: str
    city: str
    birth_date: dt.date
    leave_days: int
    expected_amount: Decimal


# The activities, by the names recorded in every history.
SET_SI_STATUS: ActivityRef[SetSiStatus, str] = ActivityRef("maternity.set_si_status", str, bookkeeping=True)
BOOK_ADVANCE: ActivityRef[BookAdvance, bool] = ActivityRef("maternity.book_advance", bool, bookkeeping=True)
SETTLE: ActivityRef[Settle, Decimal] = ActivityRef("maternity.settle", Decimal, bookkeeping=True)
OPEN_BALANCE: ActivityRef[OpenBalance, Decimal] = ActivityRef("maternity.open_balance", Decimal, bookkeeping=True)
RECONCILE_RETURN: ActivityRef[ReconcileReturn, dict[str, Decimal]] = ActivityRef("maternity.reconcile_return", dict[str, Decimal], bookkeeping=True)
RECOMPUTE: ActivityRef[Recompute, MaternitySnapshot] = ActivityRef("maternity.recompute", MaternitySnapshot, bookkeeping=True)
CLAIM_ALLOWANCE: ActivityRef[ClaimAllowance, str] = ActivityRef("maternity.claim_allowance", str)
