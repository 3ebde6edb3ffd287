"""A transfer step past its statutory limit across the National Day holiday. Its own module: it
moves workflow time almost a year ahead on a time-skipping server of its own."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from db.models import ApprovalTask
from domain import workdays
from domain.roles import Role
from tests.processes.support import eventually, record_history, until
from tests.processes.test_transfer import GUIYANG_TO_HARBIN, HR, MANAGER, apply, required, upload_all, wait_view


async def test_step_past_its_limit_across_national_day(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    approve_day = dt.date(2027, 9, 24)  # a Friday before the National Day week
    await until(temporal_env, approve_day - dt.timedelta(days=2))
    wf = (await apply(api, auth, emp, GUIYANG_TO_HARBIN | {"types": ["pension"]}))["workflow_id"]
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "collecting_materials")
    await upload_all(api, auth, emp, wf, required(v), session_factory)
    await wait_view(api, auth, wf, lambda v: v["stage"] == "awaiting_review")
    await until(temporal_env, approve_day, hour=10)
    await api.post(f"/transfers/{wf}/review", json={"approve": True}, headers=auth(Role.HR_SPECIALIST, HR))
    v = await wait_view(api, auth, wf, lambda v: v["branches"][0]["status"] == "transferring")
    step = v["branches"][0]["steps"][0]
    expected = workdays.add_working_days(approve_day, step["limit_working_days"]).date
    assert dt.date.fromisoformat(step["due"]) == expected
    assert (expected - approve_day).days > 21  # the holiday week does not count
    later = v["branches"][0]["steps"][1]  # not started: projected at its full limit after the first
    assert dt.date.fromisoformat(later["expected"]) == workdays.add_working_days(expected, later["limit_working_days"]).date
    await until(temporal_env, expected, hour=12)
    with session_factory() as s:  # on the due day itself: not yet overdue
        assert s.scalar(select(ApprovalTask).where(ApprovalTask.task_key.like("overdue-%"))) is None
    await until(temporal_env, expected + dt.timedelta(days=1))

    async def escalated() -> bool:
        inbox = (await api.get("/inbox", headers=auth(Role.HR_MANAGER, MANAGER))).json()["items"]
        return any(i["task_key"].startswith("overdue-pension") for i in inbox)
    await eventually(escalated)
    await record_history(temporal_env.client, wf, "transfer", "step_overdue_national_day")


def _walk(start: dt.date, working_days: int) -> dt.date:
    """N working days after ``start``, counted a day at a time on the calendar as it stands."""
    day, left = start, working_days
    while left:
        day += dt.timedelta(days=1)
        left -= workdays.is_working_day(day)
    return day


async def test_a_running_step_is_replanned_when_an_arrangement_is_approved(stack, auth, emp, temporal_env,
                                                                           session_factory) -> None:
    """Admins approve a holiday arrangement with days off inside a step's limit: the running step's
    due date is planned again from the day it started, and the case shows where it was before."""
    api = stack
    wf = (await apply(api, auth, emp, GUIYANG_TO_HARBIN | {"types": ["pension"]}))["workflow_id"]
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "collecting_materials")
    await upload_all(api, auth, emp, wf, required(v), session_factory)
    await wait_view(api, auth, wf, lambda v: v["stage"] == "awaiting_review")
    await api.post(f"/transfers/{wf}/review", json={"approve": True}, headers=auth(Role.HR_SPECIALIST, HR))
    v = await wait_view(api, auth, wf, lambda v: v["branches"][0]["status"] == "transferring")
    step = v["branches"][0]["steps"][0]
    started, due = dt.date.fromisoformat(step["started_on"]), dt.date.fromisoformat(step["due"])
    inside = [started + dt.timedelta(days=i) for i in range(1, (due - started).days + 1)]
    extra = [d for d in inside if d.year == due.year and workdays.is_working_day(d)][:3]
    assert len(extra) == 3
    # the year's statutory holidays and the weekdays the package gives off stay off; three more are added
    kept = {d for d in inside if d.year == due.year and d.weekday() < 5 and not workdays.is_working_day(d)}
    days_off = sorted({*extra, *kept, *workdays.statutory_holidays(due.year)})
    body = {"kind": "holiday_arrangement",
            "source": {"name": "国务院办公厅关于部分节假日安排的通知（测试用）", "document_number": "国办发明电〔测试〕2号"},
            "figures": {"year": due.year, "days_off": [d.isoformat() for d in days_off]}}
    entered = await api.post("/policy/notices", json=body, headers=auth(Role.ADMIN, "admin.one"))
    assert entered.status_code == 201, entered.text
    approved = await api.post(f"/policy/notices/{entered.json()['id']}/approve", headers=auth(Role.ADMIN, "admin.two"))
    assert approved.status_code == 200 and approved.json()["cases_replanned"] >= 1, approved.text
    v = await wait_view(api, auth, wf, lambda v: v["branches"][0]["steps"][0]["due"] != due.isoformat())
    step = v["branches"][0]["steps"][0]
    assert dt.date.fromisoformat(step["due"]) == _walk(started, step["limit_working_days"]) > due
    assert step["replanned_from"] == due.isoformat()
    await record_history(temporal_env.client, wf, "transfer", "step_replanned")
