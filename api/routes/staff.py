"""The staff directory: who holds which role at which level, and how to reach them.

Reminders to a role go to its level-1 members; an overdue task escalates one level at a time
(``HRFLOW_ESCALATION_DAYS``), up to the highest level the role has. Admins keep it; HR managers
may read it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.bodies import Body
from api.errors import ApiError, responses
from api.routes import resource_router
from api.transactions import transact
from db.models import Employee, OrgUnit, StaffMember
from domain.roles import STAFF, Role

router = resource_router(tags=["staff directory"])

StaffRole = Annotated[Role, Field(description="a staff role; employee for a line manager who only signs approvals")]
EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}$"


class StaffIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"display_name": "王经理", "role": "hr_manager", "level": 2, "email": "wang.jl@example.com", "language": "zh",
         "active": True, "employee_id": "E0042", "unit_code": None},
        {"display_name": "沪分人事", "role": "hr_specialist", "email": "hr.sh@example.com", "unit_code": "SH"},
    ]})

    display_name: str = Field(min_length=1, max_length=100)
    role: StaffRole
    level: int = Field(default=1, ge=1, le=5, description="1 does the work; 2+ are escalation levels")
    email: str | None = Field(default=None, pattern=EMAIL, max_length=200)
    language: str = Field(default="zh", pattern="^(zh|en)$")
    active: bool = True
    employee_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="她作为员工的工号（已登记的员工）：据此，任何人都不能审批涉及自己的案件，无论令牌怎么写"
                    " (her employee number, if she is an employee too: so nobody decides on her own case,"
                    " whatever her token claims)")
    unit_code: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="她负责的组织单位（如分公司）：只看、只办该单位及其下属单位员工的案件；不填为全公司"
                    " (the unit whose people she works for, a branch: she sees and acts on the cases of its"
                    " people and of the units under it only; none: the whole company)")


class StaffOut(StaffIn):
    model_config = ConfigDict(json_schema_extra=None)  # StaffIn's example has no user_id

    user_id: str


@router.get("/staff", response_model=list[StaffOut], responses=responses(401, 403),
            summary="员工目录 (The staff directory)")
async def list_staff(request: Request,
                     _: Annotated[Principal, Depends(require(Role.ADMIN, Role.HR_MANAGER))]) -> list[StaffOut]:
    """员工目录：每位工作人员的角色、级别（1 级办理，2 级起为逐级上报的对象）、邮箱、语言和是否在岗，按角色和级别排列。
    管理员和人事经理可调用。

    The staff directory: each member's role, level (1 does the work, 2 and up are where overdue work
    escalates), e-mail, language and whether active, by role and level. Admins and HR managers."""
    def work(session: Session) -> list[StaffOut]:
        rows = session.scalars(select(StaffMember).order_by(StaffMember.role, StaffMember.level, StaffMember.user_id))
        return [StaffOut.model_validate(r, from_attributes=True) for r in rows]

    return await transact(request, work)


@router.put("/staff/{user_id}", response_model=StaffOut, responses=responses(400, 401, 403, 422),
            summary="新增或替换目录成员 (Create or replace a member)")
async def put_staff(body: StaffIn, request: Request, _: Annotated[Principal, Depends(require(Role.ADMIN))],
                    user_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]) -> StaffOut:
    """新增或整体替换一位目录成员（user_id 即其令牌的 subject），决定提醒发给谁、逾期待办逐级上报给谁。工作人员本人
    也是员工时填 employee_id：hrflow 以目录为准认定登录者是谁，她不能审批涉及自己的案件。不是人事等工作人员、只为签批下属
    审批而列入的直属上级，role 为 employee，须填 employee_id（否则答 422）。填 unit_code 的成员（如分公司人事）只看、只办
    该单位及其下属单位员工的案件。仅管理员可调用；employee_id 不是已登记的员工答 422。

    Create or replace a member (the user id is the token's subject): who reminders reach and where
    overdue work escalates. A member who is an employee too gets her employee_id: hrflow takes the
    directory's word for who a login is, so she never decides on her own case. A line manager listed
    only to sign her reports' approvals has role employee and needs her employee_id (else 422). A
    member given a ``unit_code`` (a branch's HR) sees and acts on the cases of that unit's people
    and of the units under it only.
    Admins only; an employee_id not registered is 422."""
    def work(session: Session) -> StaffOut:
        if body.role not in STAFF and body.employee_id is None:  # a line manager who signs her reports' approvals
            raise ApiError(422, "validation_failed", [{"field": "employee_id", "rule": "employee_login_named",
                                                       "message": "角色为 employee 的成员（签批下属审批的直属上级）须填写其员工编号"
                                                                  " (a member with role employee, a line manager who signs"
                                                                  " her reports' approvals, needs her employee_id)"}])
        if body.employee_id is not None and session.get(Employee, body.employee_id) is None:
            raise ApiError(422, "validation_failed", [{"field": "employee_id", "rule": "known_employee",
                                                       "message": f"没有登记工号为 {body.employee_id} 的员工，请先登记员工"
                                                                  f" (no employee {body.employee_id} is registered;"
                                                                  " register her first)"}])
        if body.unit_code is not None and session.get(OrgUnit, body.unit_code) is None:
            raise ApiError(422, "validation_failed", [{"field": "unit_code", "rule": "unit_exists",
                                                       "message": f"没有组织单位 {body.unit_code}"
                                                                  f" (no unit {body.unit_code})"}])
        values = body.model_dump() | {"role": body.role.value}
        session.execute(insert(StaffMember).values(user_id=user_id, **values)
                        .on_conflict_do_update(index_elements=[StaffMember.user_id], set_=values))
        return StaffOut(user_id=user_id, **body.model_dump())

    return await transact(request, work)
