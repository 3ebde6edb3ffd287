"""The Temporal Schedules hrflow runs, and their idempotent sync.

``hrflow schedules sync`` (or the worker at start, with ``HRFLOW_SCHEDULES_SYNC_ON_START``) creates
each schedule that is missing and updates the spec and action of each that exists. It never touches
a schedule's paused state or its note: an operator who paused one in the Temporal UI (or with
``hrflow schedules pause``) keeps it paused across deploys. A run still going when the next is due
is skipped (overlap SKIP); runs missed while Temporal was down are caught up only within the
schedule's catch-up window, so a long outage does not end in a burst of stale sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Definition:
    schedule_id: str
    workflow: str  # the workflow type name
    summary: str  # each run's summary in the Temporal UI
    description: str  # the schedule's note on creation, and each run's details
    calendar: ScheduleCalendarSpec
    catchup_window: timedelta
    run_timeout: timedelta
    arg: Any = None


def definitions() -> list[Definition]:
    return [
        Definition(
            schedule_id="reminder-sweep",
            workflow="ReminderSweep",
            summary="每日提醒巡检 (Daily reminder sweep)",
            description="每日 08:30（北京时间）提醒巡检：逾期审批（逐级升级）、产假返岗、离职备案、竞业限制证明、"
                        "久未扣回的垫付款、超过法定时限的转移步骤"
                        " (Daily 08:30 (Asia/Shanghai) reminder sweep: overdue approvals (escalating by level),"
                        " maternity returns, departure filings, non-compete proofs, idle receivables,"
                        " transfer steps past their statutory limit)",
            calendar=ScheduleCalendarSpec(hour=[ScheduleRange(8)], minute=[ScheduleRange(30)],
                                          comment="每天 08:30 (every day at 08:30)"),
            catchup_window=timedelta(hours=12),
            run_timeout=timedelta(hours=4),
            arg={},
        ),
        Definition(
            schedule_id="monthly-report",
            workflow="MonthlyReport",
            summary="月度风险与合规报表 (Monthly risk and compliance report)",
            description="每月 1 日 06:00（北京时间）生成上月风险与合规月报：产假返岗后离职、未扣回的垫付、"
                        "离职未结清款项、应收账龄、超出上下限的缴费基数、扣款不符、转移统计"
                        " (Monthly risk and compliance report for the previous month, on the 1st at 06:00"
                        " (Asia/Shanghai): attrition after maternity return, undeducted advances, departed"
                        " employees with unsettled money, receivable ageing, bases outside the band,"
                        " deduction mismatches, transfer statistics)",
            calendar=ScheduleCalendarSpec(day_of_month=[ScheduleRange(1)], hour=[ScheduleRange(6)],
                                          minute=[ScheduleRange(0)], comment="每月 1 日 06:00 (the 1st of each month at 06:00)"),
            catchup_window=timedelta(days=3),
            run_timeout=timedelta(hours=2),
            arg={},
        ),
        Definition(
            schedule_id="audit-seal",
            workflow="AuditSeal",
            summary="审计链封存 (Audit chain seal)",
            description="每 5 分钟把有新记录的各案件审计哈希链的链头封存进全局封存链；没有新记录时不写入。"
                        "校验：hrflow audit verify (Every 5 minutes, fold the head of each case's audit hash chain"
                        " that moved into the global chain of seals; nothing is written when nothing moved."
                        " Verify with hrflow audit verify)",
            calendar=ScheduleCalendarSpec(hour=[ScheduleRange(0, 23)], minute=[ScheduleRange(0, 59, 5)],
                                          comment="每 5 分钟 (every 5 minutes)"),
            catchup_window=timedelta(minutes=10),  # the next run seals what a missed one would have
            run_timeout=timedelta(minutes=30),
            arg={},
        ),
    ]


def _schedule(d: Definition, task_queue: str, *, state: ScheduleState | None = None) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            d.workflow, d.arg, id=d.schedule_id, task_queue=task_queue, run_timeout=d.run_timeout,
            static_summary=d.summary, static_details=d.description),
        spec=ScheduleSpec(calendars=[d.calendar], time_zone_name=TIME_ZONE),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=d.catchup_window),
        state=state or ScheduleState(note=d.description),
    )


async def sync(client: Client, task_queue: str) -> dict[str, str]:
    """Create what is missing, update what exists; returns {schedule id: "created" | "updated"}."""
    done: dict[str, str] = {}
    for d in definitions():
        try:
            await client.create_schedule(d.schedule_id, _schedule(d, task_queue))
            done[d.schedule_id] = "created"
            continue
        except ScheduleAlreadyRunningError:
            pass

        def keep_state(current: ScheduleUpdateInput, d: Definition = d) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=_schedule(d, task_queue, state=current.description.schedule.state))

        await client.get_schedule_handle(d.schedule_id).update(keep_state)
        done[d.schedule_id] = "updated"
    return done


def known(schedule_id: str) -> Definition:
    for d in definitions():
        if d.schedule_id == schedule_id:
            return d
    raise KeyError(f"no schedule {schedule_id!r}; known: {', '.join(d.schedule_id for d in definitions())}")


async def describe_all(client: Client) -> list[dict[str, Any]]:
    rows = []
    for d in definitions():
        try:
            desc = await client.get_schedule_handle(d.schedule_id).describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            rows.append({"id": d.schedule_id, "exists": False})
            continue
        info = desc.info
        rows.append({
            "id": d.schedule_id, "exists": True, "paused": desc.schedule.state.paused,
            "note": desc.schedule.state.note,
            "next": [t.isoformat() for t in info.next_action_times[:3]],
            "recent": [a.started_at.isoformat() for a in info.recent_actions[-3:]],
            "running": [w.workflow_id for w in info.running_actions
                        if isinstance(w, ScheduleActionExecutionStartWorkflow)],  # the only kind there is
        })
    return rows
