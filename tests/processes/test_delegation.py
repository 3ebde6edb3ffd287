"""Delegation: a colleague decides for someone away, for a period and within processes, audited
as "on behalf of"; it ends mid-case on time, and never lets anyone decide her own case."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from db.audit import verify_chain
from db.models import AuditEvent
from domain.roles import Role
from tests.processes import test_si_change as si_change
from tests.processes.support import add_employee

ADMIN, MANAGER, DEPUTY, MAKER = "ops.zhou", "mgr.wang", "hr.zhao", si_change.MAKER


async def staff(api, auth, user: str, role: Role, employee_id: str | None = None) -> None:
    r = await api.put(f"/staff/{user}", json={"display_name": user, "role": role.value, "employee_id": employee_id},
                      headers=auth(Role.ADMIN, ADMIN))
    assert r.status_code == 200, r.text


async def give(api, auth, *, delegator: str = MANAGER, delegate: str = DEPUTY, seconds: float = 3600,
               processes: list[str] | None = None, role: Role = Role.HR_MANAGER, by: str = MANAGER):
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return await api.post("/delegations", headers=auth(role, by),
                          json={"delegator": delegator, "delegate": delegate, "ends_at": ends.isoformat(),
                                "processes": processes if processes is not None else ["si_change"], "reason": "年假"})


def for_(auth, user: str, role: Role, delegator: str) -> dict[str, str]:
    return auth(role, user) | {"X-On-Behalf-Of": delegator}


async def approve(api, headers, wf: str):
    return await api.post(f"/si-changes/{wf}/approve", json={}, headers=headers)


async def test_a_deputy_approves_for_the_manager_until_the_delegation_ends(stack, auth, emp, session_factory) -> None:
    api = stack
    await staff(api, auth, MANAGER, Role.HR_MANAGER)
    await staff(api, auth, DEPUTY, Role.HR_SPECIALIST)
    given = await give(api, auth, seconds=4)
    assert given.status_code == 201 and given.json()["in_force"] and given.json()["role"] == "hr_manager", given.text
    add_employee(session_factory, "E-SECOND", resident_id_number="110105198506151236")
    first = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": emp}))["workflow_id"]
    second = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": "E-SECOND"}))["workflow_id"]
    await si_change.wait_submitted(api, auth, first)
    await si_change.wait_submitted(api, auth, second)

    r = await approve(api, auth(Role.HR_SPECIALIST, DEPUTY), first)
    assert r.status_code == 403  # as herself she is no checker
    inbox = (await api.get("/inbox", headers=for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER))).json()["items"]
    assert {first, second} <= {i["workflow_id"] for i in inbox}  # she sees the manager's work
    r = await approve(api, for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER), first)
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text

    await asyncio.sleep(4.2)  # the delegation ends while the second change waits
    r = await approve(api, for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER), second)
    assert r.status_code == 403 and r.json()["error"] == "no_delegation", r.text
    assert await si_change.stage_of(api, auth, second) == "submitted"
    with session_factory() as s:
        approved = s.scalar(select(AuditEvent).where(AuditEvent.workflow_id == first, AuditEvent.action == "task.approved"))
        assert (approved.actor, approved.actor_role, approved.on_behalf_of) == (DEPUTY, "hr_manager", MANAGER)
        assert verify_chain(s).ok


async def test_a_delegation_is_held_to_its_processes_and_ends_when_revoked(stack, auth, emp) -> None:
    api = stack
    await staff(api, auth, MANAGER, Role.HR_MANAGER)
    await staff(api, auth, DEPUTY, Role.HR_SPECIALIST)
    given = (await give(api, auth, processes=["maternity"])).json()
    wf = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": emp}))["workflow_id"]
    await si_change.wait_submitted(api, auth, wf)
    r = await approve(api, for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER), wf)
    assert r.status_code == 403 and r.json()["error"] == "delegation_scope"
    r = await api.get("/staff", headers=for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER))
    assert r.status_code == 403 and r.json()["error"] == "delegation_scope"  # never the directory or the org
    everything = (await give(api, auth, processes=[])).json()
    r = await api.post(f"/delegations/{everything['id']}/revoke", headers=auth(Role.HR_SPECIALIST, DEPUTY))
    assert r.status_code == 403  # the delegate does not end it; the delegator does
    r = await api.post(f"/delegations/{everything['id']}/revoke", headers=auth(Role.HR_MANAGER, MANAGER))
    assert r.status_code == 200 and not r.json()["in_force"]
    r = await approve(api, for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER), wf)
    assert r.status_code == 403 and r.json()["error"] == "delegation_scope"  # only the maternity one is left
    assert (await api.post(f"/delegations/{given['id']}/revoke", headers=auth(Role.HR_MANAGER, MANAGER))).status_code == 200
    r = await approve(api, for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER), wf)
    assert r.status_code == 403 and r.json()["error"] == "no_delegation"
    assert await si_change.stage_of(api, auth, wf) == "submitted"
    again = await api.post(f"/delegations/{everything['id']}/revoke", headers=auth(Role.HR_MANAGER, MANAGER))
    assert again.status_code == 409
    mine = (await api.get("/delegations", headers=auth(Role.HR_SPECIALIST, DEPUTY))).json()
    assert {d["id"] for d in mine} == {given["id"], everything["id"]}


async def test_no_delegation_lets_anyone_check_her_own_change_or_the_delegators_own(stack, auth, emp) -> None:
    api = stack
    await staff(api, auth, MANAGER, Role.HR_MANAGER, employee_id=emp)  # the manager is the subject
    await staff(api, auth, DEPUTY, Role.HR_SPECIALIST)
    await staff(api, auth, MAKER, Role.HR_SPECIALIST)
    assert (await give(api, auth, processes=[])).status_code == 201
    assert (await give(api, auth, delegate=MAKER, processes=[])).status_code == 201
    wf = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": emp}))["workflow_id"]
    await si_change.wait_submitted(api, auth, wf)
    r = await approve(api, for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER), wf)
    assert r.status_code == 403 and r.json()["error"] == "self_approval"  # her own change, through a deputy
    r = await approve(api, for_(auth, MAKER, Role.HR_SPECIALIST, MANAGER), wf)
    assert r.status_code == 403 and r.json()["error"] == "self_approval"
    assert await si_change.stage_of(api, auth, wf) == "submitted"


async def test_a_delegation_is_given_only_as_the_rules_say(stack, auth) -> None:
    api = stack
    await staff(api, auth, MANAGER, Role.HR_MANAGER)
    await staff(api, auth, DEPUTY, Role.HR_SPECIALIST)
    r = await give(api, auth, delegate=MANAGER)
    assert r.status_code == 422 and ("delegate", "not_to_oneself") in {(i["field"], i["rule"]) for i in r.json()["detail"]}
    r = await give(api, auth, delegate="nobody")
    assert r.status_code == 422 and ("delegate", "listed_staff") in {(i["field"], i["rule"]) for i in r.json()["detail"]}
    r = await give(api, auth, seconds=-60)
    assert r.status_code == 422 and ("ends_at", "after_start") in {(i["field"], i["rule"]) for i in r.json()["detail"]}
    r = await give(api, auth, seconds=400 * 86400)
    assert r.status_code == 422 and ("ends_at", "at_most_a_year") in {(i["field"], i["rule"]) for i in r.json()["detail"]}
    r = await give(api, auth, processes=["payroll"])
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "known_process"
    assert "没有流程 payroll" in r.json()["detail"][0]["message"]
    r = await give(api, auth, delegator=MANAGER, delegate=DEPUTY, role=Role.HR_SPECIALIST, by="hr.qian")
    assert r.status_code == 403  # a specialist delegates only her own decisions
    r = await give(api, auth, role=Role.ADMIN, by=ADMIN)  # an admin may, for a manager who fell ill
    assert r.status_code == 201 and r.json()["created_by"] == ADMIN


async def test_when_she_leaves_her_login_ends_and_so_do_delegations_to_her(stack, auth, emp, session_factory) -> None:
    """Her departure, as her offboarding announces it on her last day (``employment.announce``)."""
    from activities.employment import EmploymentActivities
    from db.models import Delegation, StaffMember
    from domain.actors import SYSTEM
    from domain.contracts.employment import Announce
    from domain.employment import EmploymentEvent

    api = stack
    await staff(api, auth, MANAGER, Role.HR_MANAGER, employee_id=emp)  # the manager is the one leaving
    await staff(api, auth, DEPUTY, Role.HR_SPECIALIST)
    await staff(api, auth, "mgr.zhou", Role.HR_MANAGER)
    hers = (await give(api, auth, processes=[])).json()  # hers to the deputy: stays, the deputy finishes her work
    to_her = (await give(api, auth, delegator="mgr.zhou", delegate=MANAGER, by="mgr.zhou")).json()
    assert (await api.get("/inbox", headers=auth(Role.HR_MANAGER, MANAGER))).status_code == 200
    event = EmploymentEvent(id=f"offboarding-{emp}-1:departed", employee_id=emp, kind="departed",
                            on=dt.date.today(), source=f"offboarding-{emp}-1")
    EmploymentActivities(session_factory).announce(Announce(event=event, actor=SYSTEM, at=dt.datetime.now(dt.UTC)))
    r = await api.get("/inbox", headers=auth(Role.HR_MANAGER, MANAGER))
    assert r.status_code == 401 and "此账号已停用" in r.json()["detail"]  # her token, still unexpired, is refused
    with session_factory() as s:
        assert s.get(StaffMember, MANAGER).active is False
        assert s.get(Delegation, to_her["id"]).revoked_by == "system"
        assert s.get(Delegation, hers["id"]).revoked_at is None
        left = s.scalar(select(AuditEvent).where(AuditEvent.action == "staff.left"))
        assert left.after["logins"] == [MANAGER] and left.after["delegations_ended"] == [to_her["id"]]
    r = await api.get("/inbox", headers=for_(auth, DEPUTY, Role.HR_SPECIALIST, MANAGER))
    assert r.status_code == 200  # the deputy still works through what she left
