"""Her notice of resignation in self-service, on the time-skipping server and real PostgreSQL.

The notice is dated the day she gives it and HR's departure must rest on that date; the departure,
once open, takes the notice up through the employment event every case of hers hears; before that
she alone may take it back.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from api import plausibility
from db.models import ApprovalTask, Case, Notification
from domain.roles import Role
from tests.processes import support
from tests.processes.support import record_history
from tests.processes.test_offboarding import start as start_offboarding

HR = "hr.li"
ROUTES = support.CaseRoutes("/resignations", Role.HR_SPECIALIST, HR)


def _her(auth, emp: str) -> dict[str, str]:
    return auth(Role.EMPLOYEE, emp, emp)


def _tasks(session_factory, wf: str) -> list[tuple[str, str, str | None]]:
    with session_factory() as s:
        return [(t.role, t.status, t.decision) for t in s.scalars(
            select(ApprovalTask).where(ApprovalTask.workflow_id == wf).order_by(ApprovalTask.id))]


async def test_her_notice_reaches_hr_and_her_departure_takes_it_up(stack, auth, emp, temporal_env,
                                                                   session_factory) -> None:
    today = plausibility.today()
    wished = today + dt.timedelta(days=30)
    r = await stack.post("/resignations", json={"wished_last_day": wished.isoformat(), "reason": "回老家发展"},
                         headers=_her(auth, emp))
    assert r.status_code == 201, r.text
    notice = r.json()
    wf = notice["workflow_id"]
    assert (wf, notice["stage"], notice["notice_date"], notice["wished_last_day"]) == (
        f"resignation-{emp}-{today}", "notice_given", today.isoformat(), wished.isoformat())
    assert _tasks(session_factory, wf) == [("hr_specialist", "open", None)]
    with session_factory() as s:
        task = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == wf))
        assert task.due_at is not None and task.due_at.astimezone(plausibility.CHINA).date() == today + dt.timedelta(days=2)
        told = list(s.scalars(select(Notification.template).where(Notification.workflow_id == wf)
                              .order_by(Notification.id)))
    assert told == ["task.opened", "resignation.received"]  # HR hears of the task, she of the receipt

    again = await stack.post("/resignations", json={}, headers=_her(auth, emp))
    assert again.status_code == 409 and again.json()["error"] == "already_leaving", again.text

    later = await stack.post("/offboardings", json={
        "employee_id": emp, "kind": "resignation", "notice_date": (today + dt.timedelta(days=3)).isoformat(),
        "monthly_wage": "10000.00", "minimum_wage": "2540.00",
        "handover": [{"key": "clients", "title": "客户档案", "receiver": "E0042"}]}, headers=auth(Role.HR_SPECIALIST, HR))
    assert later.status_code == 422, later.text
    assert [(d["field"], d["rule"]) for d in later.json()["detail"]] == [("notice_date", "matches_her_notice")]

    departure = await start_offboarding(stack, auth, emp, today, agreed_last_day=wished.isoformat())
    done = await temporal_env.client.get_workflow_handle(wf).result()  # the case closes by itself
    assert (done["stage"], done["offboarding_id"], done["closed"]) == ("taken_up", departure["workflow_id"], True)
    assert (await ROUTES.view(stack, auth, wf))["stage"] == "taken_up"
    assert _tasks(session_factory, wf) == [("hr_specialist", "decided", "done")]
    with session_factory() as s:
        case = s.scalar(select(Case).where(Case.workflow_id == wf))
        assert (case.stage, case.status) == ("taken_up", "completed")
    late = await stack.post(f"/resignations/{wf}/withdraw", json={}, headers=_her(auth, emp))
    assert late.status_code == 409, late.text  # now her departure's to withdraw, decided by a manager
    await record_history(temporal_env.client, wf, "resignation", "taken_up_by_her_departure")


async def test_she_alone_takes_it_back_before_hr_acts(stack, auth, emp, temporal_env, session_factory) -> None:
    r = await stack.post("/resignations", json={}, headers=_her(auth, emp))
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    for who in (auth(Role.HR_SPECIALIST, HR), auth(Role.EMPLOYEE, "E0042", "E0042")):
        refused = await stack.post(f"/resignations/{wf}/withdraw", json={}, headers=who)
        assert refused.status_code in (403, 404), refused.text
    back = await stack.post(f"/resignations/{wf}/withdraw", json={"reason": "与部门沟通后决定留任"}, headers=_her(auth, emp))
    assert back.status_code == 200 and back.json()["stage"] == "withdrawn", back.text
    assert (await temporal_env.client.get_workflow_handle(wf).result())["stage"] == "withdrawn"
    assert _tasks(session_factory, wf) == [("hr_specialist", "cancelled", "cancelled")]
    with session_factory() as s:
        assert s.scalar(select(Case.status).where(Case.workflow_id == wf)) == "withdrawn"
        told = list(s.scalars(select(Notification.template).where(Notification.workflow_id == wf)
                              .order_by(Notification.id)))
    assert [t for t in told if t.startswith("resignation.")] == ["resignation.received", "resignation.withdrawn"]
    assert "task.cancelled" in told  # HR hears the task went away, and why
    await record_history(temporal_env.client, wf, "resignation", "withdrawn_by_her")


async def test_only_she_gives_her_notice_and_never_for_a_past_day(stack, auth, emp) -> None:
    for role in (Role.HR_SPECIALIST, Role.HR_MANAGER, Role.FINANCE):
        assert (await stack.post("/resignations", json={}, headers=auth(role, HR))).status_code == 403
    past = await stack.post("/resignations", json={"wished_last_day": "2020-01-01"}, headers=_her(auth, emp))
    assert past.status_code == 422 and past.json()["detail"][0]["field"] == "wished_last_day", past.text
    assert (await stack.post("/resignations", json={"notice_date": "2020-01-01"}, headers=_her(auth, emp))
            ).status_code == 422  # the date is today's, never hers to choose
