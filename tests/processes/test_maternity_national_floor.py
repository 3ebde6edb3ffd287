"""A province whose maternity rule is not in the catalogue: national law is the floor, and HR is
given the provincial extension to confirm, never a silent guess."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from db.models import ApprovalTask
from domain.roles import Role
from tests.processes.support import add_employee, env_today, record_history


async def test_hebei_leave_counts_national_days_and_asks_hr_to_confirm_the_extension(
        stack, auth, temporal_env, session_factory) -> None:
    add_employee(session_factory, "HB1", resident_id_number="130102199001011234", province="河北",
                 city="石家庄")
    due = await env_today(temporal_env) + dt.timedelta(days=30)
    r = await stack.post("/maternity-leaves", json={"employee_id": "HB1", "expected_delivery_date": due.isoformat(),
                                                    "company_pays_salary": False},
                         headers=auth(Role.EMPLOYEE, "HB1"))
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["total_days"] == 98  # national law alone: no Hebei extension is encoded
    wf = started["workflow_id"]
    with session_factory() as s:
        tasks = {t.task_key.rsplit("-", 1)[0]: t for t in s.scalars(
            select(ApprovalTask).where(ApprovalTask.workflow_id == wf))}
    confirm = tasks["confirm-provincial-extension"]
    assert (confirm.role, confirm.by_hand, confirm.status) == ("hr_specialist", True, "open")
    assert "98" in confirm.title and "确认" in confirm.title
    # approving the leave does not close HR's confirmation: that is done by hand, with the notice
    r = await stack.post(f"/maternity-leaves/{wf}/approve", json={}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 200, r.text
    with session_factory() as s:
        assert s.get(ApprovalTask, confirm.id).status == "open"
    await record_history(temporal_env.client, wf, "maternity", "national_floor_hebei")
