"""Case lists and case pages: every process's cases in one place, with their audit timeline.

Employees see only their own cases; a case of someone else answers 404, exactly like a case that
does not exist, so ids cannot be probed. Lists use keyset pagination on the case id.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from api import scope
from api.auth import Authenticated, Principal
from api.errors import ApiError, responses
from api.pagination import keyset_page, where_given
from api.routes import resource_router
from api.transactions import reach_database, transact
from db import organisation
from db.models import ApprovalTask, AuditEvent, Case, Employee
from domain.roles import STAFF

router = resource_router(prefix="/cases", tags=["cases"])


class CaseOut(BaseModel):
    workflow_id: str
    kind: str
    employee_id: str | None  # None only for the standing policy-watch case
    stage: str
    status: str
    summary: str | None
    policy_version: str | None
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    next_due_at: dt.datetime | None

    @classmethod
    def of(cls, row: Case) -> CaseOut:
        return cls.model_validate(row, from_attributes=True)


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: int | None


class TaskOut(BaseModel):
    task_key: str
    title: str
    role: str
    assignee: str | None
    status: str
    due_at: dt.datetime | None
    decision: str | None
    actor: str | None
    reason: str | None
    decided_at: dt.datetime | None


class TimelineEntry(BaseModel):
    at: dt.datetime
    actor: str
    actor_role: str
    action: str
    before: Any
    after: Any


class CaseDetail(CaseOut):
    tasks: list[TaskOut]
    timeline: list[TimelineEntry]


@router.get("", response_model=CasePage, responses=responses(401), summary="案件列表 (List cases)")
async def list_cases(
    request: Request,
    principal: Authenticated,
    kind: str | None = None,
    stage: str | None = None,
    status: str | None = None,
    employee_id: str | None = None,
    unit: Annotated[str | None, Query(max_length=32, description="组织单位编码：含其下属分支机构和部门 (a unit code,"
                                                                  " with the branches and departments under it)")] = None,
    cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """所有流程的案件，新的在前，分页；可按类型、阶段、状态、员工和组织单位筛选（总部的编码包括其下属分支机构和部门的员工；
    没有此单位答 422）。任何登录用户可调用，员工只看到自己的案件（她给的 employee_id 筛选不起作用）。

    Every process's cases, newest first, a page at a time; filter by kind, stage, status, employee
    and unit (a head office's code takes in the employees of its branches and their departments; an
    unknown unit is 422). Any signed-in user; an employee sees only her own cases (an
    ``employee_id`` she gives is not used)."""
    if principal.role not in STAFF:
        employee_id = principal.employee_id or ""

    def work(session: Session) -> CasePage:
        stmt = where_given(select(Case), (Case.kind, kind), (Case.stage, stage), (Case.status, status),
                           (Case.employee_id, employee_id))
        if unit is not None:
            units = organisation.within(session, unit)
            if not units:
                raise ApiError(422, "validation_failed", [{"field": "unit", "rule": "unit_exists",
                                                           "message": f"没有组织单位 {unit} (no unit {unit})"}])
            stmt = stmt.where(Case.employee_id.in_(select(Employee.employee_id).where(Employee.unit_code.in_(units))))
        stmt = scope.limit(stmt, session, principal, Case.employee_id)
        items, next_cursor = keyset_page(session, stmt, Case.id, cursor, limit, CaseOut, descending=True)
        return CasePage(items=items, next_cursor=next_cursor)

    return await transact(request, work)


def visible_case(session: Session, principal: Principal, workflow_id: str) -> Case:
    """An employee sees her own cases, a placed member of staff those of her unit's people
    (``api.scope``), and either those an approver route names her on (her line reports')."""
    row = session.scalar(select(Case).where(Case.workflow_id == workflow_id))
    if principal.role in STAFF:
        hidden = not scope.covers(session, principal, row.employee_id) if row is not None else True
    else:
        hidden = row is None or not principal.is_self(row.employee_id)
    if row is None or (hidden and not _names_her(session, principal, workflow_id)):
        raise ApiError(404, "not_found", f"没有您可查看的案件 {workflow_id} (no case {workflow_id} visible to you)")
    return row


def _names_her(session: Session, principal: Principal, workflow_id: str) -> bool:
    logins = [u for u in (principal.user, principal.on_behalf_of) if u]
    return session.scalar(select(exists().where(ApprovalTask.workflow_id == workflow_id,
                                                ApprovalTask.assignee.in_(logins)))) or False


async def guard_case(request: Request, principal: Principal, workflow_id: str, *, prefix: str, what: str) -> None:
    """404 for an id of another process, or for an employee's look at someone else's case. Staff
    may act on a case whose row the workflow is still writing. A decision reaches the database
    first, so it is refused (503) before it reaches Temporal when the database is away; staff can
    still read a case from Temporal then, except a member placed in a unit (``api.scope``), whose
    every look at a case is checked against the database's record of whose case it is."""
    if not workflow_id.startswith(prefix):
        raise ApiError(404, "not_found", f"没有此案件 {workflow_id} (no {what} {workflow_id})")
    if principal.role not in STAFF or scope.placed(principal):
        await transact(request, lambda session: visible_case(session, principal, workflow_id))
    elif request.method not in ("GET", "HEAD"):
        await reach_database(request)


@router.get("/{workflow_id}", response_model=CaseDetail, responses=responses(401, 404),
            summary="案件详情与时间线 (A case with its tasks and timeline)")
async def read_case(workflow_id: str, request: Request, principal: Authenticated) -> CaseDetail:
    """一个案件：它的待办（谁办、何时到期、如何决定）和审计时间线。员工只能看自己的案件：别人的案件答 404，
    与不存在的案件一样，无法借此试探编号。

    One case: its tasks (who, when due, how decided) and its audit timeline. An employee sees only
    her own: someone else's case is 404, exactly like one that does not exist, so ids cannot be
    probed."""
    def work(session: Session) -> CaseDetail:
        row = visible_case(session, principal, workflow_id)
        tasks = session.scalars(
            select(ApprovalTask).where(ApprovalTask.workflow_id == workflow_id).order_by(ApprovalTask.id)
        )
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.workflow_id == workflow_id).order_by(AuditEvent.id)
        )
        return CaseDetail(
            **CaseOut.of(row).model_dump(),
            tasks=[TaskOut.model_validate(t, from_attributes=True) for t in tasks],
            timeline=[
                TimelineEntry(at=e.occurred_at, actor=e.actor, actor_role=e.actor_role,
                              action=e.action, before=e.before, after=e.after)
                for e in events
            ],
        )

    return await transact(request, work)
