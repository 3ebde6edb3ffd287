"""Her notice of resignation in self-service (Labour Contract Law art. 37): give it, read it, take it
back before HR has opened her departure on it (``workflows.resignation``).

The notice is dated the day she gives it (China time), never a day she picks: art. 37 counts her
thirty days (three in probation) from it, and the offboarding HR opens for a resignation must carry
the same date (``notice_date_of``, which ``api.routes.offboarding`` checks).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Request
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import workflow_calls
from api.auth import Anyone, Principal, require
from api.bodies import Body, OptionalReason, OptionalReasonIn
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.plausibility import CHINA, PlausibleDate, problem, refuse, today
from api.routes import resource_router
from api.transactions import transact
from api.workflow_calls import CaseWorkflow
from db.models import Case, Employee
from domain.roles import Role
from workflows import resignation

W = resignation.ResignationWorkflow
router = resource_router(tags=["resignations"])
PREFIX = "/resignations"
CASES = CaseRoutes(router, PREFIX, ids="resignation-", what="notice of resignation", kind="resignation",
                   model=resignation.ResignationView, workflow=CaseWorkflow(W.run, W.opened, W.view))
Herself = Annotated[Principal, Depends(require(Role.EMPLOYEE))]
HR_DAYS = 2  # HR opens her departure within two days of her notice, by 18:00 China time
LEAVING = ("offboarding", "resignation")


class ResignationIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"wished_last_day": "2027-01-08", "reason": "家庭原因，需回老家照顾父母"},
    ]})

    wished_last_day: PlausibleDate | None = Field(default=None, description=(
        "the last working day she asks for; by law her employment ends thirty days after her notice"
        " (three in probation), earlier only if the employer agrees"))
    reason: OptionalReason = None


def notice_date_of(session: Session, employee_id: str) -> dt.date | None:
    """The date of her open notice of resignation, if she has given one (its case id ends in it:
    ``resignation-E1001-2026-12-02``)."""
    workflow_id = session.scalar(select(Case.workflow_id).where(
        Case.kind == "resignation", Case.employee_id == employee_id, Case.status == "open")
        .order_by(Case.id.desc()).limit(1))
    return None if workflow_id is None else dt.date.fromisoformat(workflow_id[-10:])


def _her(session: Session, employee_id: str) -> tuple[Employee | None, list[str]]:
    open_cases = list(session.scalars(select(Case.workflow_id).where(
        Case.kind.in_(LEAVING), Case.employee_id == employee_id, Case.status == "open")))
    return session.get(Employee, employee_id), open_cases


@router.post(PREFIX, status_code=201, response_model=resignation.ResignationView,
             responses=responses(400, 401, 403, 404, 409, 422, 503), summary="提出辞职 (Give notice of resignation)")
async def give_notice(body: ResignationIn, request: Request, temporal: TemporalDep, request_id: RequestId,
                      principal: Herself) -> resignation.ResignationView:
    """员工本人书面提出辞职：通知日为今天（中国时间），劳动合同法第三十七条的三十日（试用期内三日）从这天起算；
    人事专员收到待办，须在两天内据此发起离职流程，离职流程的通知日须与此一致。她可写明希望的最后工作日和原因。
    仅员工本人可调用；她已有办理中的辞职或离职答 409，已离职答 409，希望的最后工作日早于今天答 422。

    She gives written notice of resignation herself: the notice is dated today (China time), and the
    thirty days of Labour Contract Law art. 37 (three in probation) count from it. An HR specialist
    gets the task to open her departure on it within two days; that departure carries the same
    notice date. She may say the last day she asks for and why. Only the employee herself; an open
    notice or departure of hers, or her having left, is 409; a wished last day before today is 422."""
    settings = request.app.state.settings
    employee_id = principal.employee_id
    if employee_id is None:
        raise ApiError(403, "forbidden", "此令牌没有员工编号，不能提出辞职 (this token carries no employee number)")
    employee, open_cases = await transact(request, lambda s: _her(s, employee_id))
    if employee is None:
        raise ApiError(404, "not_found", f"没有员工 {employee_id} (no employee {employee_id})")
    if employee.employment_status == "departed":
        raise ApiError(409, "already_left", f"{employee_id} 已离职 ({employee_id} has left)")
    if open_cases:
        raise ApiError(409, "already_leaving", {"message": f"您的辞职或离职已在办理：{'、'.join(open_cases)}"
                                                           f" (a notice or departure of yours is open: {', '.join(open_cases)})",
                                                "open": open_cases})
    notice = today()
    if body.wished_last_day is not None and body.wished_last_day < notice:
        raise refuse(problem("wished_last_day", "not_before_notice",
                             f"希望的最后工作日 {body.wished_last_day} 早于通知日 {notice}",
                             f"the wished last day {body.wished_last_day} is before the notice date {notice}"))
    req = resignation.ResignationRequest(
        employee_id=employee_id, notice_date=notice, wished_last_day=body.wished_last_day, reason=body.reason,
        department=employee.department, province=employee.si_province,
        hr_due=dt.datetime.combine(notice + dt.timedelta(days=HR_DAYS), dt.time(18), tzinfo=CHINA),
        filed_by=workflow_calls.actor(principal, request_id))
    return await CASES.start(
        temporal, req, id=f"resignation-{employee_id}-{notice.isoformat()}", task_queue=settings.temporal_task_queue,
        request_id=request_id, closed="conflict", employee_id=employee_id, stage=resignation.NOTICE_GIVEN,
        province=employee.si_province, department=employee.department,
        summary=f"辞职通知 {employee_id}：{notice} (Notice of resignation of {employee_id}, {notice})",
        details=f"Notice given {notice} by {employee_id}")


@router.get(PREFIX + "/{workflow_id}", response_model=resignation.ResignationView, responses=responses(401, 404),
            summary="查看辞职通知 (Read a notice of resignation)")
async def read(workflow_id: str, request: Request, temporal: TemporalDep,
               principal: Anyone) -> resignation.ResignationView:
    """一份辞职通知：通知日、希望的最后工作日、原因，以及它是否已由离职流程接办（离职案件编号）或已撤回。
    员工只能看自己的。

    A notice of resignation: its date, the wished last day, the reason, and whether a departure has
    taken it up (the offboarding's id) or she withdrew it. An employee sees only her own."""
    return await CASES.read(request, temporal, principal, workflow_id)


CASES.message("/withdraw", W.withdraw, Herself, carrying(resignation.Withdraw), OptionalReasonIn)
