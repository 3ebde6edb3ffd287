"""``GET /schedules``: the Temporal Schedules hrflow runs (reminder sweep, monthly report), as an
operator checks them: paused or not, the next runs, the last runs and how each ended.

Read from Temporal itself (listing and describing the namespace's schedules), so the answer is
what will run, not what the code means to run; ``hrflow schedules sync`` is what creates them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal, require
from api.deps import TemporalDep
from api.errors import responses
from api.i18n import Text, language
from api.routes import resource_router
from domain.roles import Role

router = resource_router(tags=["schedules"])
Operator = Annotated[Principal, Depends(require(Role.ADMIN, Role.HR_MANAGER))]
RECENT = 5
UNSUPPORTED = Text("此 Temporal 服务不运行定时任务（如时间跳跃测试服务器），提醒巡检和月报不会自动运行",
                   "this Temporal service runs no schedules (as the time-skipping test server): the sweep and the"
                   " report do not run by themselves")


class Run(BaseModel):
    workflow_id: str
    scheduled_at: dt.datetime
    started_at: dt.datetime
    status: str  # running, completed, failed, timed_out, terminated, cancelled, ... (Temporal's own)


class ScheduleOut(BaseModel):
    """One schedule as Temporal has it."""

    schedule_id: str
    workflow: str
    note: str
    paused: bool
    calendar: list[str]
    time_zone: str | None
    next_runs: list[dt.datetime]
    recent_runs: list[Run]


class Schedules(BaseModel):
    runs_schedules: bool  # False on a Temporal service without schedules (the time-skipping test server)
    note: str | None  # why there are none, when there are none
    items: list[ScheduleOut]


async def _run_status(client: Client, workflow_id: str, run_id: str) -> str:
    try:
        described = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # past the namespace's retention
            return "expired"
        raise
    return described.status.name.lower() if described.status is not None else "unknown"


@router.get("/schedules", response_model=Schedules, responses=responses(401, 403),
            summary="定时任务状态 (The schedules and their runs)")
async def list_schedules(request: Request, temporal: TemporalDep, _: Operator) -> Schedules:
    """Temporal 中 hrflow 的定时任务（每日提醒巡检、月度报表）：是否暂停、日程、下几次运行时间、最近几次运行及其结果。
    直接读取 Temporal，所以答复的是实际会运行的内容；定时任务由 `hrflow schedules sync` 创建。Temporal 服务不运行定时任务
    （时间跳跃测试服务器）时 runs_schedules 为 false，note 说明原因。管理员和人事经理可调用。

    hrflow's Temporal Schedules (the daily reminder sweep, the monthly report): paused or not, the
    calendar, the next run times, the last runs and how each ended. Read from Temporal itself, so
    the answer is what will run; ``hrflow schedules sync`` creates them. On a Temporal service that
    runs no schedules (the time-skipping test server) ``runs_schedules`` is false and ``note`` says
    so. Admins and HR managers."""
    out: list[ScheduleOut] = []
    try:
        listed = [s async for s in await temporal.list_schedules()]
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        return Schedules(runs_schedules=False, note=UNSUPPORTED.said(language(request)), items=[])
    for entry in sorted(listed, key=lambda s: s.id):
        described = await temporal.get_schedule_handle(entry.id).describe()
        schedule, info = described.schedule, described.info
        action = schedule.action
        runs = []
        for a in info.recent_actions[-RECENT:]:
            if isinstance(a.action, ScheduleActionExecutionStartWorkflow):  # the only kind hrflow starts
                runs.append(Run(workflow_id=a.action.workflow_id, scheduled_at=a.scheduled_at, started_at=a.started_at,
                                status=await _run_status(temporal, a.action.workflow_id, a.action.first_execution_run_id)))
        out.append(ScheduleOut(
            schedule_id=entry.id, workflow=getattr(action, "workflow", ""), note=schedule.state.note or "",
            paused=schedule.state.paused,
            calendar=[c.comment or str(c) for c in schedule.spec.calendars],
            time_zone=schedule.spec.time_zone_name,
            next_runs=list(info.next_action_times[:3]), recent_runs=list(reversed(runs))))
    return Schedules(runs_schedules=True, note=None, items=out)
