"""Schedules on the real dev server: sync is idempotent, keeps an operator's pause, and a
triggered sweep runs on the worker."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from temporalio.client import ScheduleOverlapPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.roles import Role
from hrflow import schedules
from tests.processes.support import eventually
from worker import build_worker

pytestmark = pytest.mark.devserver


@pytest.fixture
async def clean(dev_env: WorkflowEnvironment):
    yield dev_env.client
    for d in schedules.definitions():
        with contextlib.suppress(RPCError):  # not created by this test: nothing to delete
            await dev_env.client.get_schedule_handle(d.schedule_id).delete()


async def _ids(client) -> list[str]:
    return sorted([s.id async for s in await client.list_schedules()])


async def test_sync_twice_makes_one_of_each_and_keeps_a_pause(clean, settings) -> None:
    client = clean
    assert set((await schedules.sync(client, settings.temporal_task_queue)).values()) == {"created"}
    await client.get_schedule_handle("monthly-report").pause(note="paused by ops for the audit")
    assert set((await schedules.sync(client, settings.temporal_task_queue)).values()) == {"updated"}

    wanted = sorted(d.schedule_id for d in schedules.definitions())
    ids: list[str] = []
    for _ in range(50):  # the schedule list is eventually consistent
        ids = await _ids(client)
        if ids == wanted:
            break
        await asyncio.sleep(0.2)
    assert ids == wanted

    report = await client.get_schedule_handle("monthly-report").describe()
    assert report.schedule.state.paused and report.schedule.state.note == "paused by ops for the audit"
    assert report.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert report.schedule.policy.catchup_window.days == 3
    sweep = await client.get_schedule_handle("reminder-sweep").describe()
    assert not sweep.schedule.state.paused
    assert "reminder sweep" in sweep.schedule.state.note
    assert sweep.schedule.spec.time_zone_name == "Asia/Shanghai"


async def test_triggered_sweep_runs_on_the_worker_and_the_api_shows_it(clean, settings, session_factory, engine, codec,
                                                                       auth) -> None:
    client = clean
    await schedules.sync(client, settings.temporal_task_queue)
    await client.get_schedule_handle("monthly-report").pause(note="暂停：年度审计期间 (paused for the audit)")
    handle = client.get_schedule_handle("reminder-sweep")
    async with build_worker(client, settings, session_factory):
        await handle.trigger()

        async def finished() -> bool:
            info = (await handle.describe()).info
            return bool(info.recent_actions) and not info.running_actions
        await eventually(finished, timeout=30)
        run = (await handle.describe()).info.recent_actions[-1].action
        result = await client.get_workflow_handle(run.workflow_id, run_id=run.first_execution_run_id).result()
    assert set(result["due"]) == {"approval_overdue", "maternity_return", "departure_filing", "non_compete_proof",
                                  "receivable_no_followup", "transfer_step_overdue", "policy_lapse"}

    app = create_app(settings, engine=engine, temporal=client, codec=codec)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hrflow.test") as api:
        r = await api.get("/schedules", headers=auth(Role.ADMIN, "ops.zhou"))
        assert r.status_code == 200, r.text
        assert r.json()["runs_schedules"] and r.json()["note"] is None
        shown = {s["schedule_id"]: s for s in r.json()["items"]}
        assert sorted(shown) == ["audit-seal", "monthly-report", "reminder-sweep"]
        sweep, report = shown["reminder-sweep"], shown["monthly-report"]
        assert (sweep["paused"], report["paused"], report["note"]) == (False, True, "暂停：年度审计期间 (paused for the audit)")
        assert sweep["workflow"] == "ReminderSweep" and sweep["time_zone"] == "Asia/Shanghai"
        assert sweep["calendar"] == ["每天 08:30 (every day at 08:30)"] and len(sweep["next_runs"]) == 3
        [last] = sweep["recent_runs"]
        assert (last["workflow_id"], last["status"]) == (run.workflow_id, "completed")
        assert report["recent_runs"] == []
        for role in (Role.EMPLOYEE, Role.HR_SPECIALIST, Role.FINANCE):
            assert (await api.get("/schedules", headers=auth(role, "x", "E1"))).status_code == 403
