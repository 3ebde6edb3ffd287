"""Approver routes: each decision's route, written down by the company as versions that begin on a
day (``domain.approval_routes``). A case keeps the version in force on its first day; a new
version reaches the cases that begin from its day on, never one already running.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.bodies import Body
from api.deps import RequestId
from api.errors import ApiError, responses
from api.plausibility import problem, refuse
from api.routes import resource_router
from api.transactions import transact
from db import audit
from db.approval_routes import route_in_force
from db.models import ApprovalRouteVersion, OrgUnit, StaffMember
from domain.approval_routes import BUILT_IN, DECISIONS, Route, Step
from domain.roles import Role

router = resource_router(prefix="/approval-routes", tags=["approval routes"])
CHINA = dt.timezone(dt.timedelta(hours=8))
Editor = Annotated[Principal, Depends(require(Role.ADMIN, Role.HR_MANAGER))]
Reader = Annotated[Principal, Depends(require(Role.ADMIN, Role.HR_MANAGER, Role.HR_SPECIALIST, Role.COMPLIANCE))]
Decision = Annotated[str, Path(max_length=40, description="si_change.approve")]


class RouteIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "effective_from": "2027-01-01", "source": "《社保业务审批办法》2027 版第 3 条",
        "steps": [
            {"name": "直属上级审批", "mode": "any", "approvers": [{"line_manager": 1}]},
            {"name": "人事经理与财务会签", "mode": "all", "approvers": [{"role": "hr_manager"}, {"head_of": "FIN"}],
             "when": [{"field": "amount", "op": "gt", "value": "5000"}]},
            {"name": "人事经理复核", "mode": "any", "approvers": [{"role": "hr_manager"}],
             "when": [{"field": "amount", "op": "le", "value": "5000"}]},
        ]}]})

    effective_from: dt.date = Field(description="从哪一天起新开的案件按此版本审批（不早于今天） (cases begun from this day on)")
    source: str = Field(min_length=1, max_length=200, description="所依据的公司制度 (the company rule it writes down)")
    steps: list[Step] = Field(min_length=1, max_length=12)


class RouteVersions(Body):
    decision: str
    fields: dict[str, str]  # what each condition may read
    in_force: Route  # today's
    versions: list[Route]  # the company's, newest first (none: the built-in route is in force)


def _versions(session: Session, decision: str) -> RouteVersions:
    rows = session.scalars(select(ApprovalRouteVersion).where(ApprovalRouteVersion.decision == decision)
                           .order_by(ApprovalRouteVersion.version.desc()))
    return RouteVersions(
        decision=decision, fields=DECISIONS[decision],
        in_force=route_in_force(session, decision, dt.datetime.now(CHINA).date()),
        versions=[Route(decision=decision, version=r.version, effective_from=r.effective_from, source=r.source,
                        steps=[Step.model_validate(s) for s in r.steps]) for r in rows])


def _known(decision: str) -> None:
    if decision not in BUILT_IN:
        raise ApiError(404, "not_found", f"没有审批事项 {decision}；可选：{', '.join(BUILT_IN)}"
                                         f" (no decision {decision}; one of {', '.join(BUILT_IN)})")


@router.get("/{decision}", response_model=RouteVersions, responses=responses(401, 403, 404),
            summary="审批路线及其版本 (A decision's approver route and its versions)")
async def read_route(decision: Decision, request: Request, _: Reader) -> RouteVersions:
    """一项决定今天生效的审批路线、条件可用的字段，以及公司写下的全部版本（最新的在前）。管理员、人事和合规可调用。

    The approver route in force today for a decision, the fields its conditions may read, and every
    version the company wrote (newest first). Admins, HR and compliance."""
    _known(decision)
    return await transact(request, lambda session: _versions(session, decision))


@router.post("/{decision}", status_code=201, response_model=RouteVersions, responses=responses(400, 401, 403, 404, 422),
             summary="发布审批路线的新版本 (Publish a new version of a route)")
async def publish(decision: Decision, body: RouteIn, request: Request, request_id: RequestId,
                  principal: Editor) -> RouteVersions:
    """发布一项决定的审批路线新版本：各步骤依次签批，每步写明审批人（角色、指定人员、上 N 级直属上级、所在部门负责人或某部门的
    负责人）和会签（all）或或签（any），可附条件（如金额大于某数）。从 effective_from（不早于今天）起新开的案件按此版本，
    进行中的案件保持其开始时的版本。条件只能读此事项的字段，指定人员须在人员名录中且在岗，部门须存在；否则答 422。已记入审计。
    管理员和人事经理可调用。

    Publish a new version of a decision's route: steps signed in order, each naming its approvers (a
    role, a named person, the line manager N levels up, the head of her department or of a named
    unit), all of them (``all``, countersign) or any one (``any``), optionally only when conditions
    hold (an amount over a figure). Cases begun from ``effective_from`` (today or later) follow it;
    running cases keep the version they began with. Conditions read only this decision's fields,
    named people must be active staff, units must exist; otherwise 422. Audited. Admins and HR
    managers."""
    _known(decision)
    today = dt.datetime.now(CHINA).date()

    def work(session: Session) -> RouteVersions:
        items = []
        if body.effective_from < today:
            items.append(problem("effective_from", "not_in_the_past", f"生效日 {body.effective_from} 早于今天，已开始的案件不受新规则影响",
                                 f"{body.effective_from} is in the past; a route applies from today on"))
        for i, step in enumerate(body.steps):
            for c in step.when:
                if c.field not in DECISIONS[decision]:
                    items.append(problem(f"steps.{i}.when.field", "known_field",
                                         f"条件不能读 {c.field}；可读：{', '.join(DECISIONS[decision])}",
                                         f"a condition cannot read {c.field}; one of {', '.join(DECISIONS[decision])}"))
            for j, a in enumerate(step.approvers):
                where = f"steps.{i}.approvers.{j}"
                if a.person is not None:
                    member = session.get(StaffMember, a.person)
                    if member is None or not member.active:
                        items.append(problem(f"{where}.person", "listed_staff", f"{a.person} 不是人员名录中在岗的人员",
                                             f"{a.person} is not an active member of the staff directory"))
                if a.head_of is not None and session.get(OrgUnit, a.head_of) is None:
                    items.append(problem(f"{where}.head_of", "known_unit", f"没有组织单位 {a.head_of}", f"no unit {a.head_of}"))
        if items:
            raise refuse(*items)
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"approval-route:{decision}"))))
        version = (session.scalar(select(func.max(ApprovalRouteVersion.version))
                                  .where(ApprovalRouteVersion.decision == decision)) or 0) + 1
        steps = [s.model_dump(mode="json", exclude_defaults=True) for s in body.steps]
        session.add(ApprovalRouteVersion(decision=decision, version=version, effective_from=body.effective_from,
                                         source=body.source, steps=steps, created_by=principal.user,
                                         created_at=dt.datetime.now(dt.UTC)))
        session.flush()
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="approval_route.published",
            request_id=request_id, after={"decision": decision, "version": version,
                                          "effective_from": body.effective_from, "source": body.source, "steps": steps}))
        return _versions(session, decision)

    return await transact(request, work)
