"""Delegations: while she is away, a colleague decides for her, for a period and within processes.

The delegate sends ``X-On-Behalf-Of: <the delegator's login>`` with her own token; hrflow then
lets her act with the delegator's role in the processes the delegation names, as herself (her own
employee number: she still never decides on her own case, nor on the delegator's), and every audit
entry says "on behalf of". Outside the period, after a revocation, or outside its processes, the
header is refused and nothing is done.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Path, Query, Request
from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.auth import Staff
from api.bodies import Body, UserId
from api.deps import RequestId
from api.errors import ApiError, field_error, responses
from api.plausibility import problem, refuse
from api.processes import BY_KIND
from api.routes import resource_router
from api.transactions import transact
from db import audit
from db.models import Delegation, StaffMember
from domain.roles import Role

router = resource_router(prefix="/delegations", tags=["delegations"])
LONGEST = dt.timedelta(days=366)


class DelegationIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"delegator": "mgr.wang", "delegate": "mgr.zhou", "starts_at": "2027-01-04T00:00:00+08:00",
         "ends_at": "2027-01-18T00:00:00+08:00", "processes": ["si_change", "maternity"], "reason": "年假"},
    ]})

    delegator: UserId | None = Field(default=None, description="默认本人；管理员和人事经理可为他人设置 (herself by default)")
    delegate: UserId
    starts_at: dt.datetime | None = Field(default=None, description="默认现在 (now by default)")
    ends_at: dt.datetime
    processes: list[str] = Field(default_factory=list, max_length=6,
                                 description="maternity, offboarding, transfer, si_change, non_compete, resignation;"
                                             " empty: every process")
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _known_processes(self) -> DelegationIn:
        unknown = [p for p in self.processes if p not in BY_KIND]
        if unknown:
            raise field_error("known_process", "没有流程 {name}；可选：{known}", "unknown process {name}; one of {known}",
                              name=unknown[0], known=", ".join(BY_KIND))
        for moment in (self.starts_at, self.ends_at):
            if moment is not None and moment.tzinfo is None:
                raise field_error("timezone_required", "时间须带时区，如 2027-01-04T00:00:00+08:00",
                                  "a time needs its zone, e.g. 2027-01-04T00:00:00+08:00")
        return self


class DelegationOut(Body):
    id: int
    delegator: str
    delegate: str
    role: str
    processes: list[str]
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    created_by: str
    revoked_at: dt.datetime | None
    in_force: bool


def _out(row: Delegation, now: dt.datetime) -> DelegationOut:
    return DelegationOut(id=row.id, delegator=row.delegator, delegate=row.delegate, role=row.role,
                         processes=list(row.processes), starts_at=row.starts_at, ends_at=row.ends_at, reason=row.reason,
                         created_by=row.created_by, revoked_at=row.revoked_at,
                         in_force=row.revoked_at is None and row.starts_at <= now < row.ends_at)


@router.post("", status_code=201, response_model=DelegationOut, responses=responses(400, 401, 403, 422),
             summary="授权他人代办 (Delegate one's decisions)")
async def delegate(body: DelegationIn, request: Request, request_id: RequestId, principal: Staff) -> DelegationOut:
    """在一段时间内（至多一年）授权一位同事代本人办理所列流程（不列即全部）中的决定；代办人以本人的角色办理，审计记录
    “代某某办理”。本人可为自己设置；管理员和人事经理可为他人设置（如其病假）。委托人和代办人须在人员名录中且在岗
    （委托人可已离岗），不能是同一人，结束须晚于开始和现在；否则答 422。已记入审计。

    Let a colleague make one's decisions in the processes listed (none: all) for a period of at most
    a year; she acts with the delegator's role, and the audit says "on behalf of". One sets it for
    oneself; admins and HR managers may set it for someone else (when she is ill). Both must be in
    the staff directory and the delegate active, they cannot be the same person, and the end must be
    after the start and after now; otherwise 422. Audited."""
    delegator = body.delegator or principal.user
    if delegator != principal.user and principal.role not in (Role.ADMIN, Role.HR_MANAGER):
        raise ApiError(403, "forbidden", "只能为自己设置授权；为他人设置须由管理员或人事经理办理"
                                         " (you may delegate only your own decisions; an admin or HR manager sets"
                                         " one for someone else)")
    now = dt.datetime.now(dt.UTC)
    starts = body.starts_at or now

    def work(session: Session) -> DelegationOut:
        giver, taker = session.get(StaffMember, delegator), session.get(StaffMember, body.delegate)
        items = []
        if giver is None:
            items.append(problem("delegator", "listed_staff", f"{delegator} 不在人员名录中", f"{delegator} is not in the staff directory"))
        if taker is None or not taker.active:
            items.append(problem("delegate", "listed_staff", f"{body.delegate} 不是人员名录中在岗的人员",
                                 f"{body.delegate} is not an active member of the staff directory"))
        if body.delegate == delegator:
            items.append(problem("delegate", "not_to_oneself", "不能授权给自己", "one cannot delegate to oneself"))
        if body.ends_at <= max(starts, now):
            items.append(problem("ends_at", "after_start", "结束时间须晚于开始时间和现在", "the end must be after the start and after now"))
        elif body.ends_at - starts > LONGEST:
            items.append(problem("ends_at", "at_most_a_year", "授权期限至多一年", "a delegation lasts at most a year"))
        if items:
            raise refuse(*items)
        assert giver is not None
        row = Delegation(delegator=delegator, delegate=body.delegate, role=giver.role, processes=body.processes,
                         starts_at=starts, ends_at=body.ends_at, reason=body.reason, created_by=principal.user,
                         created_at=now)
        session.add(row)
        session.flush()
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="delegation.given", request_id=request_id,
            after={"id": row.id, "delegator": delegator, "delegate": body.delegate, "role": giver.role,
                   "processes": body.processes, "starts_at": starts, "ends_at": body.ends_at, "reason": body.reason}))
        return _out(row, now)

    return await transact(request, work)


@router.get("", response_model=list[DelegationOut], responses=responses(401, 403), summary="授权列表 (Delegations)")
async def list_delegations(request: Request, principal: Staff,
                           everyone: Annotated[bool, Query(description="管理员和人事经理：所有人的授权 (everyone's)")] = False,
                           ) -> list[DelegationOut]:
    """本人给出和收到的授权，最新的在前；管理员和人事经理加 everyone=true 可看所有人的。工作人员可调用。

    The delegations one gave and received, newest first; admins and HR managers see everyone's
    with ``everyone=true``. Staff roles."""
    now = dt.datetime.now(dt.UTC)

    def work(session: Session) -> list[DelegationOut]:
        stmt = select(Delegation).order_by(Delegation.id.desc()).limit(500)
        if not (everyone and principal.role in (Role.ADMIN, Role.HR_MANAGER)):
            stmt = stmt.where(or_(Delegation.delegator == principal.user, Delegation.delegate == principal.user))
        return [_out(r, now) for r in session.scalars(stmt)]

    return await transact(request, work)


@router.post("/{delegation_id}/revoke", response_model=DelegationOut, responses=responses(401, 403, 404, 409),
             summary="收回授权 (Revoke a delegation)")
async def revoke(delegation_id: Annotated[int, Path(ge=1)], request: Request, request_id: RequestId,
                 principal: Staff) -> DelegationOut:
    """即时收回一项授权：此后代办人的请求不再被接受，此前已办的不受影响。委托人本人、设置人或管理员、人事经理可调用；
    授权不存在答 404，已收回答 409。已记入审计。

    Revoke a delegation at once: the delegate's requests are refused from now on; what she already
    did stands. The delegator, whoever set it, or an admin or HR manager; no such delegation is 404,
    one already revoked 409. Audited."""
    now = dt.datetime.now(dt.UTC)

    def work(session: Session) -> DelegationOut:
        row = session.get(Delegation, delegation_id, with_for_update=True)
        if row is None:
            raise ApiError(404, "not_found", f"没有授权 {delegation_id} (no delegation {delegation_id})")
        if principal.user not in (row.delegator, row.created_by) and principal.role not in (Role.ADMIN, Role.HR_MANAGER):
            raise ApiError(403, "forbidden", "只有委托人、设置人或管理员、人事经理可以收回授权"
                                             " (only the delegator, whoever set it, or an admin or HR manager revokes it)")
        if row.revoked_at is not None:
            raise ApiError(409, "already_revoked", f"授权已于 {row.revoked_at:%Y-%m-%d %H:%M} 收回"
                                                   f" (revoked at {row.revoked_at:%Y-%m-%d %H:%M} UTC)")
        row.revoked_at, row.revoked_by = now, principal.user
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="delegation.revoked", request_id=request_id,
            before={"id": row.id, "ends_at": row.ends_at}, after={"revoked_at": now}))
        return _out(row, now)

    return await transact(request, work)
