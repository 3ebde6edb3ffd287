"""The organisation: units (entities, branches, departments) with heads, and line managers by date.

Approvals by person ("her line manager", "the head of her department") read what is kept here;
every change is audited, and nothing that would break the tree (a unit under itself, a manager
chain that loops back to her) is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import scope
from api.auth import Hr, Principal, Staff, require
from api.bodies import Body
from api.deps import RequestId
from api.errors import ApiError, responses
from api.plausibility import PlausibleDate, problem, refuse
from api.routes import resource_router
from api.transactions import transact
from db import audit, organisation
from db.models import Employee, OrgUnit
from domain.policy import PolicyError, load_catalogue
from domain.roles import STAFF, Role

router = resource_router(tags=["organisation"])
UnitCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,32}$", examples=["SALES-BJ"])]
Keepers = Annotated[Principal, Depends(require(Role.ADMIN, Role.HR_MANAGER))]
KIND_WORDS = {"entity": ("法人主体", "legal entity"), "branch": ("分支机构", "branch"), "department": ("部门", "department")}


class UnitIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "北京销售部", "kind": "department", "parent_code": "BJ", "head_employee_id": "E1001"},
    ]})

    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(entity|branch|department)$",
                      description="entity 法人主体（顶层）, branch 分支机构（在法人主体下）, department 部门")
    parent_code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    si_city: str | None = Field(default=None, min_length=1, max_length=32,
                                description="法人主体和分支机构的社保参保城市 (the social-insurance city of an entity or branch)")
    head_employee_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    active: bool = True


class UnitOut(UnitIn):
    model_config = ConfigDict(json_schema_extra=None)

    code: str
    path: list[str] = Field(description="the units above it, from the top")


class ManagerIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"manager_id": "E1001", "effective_from": "2027-01-01"}]})

    manager_id: str | None = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="null: nobody from that day")
    effective_from: PlausibleDate


class ManagersOut(Body):
    employee_id: str
    on: dt.date
    managers: list[str] = Field(description="her manager first, then each one above, on that day")


class HeadOut(Body):
    unit_code: str
    head_employee_id: str | None
    from_unit: str | None = Field(description="the unit whose head it is: the same, or the nearest above with a head")


def _out(session: Session, unit: OrgUnit) -> UnitOut:
    return UnitOut(code=unit.code, name=unit.name, kind=unit.kind, parent_code=unit.parent_code, si_city=unit.si_city,
                   head_employee_id=unit.head_employee_id, active=unit.active,
                   path=list(reversed(organisation.ancestors(session, unit.code))))


def check_unit(session: Session, code: str, body: UnitIn) -> None:
    """The body placed in the tree: the parent exists and may hold this kind, the head is a
    registered employee still here, an employer's city is one the catalogue knows, no loop."""
    items = []
    parent = session.get(OrgUnit, body.parent_code) if body.parent_code else None
    if body.kind == "entity" and body.parent_code is not None:
        items.append(problem("parent_code", "entity_at_top", "法人主体位于顶层，不能有上级单位",
                             "a legal entity is at the top: it has no parent"))
    elif body.kind != "entity" and body.parent_code is None:
        items.append(problem("parent_code", "missing", f"{KIND_WORDS[body.kind][0]}须有上级单位",
                             f"a {KIND_WORDS[body.kind][1]} needs a parent unit"))
    elif body.parent_code is not None and parent is None:
        items.append(problem("parent_code", "unit_exists", f"没有单位 {body.parent_code}", f"no unit {body.parent_code}"))
    elif parent is not None and body.kind == "branch" and parent.kind != "entity":
        items.append(problem("parent_code", "branch_under_entity", "分支机构须直属于法人主体",
                             "a branch sits directly under a legal entity"))
    elif parent is not None and (body.parent_code == code or code in organisation.ancestors(session, parent.code)):
        items.append(problem("parent_code", "no_loop", f"{body.parent_code} 在 {code} 之下，不能作为其上级",
                             f"{body.parent_code} lies under {code}: it cannot be its parent"))
    if body.kind != "department":
        if body.si_city is None:
            items.append(problem("si_city", "missing", "法人主体和分支机构须填写社保参保城市",
                                 "an entity or branch needs its social-insurance city"))
        else:
            try:
                load_catalogue().city(body.si_city)
            except PolicyError:
                items.append(problem("si_city", "known_city", f"政策目录中没有城市 {body.si_city}",
                                     f"the catalogue has no city {body.si_city}"))
    if body.head_employee_id is not None:
        head = session.get(Employee, body.head_employee_id)
        if head is None or head.employment_status == "departed":
            items.append(problem("head_employee_id", "employee_exists", f"负责人 {body.head_employee_id} 不是在职员工",
                                 f"the head {body.head_employee_id} is not a current employee"))
    if items:
        raise refuse(*items)


@router.put("/org-units/{code}", response_model=UnitOut, responses=responses(400, 401, 403, 422),
            summary="新增或修改组织单位 (Create or change a unit)")
async def put_unit(code: UnitCode, body: UnitIn, request: Request, request_id: RequestId, principal: Keepers) -> UnitOut:
    """新增或整体替换一个组织单位：法人主体（顶层，有社保参保城市）、分支机构（直属法人主体，有社保参保城市）或部门
    （在任一单位之下），可指定负责人。上级不存在、放错层级、形成环、负责人不是在职员工、城市不在政策目录中，均答 422
    并指明字段；修改前后的内容记入审计。管理员和人事经理可调用。

    Create or replace a unit: a legal entity (at the top, with its social-insurance city), a branch
    (directly under an entity, with its city) or a department (under any unit), with its head. A
    parent that does not exist or cannot hold this kind, a loop, a head who is not a current
    employee, or a city the catalogue lacks is 422 naming the field; the change is audited with
    what it was before. Admins and HR managers."""
    def work(session: Session) -> UnitOut:
        check_unit(session, code, body)
        return _out(session, save_unit(session, code, body, principal, request_id))

    return await transact(request, work)


def save_unit(session: Session, code: str, body: UnitIn, principal: Principal, request_id: str) -> OrgUnit:
    """Write a checked unit (``check_unit``), audited with what it was before."""
    unit = session.get(OrgUnit, code, with_for_update=True)
    before = None if unit is None else _out(session, unit).model_dump(exclude={"path"})
    if unit is None:
        unit = OrgUnit(code=code)
        session.add(unit)
    for key, value in body.model_dump().items():
        setattr(unit, key, value)
    unit.updated_at = dt.datetime.now(dt.UTC)
    session.flush()
    audit.append(session, audit.AuditEntry(
        actor=principal.user, actor_role=principal.role.value, action="org_unit.saved", subject=None,
        before=before, after={"code": code, **body.model_dump()}, request_id=request_id))
    return unit


@router.get("/org-units", response_model=list[UnitOut], responses=responses(401, 403),
            summary="组织架构 (The organisation)")
async def list_units(request: Request, _: Staff) -> list[UnitOut]:
    """全部组织单位，按从顶层到下层的路径排列，每个单位带其上级路径和负责人。工作人员可调用。

    Every unit, in the order of its path from the top, each with the units above it and its head.
    Staff roles."""
    def work(session: Session) -> list[UnitOut]:
        units = [_out(session, u) for u in session.scalars(select(OrgUnit))]
        return sorted(units, key=lambda u: [*u.path, u.code])

    return await transact(request, work)


@router.get("/org-units/{code}/head", response_model=HeadOut, responses=responses(401, 403, 404),
            summary="单位负责人 (Who heads a unit)")
async def unit_head(code: UnitCode, request: Request, _: Staff) -> HeadOut:
    """单位的负责人；本单位未设负责人时，为其最近一个设有负责人的上级单位的负责人（from_unit 说明是哪个单位）。
    工作人员可调用；单位不存在答 404。

    The unit's head; when it has none, the head of the nearest unit above that has one (``from_unit``
    says which). Staff roles; no such unit is 404."""
    def work(session: Session) -> HeadOut:
        if session.get(OrgUnit, code) is None:
            raise ApiError(404, "not_found", f"没有单位 {code} (no unit {code})")
        head = organisation.head_of(session, code)
        return HeadOut(unit_code=code, head_employee_id=head.head_employee_id, from_unit=head.from_unit)

    return await transact(request, work)


@router.get("/employees/{employee_id}/managers", response_model=ManagersOut, responses=responses(401, 403, 404),
            summary="某日的上级链 (Her managers on a day)")
async def managers(employee_id: str, request: Request, principal: Annotated[Principal, Depends(require(*Role))],
                   on: Annotated[PlausibleDate | None, Query(description="默认今天 (today by default)")] = None,
                   levels: Annotated[int, Query(ge=1, le=20)] = 5) -> ManagersOut:
    """她在某一天的直属上级及其以上各级（至多 levels 级），按当天有效的上级关系；案件据此确定审批人，日后调整架构
    不影响已开始的案件。工作人员和本人可调用；员工查别人答 404。

    Her line manager on a day and the ones above (at most ``levels``), as the assignments stood that
    day: a case resolves its approvers from this, so a later reorganisation does not move them.
    Staff roles and she herself; an employee asking about anyone else gets 404."""
    day = on or dt.date.today()

    def work(session: Session) -> ManagersOut:
        seen = principal.is_self(employee_id) or (principal.role in STAFF and scope.covers(session, principal,
                                                                                           employee_id))
        if session.get(Employee, employee_id) is None or not seen:
            raise ApiError(404, "not_found", f"没有您可查看的员工 {employee_id} (no employee {employee_id} visible to you)")
        return ManagersOut(employee_id=employee_id, on=day,
                           managers=organisation.managers_up(session, employee_id, day, levels))

    return await transact(request, work)


@router.put("/employees/{employee_id}/manager", response_model=ManagersOut, responses=responses(400, 401, 403, 404, 422),
            summary="调整直属上级 (Change her line manager)")
async def change_manager(employee_id: str, body: ManagerIn, request: Request, request_id: RequestId,
                         principal: Hr) -> ManagersOut:
    """自 effective_from 起由 manager_id 担任她的直属上级（null 为无）；此前的上级关系到这一天为止，历史保留。
    上级不是在职员工、是她本人、会形成环（上级的上级链回到她），或生效日早于当前上级关系的开始，答 422；已记入审计。
    人事专员和人事经理可调用；员工不存在答 404。

    From ``effective_from`` on, ``manager_id`` is her line manager (null: nobody); the assignment
    before ends that day and stays on record. A manager who is not a current employee, herself, one
    whose chain leads back to her, or a date before the current assignment began is 422; audited.
    HR specialists and managers; no such employee is 404."""
    def work(session: Session) -> ManagersOut:
        row = session.get(Employee, employee_id, with_for_update=True)
        if row is None or not scope.covers(session, principal, employee_id):
            raise ApiError(404, "not_found", f"没有员工 {employee_id} (no employee {employee_id})")
        day = body.effective_from
        if body.manager_id is not None:
            manager = session.get(Employee, body.manager_id)
            if body.manager_id == employee_id:
                raise refuse(problem("manager_id", "not_own_manager", "直属上级不能是本人", "she cannot be her own manager"))
            if manager is None or manager.employment_status == "departed":
                raise refuse(problem("manager_id", "employee_exists", f"{body.manager_id} 不是在职员工",
                                     f"{body.manager_id} is not a current employee"))
            loop = organisation.loop_through(session, employee_id, body.manager_id, day)
            if loop is not None:
                raise refuse(problem("manager_id", "managers_loop", f"上级关系会成环：{' → '.join(loop)}",
                                     f"the managers would go round in a loop: {' -> '.join(loop)}"))
        started = organisation.current_assignment_start(session, employee_id)
        if started is not None and day < started:
            raise refuse(problem("effective_from", "not_before_current", f"生效日期不能早于当前上级关系的开始日期 {started}",
                                 f"the date cannot be before the current assignment began on {started}"))
        before = organisation.manager_on(session, employee_id, day)
        organisation.record_manager(session, employee_id, body.manager_id, day)
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="employee.manager_changed",
            subject=employee_id, before={"manager_id": before}, request_id=request_id,
            after={"manager_id": body.manager_id, "effective_from": day}))
        return ManagersOut(employee_id=employee_id, on=day, managers=organisation.managers_up(session, employee_id, day))

    return await transact(request, work)
