"""The annual base adjustment: compute the lines, correct them, plan the declaration's pages,
declare a page (with its back-payment), revoke a page (the compensation).

No line travels through a history: the lines live in PostgreSQL, keyed by batch and sequence, and
the workflows exchange only counts, totals and page numbers, so a batch of 100,000 employees keeps
small histories.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.base_adjustment import Totals
from domain.contracts import ActivityRef
from domain.policy.pinning import SiChangeSnapshot


class Compute(BaseModel):
    workflow_id: str
    city: str
    effective_month: str
    policy: SiChangeSnapshot
    declare_on: dt.date = Field(description="the day the declaration is expected: the back-payment's last month")
    at: dt.datetime


class Count(BaseModel):
    workflow_id: str
    policy: SiChangeSnapshot
    effective_month: str
    declare_on: dt.date


class LineCorrection(BaseModel):
    employee_id: str
    base: Decimal | None = Field(default=None, description="the base to declare instead")
    exclude: bool = False


class Correct(BaseModel):
    workflow_id: str
    step: str
    corrections: list[LineCorrection]
    reason: str
    policy: SiChangeSnapshot
    effective_month: str
    declare_on: dt.date
    actor: Actor
    at: dt.datetime


class Plan(BaseModel):
    workflow_id: str
    round: int
    page_size: int
    pages_per_part: int


class Part(BaseModel):
    """Pages ``first_page`` to ``last_page`` of a round, declared by one child workflow."""

    number: int
    first_page: int
    last_page: int
    lines: int


class DeclarePage(BaseModel):
    batch_id: str
    round: int
    page: int
    city: str
    effective_month: str
    policy: SiChangeSnapshot
    declared_on: dt.date
    at: dt.datetime
    give_up: str | None = Field(default=None, description="the agency stayed unreachable: the page's lines go"
                                                          " back to the maker with this reason, undeclared")
    give_up_code: str = Field(default="agency_unreachable", description="the code the page's lines are refused with")


class Advance(BaseModel):
    """Her share of the back-payment, advanced by the company while she is on maternity leave and
    booked to her leave case's receivables (negative: a revocation took it back)."""

    employee_id: str
    maternity_case: str
    amount: Decimal
    new_base: Decimal


class PageResult(BaseModel):
    page: int
    acceptance_no: str | None
    accepted: int
    refused: int
    back_pay_employee: Decimal
    back_pay_employer: Decimal
    advances: list[Advance] = Field(default_factory=list, description="each her leave case hears of (signal)")


class RevokePage(BaseModel):
    batch_id: str
    round: int
    page: int
    city: str
    effective_month: str
    acceptance_no: str
    reason: str
    actor: Actor
    at: dt.datetime


class PageRevoked(BaseModel):
    page: int
    revocation_no: str
    lines: int
    advances: list[Advance] = Field(default_factory=list, description="taken back: negative amounts")


COMPUTE: ActivityRef[Compute, Totals] = ActivityRef("base_adjustment.compute", Totals)
COUNT: ActivityRef[Count, Totals] = ActivityRef("base_adjustment.count", Totals, bookkeeping=True)
CORRECT: ActivityRef[Correct, Totals] = ActivityRef("base_adjustment.correct", Totals, bookkeeping=True)
PLAN: ActivityRef[Plan, list[Part]] = ActivityRef("base_adjustment.plan", list[Part], bookkeeping=True)
DECLARE_PAGE: ActivityRef[DeclarePage, PageResult] = ActivityRef("base_adjustment.declare_page", PageResult)
REVOKE_PAGE: ActivityRef[RevokePage, PageRevoked] = ActivityRef("base_adjustment.revoke_page", PageRevoked)
