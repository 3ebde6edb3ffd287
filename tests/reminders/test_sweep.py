"""The daily sweep queues exactly the due reminders, once: a rerun the same day queues nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.reminders import ReminderActivities
from db.models import Notification
from db.reminders import SweepPolicy
from tests.processes.support import record_history
from tests.reminders.seed import DAY, EXPECTED_AT_NOW, NOW, seed
from workflows.reminder_sweep import ReminderSweepWorkflow, SweepRequest

BATCH = 2  # smaller than most categories: every category pages through its cursor


@pytest.fixture
async def sweep(temporal_env: WorkflowEnvironment, session_factory) -> AsyncIterator:
    queue = f"sweep-{uuid.uuid4().hex[:6]}"
    acts = ReminderActivities(session_factory, SweepPolicy(), batch_size=BATCH)
    async with Worker(temporal_env.client, task_queue=queue, workflows=[ReminderSweepWorkflow],
                      activities=acts.all(), activity_executor=ThreadPoolExecutor(4)):
        async def run(now=NOW, record: str | None = None):
            wf = f"reminder-sweep-{uuid.uuid4().hex[:6]}"
            result = await temporal_env.client.execute_workflow(
                ReminderSweepWorkflow.run, SweepRequest(now=now), id=wf, task_queue=queue)
            if record:
                await record_history(temporal_env.client, wf, "reminder_sweep", record)
            return result
        yield run


def _queued(session_factory) -> list[tuple[str, str, str, str]]:
    with session_factory() as s:
        rows = s.scalars(select(Notification)).all()
    return sorted((n.dedupe_key.split(":")[1], n.recipient_kind, n.recipient, n.template) for n in rows)


async def test_sweep_queues_each_due_reminder_once(sweep, session_factory) -> None:
    seed(session_factory)
    first = await sweep(record="paged_batches")
    assert _queued(session_factory) == EXPECTED_AT_NOW
    assert sum(first.queued.values()) == len(EXPECTED_AT_NOW)
    assert first.due == {"approval_overdue": 3, "maternity_return": 1, "departure_filing": 1,
                         "non_compete_proof": 1, "receivable_no_followup": 1, "transfer_step_overdue": 1,
                         "policy_lapse": 1}

    again = await sweep(NOW + dt.timedelta(hours=3))
    assert sum(again.queued.values()) == 0  # same day: nothing twice
    assert _queued(session_factory) == EXPECTED_AT_NOW


async def test_next_day_repeats_overdue_but_not_upcoming_reminders(sweep, session_factory) -> None:
    seed(session_factory)
    await sweep()
    next_day = await sweep(NOW + DAY)
    # overdue items are reminded daily; dates still ahead only once per date
    assert next_day.queued["maternity_return"] == 0
    assert next_day.queued["non_compete_proof"] == 0
    assert next_day.queued["departure_filing"] == 2
    assert next_day.queued["transfer_step_overdue"] == 1
    assert next_day.queued["receivable_no_followup"] == 1
    # t1 is now 2 days late: its level-1 reminder plus the level-2 escalation; t2 stays at the top
    # level (2); finance has one level only, so t3 stays there
    with session_factory() as s:
        day2 = s.scalars(select(Notification.recipient).where(
            Notification.template == "reminder.approval_overdue", Notification.created_at == NOW + DAY)).all()
    assert sorted(day2) == sorted(["hr_specialist", "hr_specialist/2", "hr.li", "hr_specialist/2", "finance"])


async def test_lapse_watch_gives_admins_one_task_per_missing_figure(sweep, session_factory) -> None:
    """Shanghai's base lapsed on 2026-06-30 and 2027's holiday arrangement is not published: HR
    admins get a by-hand task for each, on the standing policy-watch case, once however often the
    sweep runs; a city where nobody employed is insured any more is not watched."""
    from db.models import ApprovalTask, Case, Employee
    from db.reminders import POLICY_WATCH
    from tests.reminders.seed import employee

    seed(session_factory)
    with session_factory.begin() as s:
        employee(s, "SH1")
        s.get(Employee, "SH1").si_city = "Shanghai"
        employee(s, "GY1")
        gone = s.get(Employee, "GY1")
        gone.si_city, gone.employment_status = "Guiyang", "departed"
    first = await sweep(record="lapse_watch")
    again = await sweep(NOW + DAY)
    with session_factory() as s:
        watch = s.scalar(select(Case).where(Case.workflow_id == POLICY_WATCH))
        tasks = s.scalars(select(ApprovalTask).where(ApprovalTask.workflow_id == POLICY_WATCH)
                          .order_by(ApprovalTask.task_key)).all()
        told = s.scalars(select(Notification).where(Notification.template == "reminder.policy_lapse")).all()
    assert watch is not None and watch.employee_id is None and watch.kind == "policy_watch"
    assert [(t.task_key, t.role, t.by_hand, t.status) for t in tasks] == [
        ("lapse-contribution_base:shanghai:2026-07-01", "admin", True, "open"),
        ("lapse-holiday_arrangement:national:2027-01-01", "admin", True, "open")]
    assert "上海" in tasks[0].title and "2027" in tasks[1].title
    assert first.due["policy_lapse"] == 2 and first.queued["policy_lapse"] == 2
    # the next day both are still missing: the same gap keeps its key, so nothing new is opened
    assert again.queued["policy_lapse"] == 0
    assert len(told) == 2 and {n.recipient for n in told} == {"admin"}
