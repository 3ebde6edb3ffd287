"""The audit trail over HTTP: read events, and re-walk the hash chain to prove nothing changed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.errors import responses
from api.pagination import keyset_page, where_given
from api.routes import resource_router
from api.transactions import transact
from db.audit import verify_case, verify_chain
from db.models import AuditEvent
from domain.roles import Role

router = resource_router(prefix="/audit", tags=["audit"])

Auditor = Annotated[Principal, Depends(require(Role.ADMIN, Role.COMPLIANCE, Role.HR_MANAGER))]


class ChainResult(BaseModel):
    ok: bool
    rows_checked: int
    first_broken_id: int | None
    reason: str | None
    head_hash: str = Field(description="the newest seal's hash: compare it with the one recorded outside")
    broken_chain: str | None = Field(None, description="the chain that does not hold (case:<workflow id>, seals…)")
    chains_checked: int = 0
    seals_checked: int = 0
    last_sealed_at: dt.datetime | None = None
    unsealed_rows: int = Field(0, description="rows newer than the last seal, protected by their chain only")
    anchors_checked: int = Field(0, description="seals compared with their anchors outside the database"
                                                " (0 when HRFLOW_AUDIT_ANCHOR_DIR is not set)")
    last_anchored_at: dt.datetime | None = None


class AuditEventOut(BaseModel):
    id: int
    occurred_at: dt.datetime
    actor: str
    actor_role: str
    action: str
    workflow_id: str | None
    subject: str | None
    before: Any
    after: Any
    request_id: str | None
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: int | None


@router.get("/verify", response_model=ChainResult, responses=responses(401, 403),
            summary="校验审计哈希链 (Prove the audit trail unchanged)")
async def verify(
    request: Request,
    _: Annotated[Principal, Depends(require(Role.ADMIN, Role.COMPLIANCE))],
    workflow_id: Annotated[str | None, Query(description="only this case's chain, against its newest seal")] = None,
) -> ChainResult:
    """重走审计记录：先校验封存链（每隔几分钟把各案件链的链头封存一次），再逐条校验每个案件的哈希链；
    答检查了多少行、多少条链、最新封存的哈希（请与在库外留存的比对）。若有一行被改动或删除、
    已封存的记录被重写或截断、封存与库外锚点（HRFLOW_AUDIT_ANCHOR_DIR）不符，答 ok=false，
    并指出出问题的链、第一处断裂的行及原因。
    给出 workflow_id 时只校验该案件的链及其最新封存。仅管理员和合规可调用。

    Re-walk the audit trail: the chain of seals (every few minutes each case chain's head is
    sealed), then every case's hash chain; the rows and chains checked and the newest seal's hash
    (compare it with the one kept outside the database). If a row was changed or deleted, or sealed
    rows rewritten or cut, or a seal unlike its anchor outside the database
    (``HRFLOW_AUDIT_ANCHOR_DIR``), ok=false with the chain, the first broken row and why. With
    ``workflow_id``, only that case's chain and its newest seal. Admins and compliance only."""
    def work(session: Session) -> ChainResult:
        anchors = request.app.state.settings.anchor_store()
        report = verify_case(session, workflow_id, anchors) if workflow_id else verify_chain(session, anchors=anchors)
        return ChainResult(**report.__dict__)

    return await transact(request, work)


@router.get("/events", response_model=AuditPage, responses=responses(401, 403),
            summary="查阅审计事件 (Read audit events)")
async def events(
    request: Request,
    _: Auditor,
    workflow_id: str | None = None,
    subject: str | None = None,
    cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """审计事件，按发生顺序分页，可按案件（workflow_id）或对象（subject，如员工编号）筛选；每条带操作人、角色、
    前后值和哈希。管理员、合规和人事经理可调用。

    Audit events in the order they happened, a page at a time, optionally for one case
    (``workflow_id``) or subject (an employee number, say); each with actor, role, before and after,
    and its hash. Admins, compliance and HR managers."""
    def work(session: Session) -> AuditPage:
        stmt = where_given(select(AuditEvent), (AuditEvent.workflow_id, workflow_id), (AuditEvent.subject, subject))
        items, next_cursor = keyset_page(session, stmt, AuditEvent.id, cursor, limit, AuditEventOut)
        return AuditPage(items=items, next_cursor=next_cursor)

    return await transact(request, work)
