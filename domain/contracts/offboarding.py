"""Offboarding clearance: the risk assessment, the department sign-offs, access, housing fund,
the departure certificate, and the claim on her open receivables at final pay.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.contracts import ActivityRef


class RiskItem(BaseModel):
    record_id: int | None
    kind: str
    title: str
    amount: Decimal | None = None


class RiskReport(BaseModel):
    employee_id: str
    position: str
    hire_date: dt.date
    compliance: list[RiskItem]
    finance: list[RiskItem]
    it: list[RiskItem]
    receivables_outstanding: Decimal
    receivable_months: list[str]
    receivable_cases: dict[str, Decimal] = Field(default_factory=dict)  # owning case -> still owed
    non_compete: RiskItem | None
    running_cases: list[str]
    active_enrollment_city: str | None
    contribution_base: Decimal
    summary: str
    needs_compliance_review: bool


class Assess(BaseModel):
    workflow_id: str
    employee_id: str
    at: dt.datetime


class Item(BaseModel):
    gate: str
    item_key: str
    title: str
    owner_role: str
    owner_user: str | None = None
    due_at: dt.datetime | None = None


class OpenItems(BaseModel):
    workflow_id: str
    items: list[Item]


class SignItem(BaseModel):
    workflow_id: str
    employee_id: str
    gate: str
    item_key: str
    outcome: str
    note: str | None = None
    record_id: int | None = None
    at: dt.datetime
    actor: Actor


class Signed(BaseModel):
    evidence_events: list[int] = Field(default_factory=list)


class AccessChange(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    record_ids: list[int] = Field(default_factory=list)  # for a restore: exactly these
    at: dt.datetime


class HousingFund(BaseModel):
    workflow_id: str
    step: str
    employee_id: str
    city: str
    action: str  # stop, restart
    effective_month: str


class Certificate(BaseModel):
    workflow_id: str
    employee_id: str
    kind: str
    last_day: dt.date
    at: dt.datetime


class ClaimReceivables(BaseModel):
    """Recover from her open receivables, at most ``cap`` (everything open when None)."""

    workflow_id: str
    employee_id: str
    step: str
    method: str = Field(pattern=r"^(final_pay|repayment)$")
    cap: Decimal | None = None
    reference: str
    actor: Actor
    at: dt.datetime


class VoidClaim(BaseModel):
    workflow_id: str
    employee_id: str
    step: str
    voided_step: str
    reference: str
    actor: Actor
    at: dt.datetime


class Claimed(BaseModel):
    amount: Decimal
    by_case: dict[str, Decimal]  # owning case -> taken from (or, voided, given back to) it
    open_after: Decimal


# The activities, by the names recorded in every history.
ASSESS_RISK: ActivityRef[Assess, RiskReport] = ActivityRef("offboarding.assess_risk", RiskReport, bookkeeping=True)
OPEN_ITEMS: ActivityRef[OpenItems, None] = ActivityRef("offboarding.open_items", bookkeeping=True)
SIGN_ITEM: ActivityRef[SignItem, Signed] = ActivityRef("offboarding.sign_item", Signed, bookkeeping=True)
REVOKE_ACCESS: ActivityRef[AccessChange, list[int]] = ActivityRef("offboarding.revoke_access", list[int], bookkeeping=True)
RESTORE_ACCESS: ActivityRef[AccessChange, None] = ActivityRef("offboarding.restore_access", bookkeeping=True)
HOUSING_FUND: ActivityRef[HousingFund, str] = ActivityRef("offboarding.housing_fund", str)
ISSUE_CERTIFICATE: ActivityRef[Certificate, str] = ActivityRef("offboarding.issue_certificate", str, bookkeeping=True)
CLAIM_RECEIVABLES: ActivityRef[ClaimReceivables, Claimed] = ActivityRef("offboarding.claim_receivables", Claimed, bookkeeping=True)
VOID_CLAIM: ActivityRef[VoidClaim, Claimed] = ActivityRef("offboarding.void_claim", Claimed, bookkeeping=True)
