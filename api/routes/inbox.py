"""``GET /inbox``: the open approval tasks the caller's role may act on, soonest due first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.auth import Authenticated
from api.errors import responses
from api.routes import resource_router
from api.transactions import transact
from db.models import ApprovalTask, Case
from domain.roles import STAFF

router = resource_router(tags=["inbox"])


class InboxItem(BaseModel):
    id: int
    workflow_id: str
    case_kind: str
    employee_id: str | None = Field(default=None, description="whose case; none for the policy-watch case")
    task_key: str
    title: str
    role: str
    assignee: str | None
    due_at: dt.datetime | None
    created_at: dt.datetime
    by_hand: bool = Field(default=False, description="work done by hand: close it with POST /tasks/{id}/done")


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_cursor: int | None


@router.get("/inbox", response_model=InboxPage, responses=responses(401))
async def inbox(
    request: Request,
    principal: Authenticated,
    cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboxPage:
    def work(session: Session) -> InboxPage:
        stmt = (
            select(ApprovalTask, Case.kind, Case.employee_id)
            .join(Case, Case.workflow_id == ApprovalTask.workflow_id)
            .where(
                ApprovalTask.role == principal.role.value,
                ApprovalTask.status == "open",
                or_(ApprovalTask.assignee.is_(None), ApprovalTask.assignee == principal.user),
            )
            .order_by(ApprovalTask.id)
            .limit(limit + 1)
        )
        if principal.role not in STAFF:  # an employee's tasks are on her own cases only
            stmt = stmt.where(Case.employee_id == (principal.employee_id or ""))
        if cursor is not None:
            stmt = stmt.where(ApprovalTask.id > cursor)
        rows = session.execute(stmt).all()
        page, more = rows[:limit], len(rows) > limit
        items = [
            InboxItem(
                id=task.id, workflow_id=task.workflow_id, case_kind=kind, employee_id=employee_id,
                task_key=task.task_key, title=task.title, role=task.role, assignee=task.assignee,
                due_at=task.due_at, created_at=task.created_at, by_hand=task.by_hand,
            )
            for task, kind, employee_id in page
        ]
        return InboxPage(items=items, next_cursor=page[-1][0].id if more else None)

    return await transact(request, work)
