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


def test_a_persons_overdue_task_climbs_her_management_chain(session_factory) -> None:
    """hr.li is E1, who reports to E2, who reports to E3 (signed in as dir.e3): her task two days
    late reaches E2 (no login: as an employee), four days late E3's login, and later still the top."""
    from db import reminders
    from db.models import ApprovalTask, ManagerAssignment, StaffMember
    from tests.reminders.seed import case, employee, staff

    with session_factory.begin() as s:
        for emp in ("E1", "E2", "E3"):
            employee(s, emp)
        staff(s, "hr.li", "hr_specialist")
        staff(s, "dir.e3", "hr_manager")
        s.flush()
        s.get(StaffMember, "hr.li").employee_id = "E1"
        s.get(StaffMember, "dir.e3").employee_id = "E3"
        s.add_all([ManagerAssignment(employee_id="E1", manager_id="E2", effective_from=dt.date(2021, 3, 1)),
                   ManagerAssignment(employee_id="E2", manager_id="E3", effective_from=dt.date(2021, 3, 1))])
        case(s, "si-change-E9-1", "E1", "si_change")
        for key, late in (("on-time", 0), ("two-late", 2), ("four-late", 4), ("ten-late", 10)):
            s.add(ApprovalTask(workflow_id="si-change-E9-1", task_key=key, title=key, role="hr_specialist",
                               assignee="hr.li", status="open", due_at=NOW - late * DAY - dt.timedelta(hours=1),
                               created_at=NOW - 20 * DAY))
    with session_factory() as s:
        found = reminders.due(s, "approval_overdue", now=NOW, policy=SweepPolicy(), after=None, limit=10)
    by_title = {r.params["title"]: (r.recipients, r.params["level"]) for r in found}
    assert by_title == {
        "on-time": ([("user", "hr.li")], 1),
        "two-late": ([("user", "hr.li"), ("employee", "E2")], 2),
        "four-late": ([("user", "hr.li"), ("user", "dir.e3")], 3),
        "ten-late": ([("user", "hr.li"), ("user", "dir.e3")], 3),  # the top of her chain
    }
