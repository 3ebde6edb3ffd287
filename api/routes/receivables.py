"""Receivables: what an employee owes the company, whichever process booked or recovers it.

Maternity books the advances paid during her leave; the deductions, repayments and write-offs of
the case, and offboarding's finance gate at her departure, recover them. Finance reads the
follow-up list and an employee's ledger here, and records each follow-up of an open item.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.bodies import Body
from api.deps import RequestId
from api.errors import ApiError, responses
from api.pagination import keyset_page
from api.routes import resource_router
from api.transactions import transact
from db import audit, ledger
from db.ledger import open_receivables
from db.models import Receivable
from domain.privacy import scrub_free_text
from domain.roles import Role

router = resource_router(tags=["receivables"])

LedgerReader = Annotated[Principal, Depends(require(Role.FINANCE, Role.HR_SPECIALIST, Role.HR_MANAGER,
                                                    Role.COMPLIANCE))]


class ReceivableOut(BaseModel):
    id: int
    employee_id: str
    workflow_id: str
    kind: str
    month: str
    amount: Decimal
    settled: Decimal
    reversed: Decimal = Field(description="given back (a withdrawn recovery, a month not owed after all)")
    status: str
    booked_at: dt.datetime
    followed_up_at: dt.datetime | None = None

    @computed_field(description="still owed: amount - settled - reversed, exact to the fen")  # type: ignore[prop-decorator]
    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.settled - self.reversed


class Ledger(BaseModel):
    employee_id: str
    outstanding: Decimal
    months: list[str]
    items: list[ReceivableOut]
    responsible: dict[str, str] = Field(description="who acts on each open item")


class ReceivablePage(BaseModel):
    items: list[ReceivableOut]
    next_cursor: int | None


@router.get("/receivables", response_model=ReceivablePage, responses=responses(401, 403),
            summary="应收款跟进清单 (Receivables to follow up)")
async def list_receivables(request: Request, _: LedgerReader, status: str = "open",
                           cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
                           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ReceivablePage:
    """某一状态（默认 open 未结）的全部应收款，最早记账的在前，分页：财务的跟进清单。财务、人事专员、
    人事经理和合规可调用。

    Every receivable in a status (``open`` by default), oldest booking first, a page at a time:
    finance's follow-up list. Finance, HR specialists, HR managers and compliance."""
    def work(session: Session) -> ReceivablePage:
        items, next_cursor = keyset_page(session, select(Receivable).where(Receivable.status == status),
                                         Receivable.id, cursor, limit, ReceivableOut)
        return ReceivablePage(items=items, next_cursor=next_cursor)

    return await transact(request, work)


@router.get("/receivables/{employee_id}", response_model=Ledger, responses=responses(401, 403),
            summary="员工的欠款台账 (What an employee owes)")
async def receivables(employee_id: str, request: Request, _: LedgerReader) -> Ledger:
    """员工尚未结清的应收款（如产假期间公司垫付的个人社保）、尚欠总额及每项由谁处理：离职流程的财务关卡须看到它们结清。
    财务、人事专员、人事经理和合规可调用。

    An employee's open receivables (the personal contributions the company advanced during her
    maternity leave, say), the total still owed and who acts on each: what offboarding's finance gate
    must see settled. Finance, HR specialists, HR managers and compliance."""
    def work(session: Session) -> Ledger:
        rows = open_receivables(session, employee_id)
        outstanding = ledger.outstanding(session, employee_id)  # what is owed: booked - settled - reversed
        return Ledger(
            employee_id=employee_id, outstanding=outstanding, months=[r.month for r in rows],
            items=[ReceivableOut.model_validate(r, from_attributes=True) for r in rows],
            responsible={"deduction_or_recovery": "finance", "return_and_departure": "hr_specialist",
                         "write_off": "finance + hr_manager"} if rows else {})

    return await transact(request, work)


class FollowUpIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "电话联系本人，约定 2027-01-15 前一次性还清"}]})

    note: Annotated[str, AfterValidator(scrub_free_text)] = Field(
        min_length=1, max_length=500, description="what was done: a call, an agreed plan, a reminder")


@router.post("/receivables/items/{receivable_id}/follow-ups", response_model=ReceivableOut,
             responses=responses(400, 401, 403, 404, 409, 422), summary="记录一次跟进 (Record a follow-up)")
async def follow_up(receivable_id: int, body: FollowUpIn, request: Request, request_id: RequestId,
                    principal: Annotated[Principal, Depends(require(Role.FINANCE))]) -> ReceivableOut:
    """财务记录对一笔未结应收款的跟进（电话、约定的还款计划、催告），已审计；此后一个跟进周期内每日巡检不再提醒它。
    仅财务可调用，欠款人本人不能跟进（403）；应收款不存在答 404，已结清答 409。

    Finance records a follow-up of an open receivable (a call, an agreed plan, a reminder), audited;
    the daily sweep then stays quiet about it for the follow-up period. Finance only, never the one
    who owes it (403); no such receivable is 404, one not open 409."""
    def work(session: Session) -> ReceivableOut:
        row = session.get(Receivable, receivable_id, with_for_update=True)
        if row is None:
            raise ApiError(404, "not_found", f"没有垫付款记录 {receivable_id} (no receivable {receivable_id})")
        if principal.speaks_for(row.employee_id):
            raise ApiError(403, "self_approval", "您不能跟进自己名下的应收款，请由其他同事办理"
                                                 " (you may not follow up a receivable you owe; a colleague must)")
        if row.status != "open":
            raise ApiError(409, "not_open", f"此应收款已是“{row.status}”状态 (receivable {receivable_id} is {row.status})")
        now = dt.datetime.now(dt.UTC)
        before = row.followed_up_at
        row.followed_up_at = now
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="receivable.followed_up",
            workflow_id=row.workflow_id, subject=row.employee_id, before={"followed_up_at": before},
            after={"receivable": receivable_id, "month": row.month, "note": body.note}, request_id=request_id), at=now)
        return ReceivableOut.model_validate(row, from_attributes=True)

    return await transact(request, work)
