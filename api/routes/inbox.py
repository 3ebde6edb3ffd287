"""``GET /inbox``: the open approval tasks the caller's role may act on, by process, stage and department."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api import scope
from api.auth import Authenticated
from api.errors import responses
from api.routes import resource_router
from api.transactions import transact
from db.models import ApprovalTask, Case, Employee
from domain.roles import STAFF

router = resource_router(tags=["inbox"])


class InboxItem(BaseModel):
    id: int
    workflow_id: str
    case_kind: str
    employee_id: str | None = Field(default=None, description="whose case; none for the policy-watch case")
    stage: str = Field(default="", description="the case's stage now")
    department: str | None = Field(default=None, description="her department")
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


@router.get("/inbox", response_model=InboxPage, responses=responses(401), summary="我的待办 (My open tasks)")
async def inbox(
    request: Request,
    principal: Authenticated,
    kind: Annotated[str | None, Query(max_length=40, description="only this process (case kind), e.g. si_change")] = None,
    stage: Annotated[str | None, Query(max_length=40, description="only cases at this stage")] = None,
    department: Annotated[str | None, Query(max_length=100, description="only cases of employees of this department")] = None,
    cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboxPage:
    """指派给调用者本人的，以及她的角色可以处理、且未指派给别人的未完成待办，分页。任何登录用户可调用；员工只看到她自己案件上的
    和指派给她的（如下属的审批）待办。
    by_hand=true 的是线下办理的工作，办完后用 POST /tasks/{id}/done 关闭。

    The open tasks named to the caller, and those of her role named to nobody, a page at a time. Any
    signed-in user; an employee sees the tasks on her own cases and those named to her (her reports'
    approvals). A ``by_hand`` task is work done
    outside hrflow: close it with POST /tasks/{id}/done."""
    mine = ApprovalTask.assignee.in_([u for u in (principal.user, principal.on_behalf_of) if u])

    def work(session: Session) -> InboxPage:
        stmt = (
            select(ApprovalTask, Case.kind, Case.employee_id, Case.stage, Employee.department)
            .join(Case, Case.workflow_id == ApprovalTask.workflow_id)
            .outerjoin(Employee, Employee.employee_id == Case.employee_id)
            .where(ApprovalTask.status == "open",
                   or_(mine, and_(ApprovalTask.role == principal.role.value, ApprovalTask.assignee.is_(None))))
            .order_by(ApprovalTask.id)
            .limit(limit + 1)
        )
        if principal.role not in STAFF:  # an employee's: on her own cases, or named to her (her reports' approvals)
            stmt = stmt.where(or_(mine, Case.employee_id == (principal.employee_id or "")))
        hers = scope.people(session, principal)
        if hers is not None:  # a branch's HR: her people's, and any named to her
            stmt = stmt.where(or_(mine, Case.employee_id.in_(hers)))
        for column, wanted in ((Case.kind, kind), (Case.stage, stage), (Employee.department, department)):
            if wanted:
                stmt = stmt.where(column == wanted)
        if cursor is not None:
            stmt = stmt.where(ApprovalTask.id > cursor)
        rows = session.execute(stmt).all()
        page, more = rows[:limit], len(rows) > limit
        items = [
            InboxItem(
                id=task.id, workflow_id=task.workflow_id, case_kind=case_kind, employee_id=employee_id,
                stage=case_stage, department=dept,
                task_key=task.task_key, title=task.title, role=task.role, assignee=task.assignee,
                due_at=task.due_at, created_at=task.created_at, by_hand=task.by_hand,
            )
            for task, case_kind, employee_id, case_stage, dept in page
        ]
        return InboxPage(items=items, next_cursor=page[-1][0].id if more else None)

    return await transact(request, work)
