"""MonthlyReportWorkflow: compute and store one month's risk and compliance report, then tell HR
managers and compliance it is ready, with its alerts.

Started by the monthly schedule (no month: the previous calendar month in China time) or by an HR
manager through the API (``monthly-report-{month}``). Rerunning a month replaces its figures, and
the notification is keyed by the month, not the run: HR hears of each month's report once.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contracts.outbox import REPORT_NOTIFY, Notify, Recipient
    from domain.contracts.report import COMPUTE_MONTH, Alert, ComputeMonth, MonthComputed
    from domain.refusals import Refusal
    from domain.roles import Role

from workflows import kernel

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TEMPLATE = "report.monthly_ready"
RECIPIENTS = [Recipient(kind="role", who=Role.HR_MANAGER), Recipient(kind="role", who=Role.COMPLIANCE)]

# The month's aggregation reads every employee and receivable once: allow minutes per attempt, and
# retry database outages with backoff for up to a day (the report is due monthly, not in seconds).
COMPUTE_STEP = kernel.StepOptions(
    start_to_close_timeout=timedelta(minutes=10),
    schedule_to_close_timeout=timedelta(hours=24),
    retry_policy=kernel.backoff(timedelta(seconds=5), timedelta(minutes=10), Refusal.BUSINESS_RULE_VIOLATION),
)
# Writing the notification is one small insert: the standard database step, bounded to a day.
NOTIFY_STEP = kernel.DB_STEP.within(timedelta(hours=24))


class MonthlyReportRequest(BaseModel):
    month: str | None = Field(default=None, description="YYYY-MM; default: the previous month, China time")


class MonthlyReportResult(BaseModel):
    month: str
    figures: int
    alerts: list[Alert]
    summary: str
    unchecked_cities: list[str] = Field(default_factory=list)


def previous_month(now: dt.datetime) -> str:
    """The calendar month before ``now``'s month in China time (UTC+8)."""
    first = now.astimezone(kernel.CHINA).date().replace(day=1)
    return f"{first - timedelta(days=1):%Y-%m}"


def workflow_id(month: str) -> str:
    return f"monthly-report-{month}"


def details(result: MonthComputed) -> str:
    """Markdown for the Temporal UI's current details."""
    lines = [f"**{result.month} 月报 Report**：{len(result.alerts)} 项预警 alert(s)，{result.figures} 个数字 figures"]
    lines += [f"- {a.message}" for a in result.alerts[:10]]
    if len(result.alerts) > 10:
        lines.append(f"- 另有 {len(result.alerts) - 10} 项 ({len(result.alerts) - 10} more)")
    if result.unchecked_cities:
        lines.append(f"目录中没有这些城市的数据 (not in the catalogue)：{'、'.join(result.unchecked_cities)}")
    return "\n".join(lines)


@workflow.defn(name="MonthlyReport")
class MonthlyReportWorkflow:
    @workflow.run
    async def run(self, req: MonthlyReportRequest) -> MonthlyReportResult:
        month = req.month or previous_month(workflow.now())
        if not _MONTH.match(month):
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"{month!r} is not a month written YYYY-MM")
        workflow.set_current_details(f"**Report {month}**: computing")
        result = await kernel.run(
            COMPUTE_MONTH, ComputeMonth(month=month, computed_at=workflow.now()),
            summary=f"compute the {month} report", options=COMPUTE_STEP)
        await kernel.run(
            REPORT_NOTIFY,
            Notify(workflow_id=workflow_id(month), step=f"report-{month}", recipients=RECIPIENTS,
                   template=TEMPLATE, at=workflow.now(),
                   params={"month": month, "alert_count": len(result.alerts),
                           "alerts": [a.model_dump(mode="json") for a in result.alerts]}),
            summary=f"tell HR and compliance: {len(result.alerts)} alert(s)", options=NOTIFY_STEP)
        workflow.set_current_details(details(result))
        return MonthlyReportResult(month=month, figures=result.figures, alerts=result.alerts,
                                   summary=result.summary, unchecked_cities=result.unchecked_cities)
