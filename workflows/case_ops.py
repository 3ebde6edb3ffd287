"""Workflow-side calls to the case activities, with the project's standard timeouts and retries.

Every process workflow records its case, stages, tasks and audit entries through these, so each
case shows up the same way in the database, the inbox, the audit trail and the Temporal UI.
Call only from workflow code.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.cases import (
        Actor,
        CaseActivities,
        ChangeStage,
        CloseTask,
        OpenCase,
        OpenTask,
        RecordAudit,
        TrackDeadline,
    )

from workflows import search_attributes as sa

# Database steps: quick (30 s per attempt), retried with backoff up to every 5 minutes for as long
# as it takes: a PostgreSQL outage must not fail a months-long case. Errors no retry can fix are
# non-retryable ``BusinessRuleViolation``s (activities.unit) and fail at once.
DB_STEP = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=5),
        non_retryable_error_types=["BusinessRuleViolation"],
    ),
)

SYSTEM = Actor()


def now() -> dt.datetime:
    return workflow.now()


async def open_case(
    *, kind: str, employee_id: str, stage: str, summary: str, province: str = "",
    department: str = "", policy_version: str | None = None, actor: Actor = SYSTEM,
    details: dict[str, Any] | None = None,
) -> None:
    """Record the case and make it findable: search attributes and current details."""
    info = workflow.info()
    updates = [sa.EMPLOYEE_ID.value_set(employee_id), sa.CASE_KIND.value_set(kind),
               sa.CASE_STAGE.value_set(stage)]
    if province:
        updates.append(sa.PROVINCE.value_set(province))
    if department:
        updates.append(sa.DEPARTMENT.value_set(department))
    workflow.upsert_search_attributes(updates)
    workflow.set_current_details(f"**{kind}** for {employee_id}: {stage}")
    await workflow.execute_activity_method(
        CaseActivities.open_case,
        OpenCase(workflow_id=info.workflow_id, kind=kind, employee_id=employee_id, stage=stage,
                 summary=summary, policy_version=policy_version, opened_at=now(), actor=actor,
                 details=details or {}),
        summary=f"open case {kind} for {employee_id}",
        **DB_STEP,
    )


def set_visible_stage(stage: str, details: str) -> None:
    """What the Temporal UI shows: the CaseStage search attribute and the current details."""
    workflow.upsert_search_attributes([sa.CASE_STAGE.value_set(stage)])
    workflow.set_current_details(details)


async def change_stage(
    step: str, stage: str, *, status: str | None = None, next_due_at: dt.datetime | None = None,
    actor: Actor = SYSTEM, details: dict[str, Any] | None = None, current_details: str | None = None,
) -> None:
    """Move the case to ``stage`` (``status`` when it ends); ``step`` is unique within the case."""
    set_visible_stage(stage, current_details or f"stage: {stage}")
    await workflow.execute_activity_method(
        CaseActivities.change_stage,
        ChangeStage(workflow_id=workflow.info().workflow_id, step=step, stage=stage, status=status,
                    at=now(), next_due_at=next_due_at, actor=actor, details=details or {}),
        summary=f"stage -> {stage}",
        **DB_STEP,
    )


async def open_task(task_key: str, title: str, role: str, *, assignee: str | None = None,
                    due_at: dt.datetime | None = None) -> None:
    await workflow.execute_activity_method(
        CaseActivities.open_task,
        OpenTask(workflow_id=workflow.info().workflow_id, task_key=task_key, title=title,
                 role=role, assignee=assignee, due_at=due_at, at=now()),
        summary=f"task for {role}: {title}",
        **DB_STEP,
    )


async def close_task(task_key: str, decision: str, *, actor: Actor = SYSTEM,
                     reason: str | None = None) -> None:
    await workflow.execute_activity_method(
        CaseActivities.close_task,
        CloseTask(workflow_id=workflow.info().workflow_id, task_key=task_key, decision=decision,
                  reason=reason, at=now(), actor=actor),
        summary=f"task {task_key}: {decision}",
        **DB_STEP,
    )


async def audit(step: str, action: str, *, actor: Actor = SYSTEM, subject: str | None = None,
                before: Any = None, after: Any = None) -> None:
    await workflow.execute_activity_method(
        CaseActivities.record_audit,
        RecordAudit(workflow_id=workflow.info().workflow_id, step=step, action=action, at=now(),
                    subject=subject, before=before, after=after, actor=actor),
        summary=action,
        **DB_STEP,
    )


# Patch id under which the processes record their dated obligations for the reminder sweep.
TRACK_DEADLINES = "track-deadlines"

# Patch id under which every message waits for the case's start-up. The first workflow task hands
# the workflow its messages before its main method runs: an approval sent right after the start
# was applied to a case that was not open yet, and the start-up then overwrote it.
MESSAGES_AFTER_OPEN = "messages-after-open"


# Patch id under which recoveries of her receivables are claims in the ledger (db.ledger.claim):
# final pay takes what is open on its own day, and the owning case reads its balance again.
LEDGER_CLAIMS = "ledger-claims"


class OpensCase(Protocol):
    case_open: bool  # True once the case row, its first stage and first tasks are recorded


async def wait_until_open(case: OpensCase, check: Callable[[], None] | None = None) -> None:
    """First line of every update and signal handler. Validators cannot wait: before the case is
    open they let the message in, and ``check`` (the validator's rule) refuses it here, once the
    case is open, if it must. Cases recorded before the patch never waited, and do not."""
    if workflow.patched(MESSAGES_AFTER_OPEN):
        await workflow.wait_condition(lambda: case.case_open)
        if check is not None:
            check()


async def track_deadline(kind: str, employee_id: str, due_at: dt.datetime, *, ref: str = "main",
                         status: str = "open", details: dict[str, Any] | None = None) -> None:
    """Tell the reminder sweep about a date this case must meet (or that it was met). Only behind
    ``workflow.patched(TRACK_DEADLINES)``: cases recorded before it do not make this call."""
    await workflow.execute_activity_method(
        CaseActivities.track_deadline,
        TrackDeadline(workflow_id=workflow.info().workflow_id, kind=kind, ref=ref, employee_id=employee_id,
                      due_at=due_at, status=status, details=details or {}, at=now()),
        summary=f"deadline {kind} {ref}: {status} {due_at:%Y-%m-%d}",
        **DB_STEP,
    )


class CaseBook:
    """Per-case bookkeeping of a process workflow: unique step keys (the activities' idempotency
    keys within the case) and the open tasks by purpose, so each can be closed by name."""

    def __init__(self, prefix: str, *, steps: int = 0, tasks: dict[str, str] | None = None) -> None:
        self.prefix, self.steps, self.tasks = prefix, steps, dict(tasks or {})

    def next_step(self) -> str:
        self.steps += 1
        return f"{self.prefix}{self.steps}"

    async def open_task(self, purpose: str, title: str, role: str, *, assignee: str | None = None,
                        due_at: dt.datetime | None = None) -> str:
        key = f"{purpose}-{self.next_step()}"
        await open_task(key, title, role, assignee=assignee, due_at=due_at)
        self.tasks[purpose] = key
        return key

    async def close_task(self, purpose: str, decision: str, *, actor: Actor, reason: str | None = None) -> None:
        key = self.tasks.pop(purpose, None)
        if key is not None:
            await close_task(key, decision, actor=actor, reason=reason)

    async def close_all(self, decision: str, *, actor: Actor, reason: str | None = None, purpose_prefix: str = "") -> None:
        for purpose in [p for p in self.tasks if p.startswith(purpose_prefix)]:
            await self.close_task(purpose, decision, actor=actor, reason=reason)


class Compensations:
    """What to undo if the case is withdrawn or cancelled, registered as each step completes and
    run newest first. Each undo is an idempotent activity (or child workflow) with its own retries;
    one that still fails becomes a manual task through ``on_failure``, never a silent drop."""

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], Awaitable[None]]]] = []

    def add(self, label: str, undo: Callable[[], Awaitable[None]]) -> None:
        self._undo.append((label, undo))

    def clear(self) -> None:
        """The steps are final (the employment ended, she returned): nothing to undo any more."""
        self._undo.clear()

    async def run(self, on_failure: Callable[[str, BaseException], Awaitable[None]]) -> None:
        for label, undo in reversed(self._undo):
            try:
                await undo()
            except (ActivityError, ChildWorkflowError) as err:
                await on_failure(label, err.cause or err)
        self._undo.clear()
