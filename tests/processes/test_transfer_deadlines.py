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
