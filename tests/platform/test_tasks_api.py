"""Closing work done by hand: by its owner, with a note, once; a process's own task stays with it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from db.models import ApprovalTask, AuditEvent, Case
from domain.roles import Role
from tests.processes.support import add_employee

NOW = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


def _seed(session_factory, *, case_status: str) -> dict[str, int]:
    add_employee(session_factory, "E2001")
    with session_factory.begin() as s:
        s.add(Case(workflow_id="transfer-E2001-1", kind="transfer", employee_id="E2001", stage="in_progress",
                   status=case_status, opened_at=NOW))
        s.flush()
        rows = {key: ApprovalTask(workflow_id="transfer-E2001-1", task_key=key, title=key, role="hr_specialist",
                                  created_at=NOW, by_hand=key.startswith("manual"))
                for key in ("manual-enrollment-x1", "review-x2")}
        s.add_all(rows.values())
        s.flush()
        return {k: r.id for k, r in rows.items()}


async def test_by_hand_work_is_closed_by_its_owner_with_a_note(api, auth, session_factory) -> None:
    ids = _seed(session_factory, case_status="open")
    hr = auth(Role.HR_SPECIALIST, "hr.li")
    r = await api.post(f"/tasks/{ids['manual-enrollment-x1']}/done", json={"note": ""}, headers=hr)
    assert r.status_code == 422  # a note says what was done
    r = await api.post(f"/tasks/{ids['manual-enrollment-x1']}/done", json={"note": "moved at the counter"},
                       headers=auth(Role.FINANCE, "fin.zhao"))
    assert r.status_code == 403  # not finance's task
    r = await api.post(f"/tasks/{ids['manual-enrollment-x1']}/done", json={"note": "moved at the counter, 受理号 A1"},
                       headers=hr)
    assert r.status_code == 200 and r.json()["status"] == "decided" and r.json()["reason"].endswith("A1"), r.text
    again = await api.post(f"/tasks/{ids['manual-enrollment-x1']}/done", json={"note": "twice"}, headers=hr)
    assert again.status_code == 409 and again.json()["error"] == "task_closed"
    # The review belongs to the running process: decided there, not here.
    r = await api.post(f"/tasks/{ids['review-x2']}/done", json={"note": "looked at it"}, headers=hr)
    assert r.status_code == 409 and r.json()["error"] == "decided_in_its_case"
    assert (await api.post("/tasks/999999/done", json={"note": "x"}, headers=hr)).status_code == 404
    with session_factory() as s:
        assert s.scalar(select(AuditEvent.actor).where(AuditEvent.action == "task.done_by_hand")) == "hr.li"


async def test_a_task_its_ended_case_left_open_is_closed_by_its_owner(api, auth, session_factory) -> None:
    ids = _seed(session_factory, case_status="completed")
    r = await api.post(f"/tasks/{ids['review-x2']}/done", json={"note": "nothing left to review"},
                       headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 200, r.text


async def test_the_subject_of_the_case_does_not_close_its_work(api, auth, session_factory) -> None:
    ids = _seed(session_factory, case_status="open")
    r = await api.put("/staff/hr.zhang", json={"display_name": "张", "role": "hr_specialist", "employee_id": "E2001"},
                      headers=auth(Role.ADMIN, "ops.zhou"))
    assert r.status_code == 200 and r.json()["employee_id"] == "E2001", r.text
    r = await api.post(f"/tasks/{ids['manual-enrollment-x1']}/done", json={"note": "my own move, done"},
                       headers=auth(Role.HR_SPECIALIST, "hr.zhang"))  # her token names no employee: the directory does
    assert r.status_code == 403 and r.json()["error"] == "self_approval", r.text
    with session_factory() as s:
        assert s.get(ApprovalTask, ids["manual-enrollment-x1"]).status == "open"
