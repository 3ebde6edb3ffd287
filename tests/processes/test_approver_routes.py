"""Approver routes on the time-skipping server: a company's route (line manager, then a countersign
when the amount is large), pinned per case, and the task actions on it: transfer, add-sign, return
to an earlier step, delegation that ends mid-case, a manager who leaves while her approval waits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select, update

from db.audit import verify_chain
from db.models import ApprovalTask, AuditEvent, Delegation
from domain.roles import Role
from tests.processes import test_si_change as si_change
from tests.processes.support import add_employee, eventually, record_history

CHINA = dt.timezone(dt.timedelta(hours=8))
ADMIN, CHECKER, MAKER = "ops.zhou", si_change.CHECKER, si_change.MAKER
LINE, DIRECTOR, FINANCE_HEAD, DEPUTY = "mgr.li", "dir.sun", "fin.chen", "mgr.zhou"
IDS = {"E-MGR": "110105198506151236", "E-DIR": "110105199003077796", "E-FIN": "110105198801010014",
       "E-DEP": "11010519751212001X"}


def route(*, today: dt.date | None = None) -> dict:
    return {
        "effective_from": (today or dt.datetime.now(CHINA).date()).isoformat(), "source": "《社保业务审批办法》第 3 条",
        "steps": [
            {"name": "直属上级审批", "approvers": [{"line_manager": 1}]},
            {"name": "人事经理与财务负责人会签", "mode": "all", "approvers": [{"role": "hr_manager"}, {"head_of": "FIN"}],
             "when": [{"field": "kind", "op": "eq", "value": "back_payment"},
                      {"field": "amount", "op": "gt", "value": "5000"}]},
            {"name": "人事经理复核", "approvers": [{"role": "hr_manager"}],
             "when": [{"field": "kind", "op": "ne", "value": "back_payment"}]},
        ]}


async def organisation(api, auth, session_factory, emp: str) -> None:
    """Her line manager E-MGR (login mgr.li, listed as an employee who signs), his director E-DIR,
    the finance department's head E-FIN, and a deputy; the route published for today."""
    for number, rid in IDS.items():
        add_employee(session_factory, number, resident_id_number=rid, name=f"员工{number}")
    admin = auth(Role.ADMIN, ADMIN)
    for user, role, number in ((LINE, Role.EMPLOYEE, "E-MGR"), (DIRECTOR, Role.HR_MANAGER, "E-DIR"),
                               (FINANCE_HEAD, Role.FINANCE, "E-FIN"), (DEPUTY, Role.HR_SPECIALIST, "E-DEP"),
                               (CHECKER, Role.HR_MANAGER, None), (MAKER, Role.HR_SPECIALIST, None)):
        r = await api.put(f"/staff/{user}", json={"display_name": user, "role": role.value, "employee_id": number},
                          headers=admin)
        assert r.status_code == 200, r.text
    for code, body in (("CO", {"name": "演示科技", "kind": "entity", "si_city": "Beijing", "head_employee_id": "E-DIR"}),
                       ("FIN", {"name": "财务部", "kind": "department", "parent_code": "CO", "head_employee_id": "E-FIN"})):
        assert (await api.put(f"/org-units/{code}", json=body, headers=admin)).status_code == 200
    for number, manager in ((emp, "E-MGR"), ("E-MGR", "E-DIR")):
        r = await api.put(f"/employees/{number}/manager", json={"manager_id": manager, "effective_from": "2021-03-01"},
                          headers=auth(Role.HR_MANAGER, CHECKER))
        assert r.status_code == 200, r.text
    r = await api.post("/approval-routes/si_change.approve", json=route(), headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 201, r.text


def line(auth) -> dict[str, str]:
    return auth(Role.EMPLOYEE, LINE, "E-MGR")


async def view(api, auth, wf: str) -> dict:
    return (await api.get(f"/si-changes/{wf}", headers=auth(Role.HR_MANAGER, CHECKER))).json()


async def waiting_for(api, auth, wf: str, step: int) -> dict:
    async def probe() -> dict | None:
        v = await view(api, auth, wf)
        return v if v.get("approval") and v["approval"]["current"] == step else None
    found: dict = await eventually(probe)
    return found


async def approve(api, headers, wf: str, total: str | None = None):
    return await api.post(f"/si-changes/{wf}/approve", json={"confirm_total": total} if total else {}, headers=headers)


async def test_a_large_back_payment_goes_to_her_manager_then_to_a_countersign(stack, auth, emp, session_factory,
                                                                             temporal_env) -> None:
    api = stack
    await organisation(api, auth, session_factory, emp)
    started = await si_change.submit(api, auth, si_change.BACK_PAY | {"employee_id": emp})
    wf, total = started["workflow_id"], started["estimate"]["total"]
    assert Decimal(total) > 5000
    v = await waiting_for(api, auth, wf, 0)
    assert [s["name"] for s in v["approval"]["steps"]] == ["直属上级审批", "人事经理与财务负责人会签"]
    assert v["approval"]["steps"][0]["signers"][0]["user"] == LINE
    assert v["approval"]["version"] == 1

    r = await approve(api, auth(Role.HR_MANAGER, CHECKER), wf, total)
    assert r.status_code == 403 and r.json()["error"] == "not_approver", r.text  # her manager signs first
    r = await api.get("/inbox", headers=line(auth))
    assert r.status_code == 200, r.text
    inbox = r.json()["items"]
    assert [i["workflow_id"] for i in inbox] == [wf]  # an employee-role manager sees her report's approval
    r = await approve(api, line(auth), wf)
    assert r.status_code == 409 and r.json()["error"] == "confirmation_required"  # the figure is echoed at every step
    r = await approve(api, line(auth), wf, total)
    assert r.status_code == 200 and r.json()["stage"] == "submitted", r.text
    assert r.json()["approval"]["current"] == 1
    r = await approve(api, line(auth), wf, total)
    assert r.status_code == 403 and r.json()["error"] == "self_approval"  # one person signs once

    r = await approve(api, auth(Role.HR_MANAGER, CHECKER), wf, total)
    assert r.status_code == 200 and r.json()["stage"] == "submitted"  # countersign: finance has not signed
    r = await approve(api, auth(Role.HR_MANAGER, "mgr.qian"), wf, total)
    assert r.status_code == 403  # the hr_manager's place is signed; the head of finance's is not hers
    r = await approve(api, auth(Role.FINANCE, FINANCE_HEAD), wf, total)
    assert r.status_code == 200 and r.json()["stage"] == "approved" and r.json()["approver"] == FINANCE_HEAD, r.text
    steps = r.json()["approval"]["steps"]
    assert [s["signed_by"] for s in steps] == [[LINE], [CHECKER, FINANCE_HEAD]]
    with session_factory() as s:
        decided = list(s.execute(select(ApprovalTask.assignee, ApprovalTask.actor, ApprovalTask.decision)
                                 .where(ApprovalTask.workflow_id == wf).order_by(ApprovalTask.id)))
        assert [tuple(d) for d in decided] == [(LINE, LINE, "approved"), (None, CHECKER, "approved"),
                                               (FINANCE_HEAD, FINANCE_HEAD, "approved")]
        resolved = s.scalar(select(AuditEvent.after).where(AuditEvent.workflow_id == wf,
                                                           AuditEvent.action == "approval.route_resolved"))
        assert resolved["version"] == 1 and resolved["steps"][1]["signers"] == ["hr_manager", FINANCE_HEAD]
        assert verify_chain(s).ok
    await record_history(temporal_env.client, wf, "si_change", "approver_route_countersign")


async def test_an_enrollment_skips_the_countersign_and_a_later_version_leaves_it_alone(stack, auth, emp,
                                                                                      session_factory) -> None:
    api = stack
    await organisation(api, auth, session_factory, emp)
    wf = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": emp}))["workflow_id"]
    v = await waiting_for(api, auth, wf, 0)
    assert [s["name"] for s in v["approval"]["steps"]] == ["直属上级审批", "人事经理复核"]
    newer = route() | {"source": "新制度", "steps": [{"name": "总监审批", "approvers": [{"person": DIRECTOR}]}]}
    r = await api.post("/approval-routes/si_change.approve", json=newer, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 201 and r.json()["in_force"]["version"] == 2
    assert (await approve(api, line(auth), wf)).json()["approval"]["current"] == 1  # the pinned version 1 goes on
    r = await approve(api, auth(Role.HR_MANAGER, CHECKER), wf)
    assert r.status_code == 200 and r.json()["stage"] == "approved" and r.json()["approval"]["version"] == 1


async def test_transfer_add_sign_and_return_to_an_earlier_step(stack, auth, emp, session_factory) -> None:
    api = stack
    await organisation(api, auth, session_factory, emp)
    wf = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": emp}))["workflow_id"]
    await waiting_for(api, auth, wf, 0)

    r = await api.post(f"/si-changes/{wf}/transfer", json={"to_user": MAKER, "reason": "出差"}, headers=line(auth))
    assert r.status_code == 403 and r.json()["error"] == "self_approval"  # the maker never checks her own work
    r = await api.post(f"/si-changes/{wf}/transfer", json={"to_user": "nobody.here", "reason": "出差"}, headers=line(auth))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "to_user"
    r = await api.post(f"/si-changes/{wf}/transfer", json={"to_user": DEPUTY, "reason": "出差"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 403  # only the approver of the current step hands it on
    r = await api.post(f"/si-changes/{wf}/transfer", json={"to_user": DEPUTY, "reason": "出差，转周经理"}, headers=line(auth))
    assert r.status_code == 200 and r.json()["approval"]["steps"][0]["signers"][0]["user"] == DEPUTY, r.text
    assert (await approve(api, line(auth), wf)).status_code == 403  # it is no longer hers
    assert (await approve(api, auth(Role.HR_SPECIALIST, DEPUTY), wf)).json()["approval"]["current"] == 1

    r = await api.post(f"/si-changes/{wf}/add-signer", json={"to_user": FINANCE_HEAD, "order": "before",
                                                             "reason": "请财务先核对基数"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200, r.text
    steps = r.json()["approval"]["steps"]
    assert [s["signers"][0]["user"] for s in steps] == [DEPUTY, FINANCE_HEAD, None] and r.json()["approval"]["current"] == 1
    r = await approve(api, auth(Role.HR_MANAGER, CHECKER), wf)
    assert r.status_code == 403  # her task waits until the added signer has signed
    assert (await approve(api, auth(Role.FINANCE, FINANCE_HEAD), wf)).json()["approval"]["current"] == 2

    r = await api.post(f"/si-changes/{wf}/return", json={"step": 3, "reason": "x"}, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "step"  # only back, never to itself
    r = await api.post(f"/si-changes/{wf}/return", json={"step": 1, "reason": "基数与工资单不符，请重新审核"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200 and r.json()["approval"]["current"] == 0, r.text
    assert [s["signed_by"] for s in r.json()["approval"]["steps"]] == [[], [], []]  # every later signature is void
    assert (await approve(api, auth(Role.HR_SPECIALIST, DEPUTY), wf)).status_code == 200
    assert (await approve(api, auth(Role.FINANCE, FINANCE_HEAD), wf)).status_code == 200
    r = await approve(api, auth(Role.HR_MANAGER, CHECKER), wf)
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text
    with session_factory() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf)))
        assert {"approval.transferred", "approval.signer_added", "approval.returned"} <= actions
        returned = s.scalar(select(AuditEvent.after).where(AuditEvent.workflow_id == wf,
                                                           AuditEvent.action == "approval.returned"))
        assert returned["signatures_voided"] == [DEPUTY, FINANCE_HEAD]
        assert verify_chain(s).ok


async def test_a_delegation_that_ends_mid_case(stack, auth, emp, session_factory) -> None:
    """The line manager's deputy signs for her while the delegation is in force; once it ended,
    the same deputy is refused on the next step she would have signed, and the manager signs."""
    api = stack
    await organisation(api, auth, session_factory, emp)
    flipped = route() | {"steps": [{"name": "人事经理复核", "approvers": [{"role": "hr_manager"}]},
                                   {"name": "直属上级确认", "approvers": [{"line_manager": 1}]}]}
    assert (await api.post("/approval-routes/si_change.approve", json=flipped,
                           headers=auth(Role.HR_MANAGER, CHECKER))).status_code == 201
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    r = await api.post("/delegations", headers=auth(Role.ADMIN, ADMIN), json={
        "delegator": LINE, "delegate": DEPUTY, "ends_at": ends.isoformat(), "processes": ["si_change"], "reason": "休假"})
    assert r.status_code == 201, r.text
    add_employee(session_factory, "E-TWO", resident_id_number="110105199202024566")
    assert (await api.put("/employees/E-TWO/manager", json={"manager_id": "E-MGR", "effective_from": "2021-03-01"},
                          headers=auth(Role.HR_MANAGER, CHECKER))).status_code == 200
    first = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": emp}))["workflow_id"]
    second = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": "E-TWO"}))["workflow_id"]
    deputy_for_line = auth(Role.HR_SPECIALIST, DEPUTY) | {"X-On-Behalf-Of": LINE}
    for wf in (first, second):
        await waiting_for(api, auth, wf, 0)
        assert (await approve(api, auth(Role.HR_MANAGER, CHECKER), wf)).json()["approval"]["current"] == 1
    r = await approve(api, deputy_for_line, first)
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text

    with session_factory.begin() as s:  # the delegation's period is over (its end is in the past now)
        now = dt.datetime.now(dt.UTC)
        s.execute(update(Delegation).values(starts_at=now - dt.timedelta(hours=2), ends_at=now - dt.timedelta(seconds=1)))
    r = await approve(api, deputy_for_line, second)
    assert r.status_code == 403 and r.json()["error"] == "no_delegation", r.text
    assert (await approve(api, auth(Role.HR_SPECIALIST, DEPUTY), second)).status_code == 403  # as herself: not hers
    r = await approve(api, line(auth), second)
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text
    with session_factory() as s:
        signed = s.scalar(select(AuditEvent.on_behalf_of).where(AuditEvent.workflow_id == first,
                                                                AuditEvent.action == "task.approved",
                                                                AuditEvent.actor == DEPUTY))
        assert signed == LINE


async def test_a_manager_who_leaves_while_her_approval_is_pending(stack, auth, emp, session_factory,
                                                                 temporal_env) -> None:
    """Her manager's offboarding reaches its last day with her report's approval still waiting: the
    approval goes to his own manager, who signs it; the leaver can sign nothing any more."""
    from tests.processes import test_offboarding as offboarding
    from tests.processes.support import env_today, until

    api = stack
    await organisation(api, auth, session_factory, emp)
    add_employee(session_factory, offboarding.RECEIVER, resident_id_number="110101199001011237")
    wf = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": emp}))["workflow_id"]
    await waiting_for(api, auth, wf, 0)
    notice = await env_today(temporal_env)
    leaving = (await offboarding.start(api, auth, "E-MGR", notice, kind="probation_resignation"))["workflow_id"]
    await until(temporal_env, notice + dt.timedelta(days=4))
    await offboarding.wait_view(api, auth, leaving, lambda v: v["stage"] in ("departed", "closed", "completed"))

    async def handed_over() -> dict | None:
        v = await view(api, auth, wf)
        return v if v["approval"]["steps"][0]["signers"][0]["user"] == DIRECTOR else None
    v = await eventually(handed_over)
    assert "离职" in v["approval"]["steps"][0]["signers"][0]["label"]
    r = await approve(api, line(auth), wf)
    assert r.status_code == 401, r.text  # the leaver's login ended with her employment
    r = await approve(api, auth(Role.HR_MANAGER, DIRECTOR), wf)
    assert r.status_code == 200 and r.json()["approval"]["current"] == 1, r.text
    with session_factory() as s:
        reassigned = s.scalar(select(AuditEvent.after).where(AuditEvent.workflow_id == wf,
                                                             AuditEvent.action == "approval.reassigned"))
        assert reassigned["from"] == LINE and reassigned["to"] == DIRECTOR and reassigned["steps"] == ["直属上级审批"]
        assert verify_chain(s).ok


async def test_a_maternity_leave_goes_to_her_line_manager_then_to_hr(stack, auth, emp, session_factory,
                                                                      temporal_env) -> None:
    """The maternity application's own route: her line manager first, then HR when the leave is long;
    she may not sign it, her manager hands it on (转交) and HR sends it back (退回) once."""
    from tests.processes import test_maternity as maternity
    from tests.processes.support import env_today

    api = stack
    await organisation(api, auth, session_factory, emp)
    published = {"effective_from": dt.datetime.now(CHINA).date().isoformat(), "source": "《休假审批办法》第 5 条",
                 "steps": [{"name": "直属上级审批", "approvers": [{"line_manager": 1}]},
                           {"name": "人事审批", "approvers": [{"role": "hr_specialist"}],
                            "when": [{"field": "days", "op": "gt", "value": "100"}]}]}
    r = await api.post("/approval-routes/maternity.approve", json=published, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 201, r.text
    r = await api.post("/approval-routes/maternity.approve", headers=auth(Role.HR_MANAGER, CHECKER),
                       json=published | {"steps": [{"name": "x", "approvers": [{"role": "hr_manager"}],
                                                     "when": [{"field": "amount", "op": "gt", "value": "1"}]}]})
    assert r.status_code == 422, r.text  # a maternity case has no amount to route on

    due = await env_today(temporal_env) + dt.timedelta(days=20)
    wf = (await maternity.apply(api, auth, emp, due))["workflow_id"]

    async def current(step: int) -> dict:
        async def probe() -> dict | None:
            v = (await api.get(f"/maternity-leaves/{wf}", headers=auth(Role.HR_MANAGER, CHECKER))).json()
            return v if v.get("approval") and v["approval"]["current"] == step else None
        found: dict = await eventually(probe)
        return found

    v = await current(0)
    assert [s["name"] for s in v["approval"]["steps"]] == ["直属上级审批", "人事审批"]  # 158 days: HR signs too
    decide = f"/maternity-leaves/{wf}/approve"
    r = await api.post(decide, json={}, headers=auth(Role.EMPLOYEE, emp, emp))
    assert r.status_code == 403 and r.json()["error"] == "self_approval", r.text  # never her own leave
    r = await api.post(decide, json={}, headers=auth(Role.HR_SPECIALIST, maternity.HR))
    assert r.status_code == 403 and r.json()["error"] == "not_approver", r.text  # her manager signs first
    r = await api.post(f"/maternity-leaves/{wf}/approval/transfer", json={"to_user": DIRECTOR, "reason": "出差"},
                       headers=line(auth))
    assert r.status_code == 200 and r.json()["approval"]["steps"][0]["signers"][0]["user"] == DIRECTOR, r.text
    r = await api.post(decide, json={}, headers=auth(Role.HR_MANAGER, DIRECTOR))
    assert r.status_code == 200 and r.json()["stage"] == "applied" and r.json()["approval"]["current"] == 1, r.text

    r = await api.post(f"/maternity-leaves/{wf}/approval/return", json={"step": 1, "reason": "请上级再核对假期起止"},
                       headers=auth(Role.HR_SPECIALIST, maternity.HR))
    assert r.status_code == 200 and r.json()["approval"]["current"] == 0, r.text
    assert (await api.post(decide, json={}, headers=auth(Role.HR_MANAGER, DIRECTOR))).status_code == 200
    r = await api.post(decide, json={}, headers=auth(Role.HR_MANAGER, CHECKER))  # an hr_manager signs for HR too
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text
    assert [s["signed_by"] for s in r.json()["approval"]["steps"]] == [[DIRECTOR], [CHECKER]]
    with session_factory() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf)))
        assert actions.count("approval.route_resolved") == 1
        assert {"approval.transferred", "approval.returned"} <= set(actions)
        assert verify_chain(s).ok
    await record_history(temporal_env.client, wf, "maternity", "approver_route_line_manager")


async def test_a_termination_needs_her_manager_then_hr_and_compliance_together(stack, auth, emp, session_factory,
                                                                                temporal_env) -> None:
    """A departure's final approval runs the company's route once the other gates are done: her line
    manager (an employee) confirms, then a dismissal needs HR and compliance both (会签), while a
    resignation would need HR alone; she never signs her own."""
    from tests.processes import test_offboarding as offboarding
    from tests.processes.support import env_today, until

    api = stack
    await organisation(api, auth, session_factory, emp)
    add_employee(session_factory, offboarding.RECEIVER, resident_id_number="110101199001011237")
    published = {"effective_from": dt.datetime.now(CHINA).date().isoformat(), "source": "《员工离职管理办法》第 8 条",
                 "steps": [{"name": "直属上级确认", "approvers": [{"line_manager": 1}]},
                           {"name": "人事经理与合规会签", "mode": "all",
                            "approvers": [{"role": "hr_manager"}, {"role": "compliance"}],
                            "when": [{"field": "kind", "op": "eq", "value": "termination"}]},
                           {"name": "人事经理终审", "approvers": [{"role": "hr_manager"}],
                            "when": [{"field": "kind", "op": "ne", "value": "termination"}]}]}
    r = await api.post("/approval-routes/offboarding.final", json=published, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 201, r.text
    notice = await env_today(temporal_env)
    wf = (await offboarding.start(api, auth, emp, notice, kind="termination", ground="art_40_3",
                                  agreed_last_day=(notice + dt.timedelta(days=30)).isoformat(),
                                  economic_compensation="50000.00"))["workflow_id"]
    await offboarding.wait_view(api, auth, wf, lambda v: v["risk"])
    final = ("hr_final", "final", "approved")
    r = await offboarding.sign(api, auth, wf, Role.HR_MANAGER, CHECKER, *final)
    assert r.status_code == 409, r.text  # the other gates first: no route is open yet
    await offboarding.sign(api, auth, wf, Role.EMPLOYEE, offboarding.RECEIVER, "handover", "clients", "handed_over")
    r = await offboarding.sign(api, auth, wf, Role.IT, offboarding.IT, "it", "accounts", "revoked")
    assert r.status_code == 200 and r.json()["approval"]["current"] == 0, r.text
    assert [s["name"] for s in r.json()["approval"]["steps"]] == ["直属上级确认", "人事经理与合规会签"]
    r = await offboarding.sign(api, auth, wf, Role.HR_MANAGER, CHECKER, *final)
    assert r.status_code == 403 and r.json()["error"] == "not_approver", r.text
    body = {"gate": "hr_final", "item_key": "final", "outcome": "approved"}
    r = await api.post(f"/offboardings/{wf}/sign-off", json=body, headers=auth(Role.EMPLOYEE, emp, emp))
    assert r.status_code == 403 and r.json()["error"] == "self_approval", r.text
    r = await api.post(f"/offboardings/{wf}/sign-off", json=body, headers=line(auth))
    assert r.status_code == 200 and r.json()["approval"]["current"] == 1 and r.json()["gates"]["hr_final"] == "open"
    r = await offboarding.sign(api, auth, wf, Role.HR_MANAGER, CHECKER, *final)
    assert r.status_code == 200 and r.json()["gates"]["hr_final"] == "open", r.text  # compliance signs too
    r = await offboarding.sign(api, auth, wf, Role.COMPLIANCE, offboarding.COMPLIANCE, *final)
    assert r.status_code == 200 and r.json()["gates"]["hr_final"] == "done", r.text
    assert [s["signed_by"] for s in r.json()["approval"]["steps"]] == [[LINE], [CHECKER, offboarding.COMPLIANCE]]

    await until(temporal_env, notice + dt.timedelta(days=31))
    await offboarding.wait_view(api, auth, wf, lambda v: v["stage"] == "departed")
    for filing in ("labour_filing", "archive_and_insurance_transfer"):
        r = await api.post(f"/offboardings/{wf}/filings", json={"filing": filing, "reference": f"REF-{filing}"},
                           headers=auth(Role.HR_SPECIALIST, offboarding.HR))
        assert r.status_code == 200, r.text
    await offboarding.wait_view(api, auth, wf, lambda v: v["stage"] == "completed")
    with session_factory() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf)))
        assert actions.count("approval.route_resolved") == 1
        open_tasks = s.scalars(select(ApprovalTask.task_key).where(ApprovalTask.workflow_id == wf,
                                                                    ApprovalTask.status == "open")).all()
        assert open_tasks == []
        assert verify_chain(s).ok
    await record_history(temporal_env.client, wf, "offboarding", "final_approval_route")
