"""Work done by hand: the person it was given to closes it, with a note of what she did.

A process opens a by-hand task for what it cannot do itself (a revocation at the agency counter, a
housing-fund stop at the centre, an enrollment moved by hand); the task outlives its case, so
nobody else closes it, and the system never closes it as done. A task of a process still running
is decided through that process's own endpoints instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import scope
from api.auth import Staff
from api.deps import RequestId
from api.errors import ApiError, responses
from api.routes import resource_router
from api.transactions import transact
from db import audit
from db.models import ApprovalTask, Case
from domain.privacy import scrub_free_text

router = resource_router(prefix="/tasks", tags=["tasks"])


class DoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"note": "已在社保中心窗口办理停保，受理回执号 3101-2026-118842"},
    ]})
    note: Annotated[str, AfterValidator(scrub_free_text)] = Field(
        min_length=1, max_length=2000, description="what was done, e.g. the agency's receipt number")


class TaskOut(BaseModel):
    id: int
    workflow_id: str
    task_key: str
    title: str
    role: str
    assignee: str | None
    status: str
    decision: str | None
    actor: str | None
    reason: str | None
    by_hand: bool
    decided_at: dt.datetime | None


@router.post("/{task_id}/done", response_model=TaskOut, responses=responses(400, 401, 403, 404, 409),
             summary="线下待办办结 (Close a by-hand task as done)")
async def done(task_id: int, body: DoneIn, request: Request, request_id: RequestId, principal: Staff) -> TaskOut:
    """把线下办理的待办（或案件已结束却仍未关的待办）标为办结，并写明做了什么，如经办机构的回执号；已审计。
    只有该待办的角色或被指派的人可以关闭（403），案件当事人本人不能关闭（403）；待办不存在答 404，已处理答 409，所属案件仍在进行、
    应通过该流程自己的接口决定的答 409。除员工外的所有角色可调用。

    Close a by-hand task (or one its ended case left open) as done, saying what was done, e.g. the
    agency's receipt number; audited. Only the task's role or its assignee may close it, never the case's subject (403); no
    such task is 404, one already decided 409, and a task of a case still running, decided through
    that process's own endpoints, 409. Every role but employee."""
    def work(session: Session) -> TaskOut:
        task = session.get(ApprovalTask, task_id, with_for_update=True)
        named = task is not None and task.assignee is not None and task.assignee in (principal.user,
                                                                                     principal.on_behalf_of)
        if task is None or not (named or scope.covers(session, principal, _subject(session, task.workflow_id))):
            raise ApiError(404, "not_found", f"没有待办 {task_id} (no task {task_id})")  # none, or another unit's
        if principal.role.value != task.role and (task.assignee is None
                                                  or task.assignee not in (principal.user, principal.on_behalf_of)):
            raise ApiError(403, "forbidden", f"此待办属于 {task.assignee or task.role} (the task is {task.role}'s)")
        if task.status != "open":
            raise ApiError(409, "task_closed", f"此待办已处理：{task.decision} (the task is already {task.decision})")
        case = session.scalar(select(Case).where(Case.workflow_id == task.workflow_id))
        if case is not None and principal.speaks_for(case.employee_id):
            raise ApiError(403, "self_approval", f"您是本案的当事人（{case.employee_id}），不能办结其待办，请由其他同事办理"
                                                 f" (you are the subject of this case ({case.employee_id}) and may"
                                                 " not close its tasks; a colleague must)")
        if not task.by_hand and case is not None and case.status == "open":
            raise ApiError(409, "decided_in_its_case", "此待办在其案件中处理 (decide it through its case"
                           f" {task.workflow_id})")
        task.status, task.decision, task.reason = "decided", "done", body.note
        task.actor, task.actor_role, task.decided_at = principal.user, principal.role.value, dt.datetime.now(dt.UTC)
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="task.done_by_hand",
            workflow_id=task.workflow_id, request_id=request_id,
            after={"task": task.task_key, "title": task.title, "note": body.note}))
        session.flush()
        return TaskOut.model_validate(task, from_attributes=True)

    return await transact(request, work)


def _subject(session: Session, workflow_id: str) -> str | None:
    return session.scalar(select(Case.employee_id).where(Case.workflow_id == workflow_id))
