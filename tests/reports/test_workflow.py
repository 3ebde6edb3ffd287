"""MonthlyReport on the time-skipping server with the real activities and PostgreSQL: it stores the
month's report, tells HR managers and compliance once per month, shows its alerts in the UI's
current details, and takes the previous China-time month when none is given."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.outbox import NoticeActivities
from activities.report import ReportActivities
from db import report
from db.models import Notification
from db.report import ReportThresholds
from tests.processes.support import record_history
from workflows.monthly_report import MonthlyReportRequest, MonthlyReportWorkflow, previous_month


@pytest.fixture
async def worker(temporal_env: WorkflowEnvironment, settings, session_factory) -> AsyncIterator[list[str]]:
    """A worker for the report alone; yields a list the test adds its workflow ids to (terminated after)."""
    started: list[str] = []
    async with Worker(temporal_env.client, task_queue=settings.temporal_task_queue,
                      workflows=[MonthlyReportWorkflow],
                      activities=[*ReportActivities(session_factory, ReportThresholds()).all(), *NoticeActivities(session_factory).all()],
                      activity_executor=ThreadPoolExecutor(max_workers=4)):
        yield started
    for workflow_id in started:
        try:
            await temporal_env.client.get_workflow_handle(workflow_id).terminate("test finished")
        except RPCError:
            pass  # already closed


async def _run(env: WorkflowEnvironment, settings, started: list[str], req: MonthlyReportRequest):
    workflow_id = f"monthly-report-test-{uuid.uuid4().hex[:8]}"
    started.append(workflow_id)
    handle = await env.client.start_workflow(MonthlyReportWorkflow.run, req, id=workflow_id,
                                             task_queue=settings.temporal_task_queue)
    return handle, await handle.result()


async def test_stores_the_month_and_notifies_once(temporal_env, settings, session_factory, seeded, worker) -> None:
    handle, result = await _run(temporal_env, settings, worker, MonthlyReportRequest(month="2026-11"))
    assert (result.month, len(result.alerts), result.unchecked_cities) == ("2026-11", 9, ["Shanghai", "三沙"])
    with session_factory() as s:
        stored = report.load(s, "2026-11")
        notes = list(s.scalars(select(Notification).order_by(Notification.recipient)))
    assert stored is not None and stored.alerts == result.alerts
    assert [(n.recipient_kind, n.recipient, n.template, n.dedupe_key) for n in notes] == [
        ("role", "compliance", "report.monthly_ready", "monthly-report-2026-11:report-2026-11:role:compliance"),
        ("role", "hr_manager", "report.monthly_ready", "monthly-report-2026-11:report-2026-11:role:hr_manager")]
    params = notes[0].params
    assert (params["month"], params["alert_count"], len(params["alerts"])) == ("2026-11", 9, 9)
    assert params["alerts"][0]["metric"] == "maternity_return_attrition" and params["alerts"][0]["dimension"] == "销售部"
    await record_history(temporal_env.client, handle.id, "monthly_report", "seeded_november")
    metadata = await handle.query("__temporal_workflow_metadata")
    assert metadata.current_details.startswith("**2026-11 月报 Report**：9 项预警 alert(s)")
    assert "- 销售部：2 名产假返岗员工中 2 名在一年内离职" in metadata.current_details

    # A second run of the month (the schedule's, after a manual one) recomputes but does not notify again.
    _, again = await _run(temporal_env, settings, worker, MonthlyReportRequest(month="2026-11"))
    assert again.alerts == result.alerts
    with session_factory() as s:
        assert len(list(s.scalars(select(Notification)))) == 2


async def test_without_a_month_reports_the_previous_one(temporal_env, settings, session_factory, worker) -> None:
    expected = previous_month(await temporal_env.get_current_time())
    _, result = await _run(temporal_env, settings, worker, MonthlyReportRequest())
    assert result.month == expected and result.alerts == []
    with session_factory() as s:
        assert [r.month for r in report.runs(s)] == [expected]


async def test_a_malformed_month_fails_at_once(temporal_env, settings, worker) -> None:
    with pytest.raises(WorkflowFailureError) as err:
        await _run(temporal_env, settings, worker, MonthlyReportRequest(month="2026-13"))
    assert "is not a month written YYYY-MM" in str(err.value.cause)
