"""The case's bookkeeping, the same in every process: its row, stages, tasks, notices and audit.

Every process workflow records its case, stages, tasks and audit entries through these, so each
case shows up the same way in the database, the inbox, the audit trail and the Temporal UI.
Call only from workflow code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.contracts import ActivityRef
    from domain.contracts import approval as routes
    from domain.contracts import cases as contract
    from domain.contracts.employment import ANNOUNCE, Announce
    from domain.contracts.outbox import NOTIFY, Notify, Recipient
    from domain.employment import SIGNAL as EMPLOYMENT_SIGNAL
    from domain.employment import EmploymentEvent, EventKind
    from domain.roles import role_address

from workflows import kernel
from workflows import search_attributes as sa

P = TypeVar("P", bound=BaseModel)
V = TypeVar("V")


def now() -> dt.datetime:
    return workflow.now()


async def open_case(
    *, kind: str, employee_id: str | None, stage: str, summary: str, province: str = "",
    department: str = "", policy_version: str | None = None, actor: Actor = SYSTEM,
    details: dict[str, Any] | None = None,
) -> None:
    """Record the case and make it findable: search attributes and current details. A case of no
    one employee (a batch of many) has ``employee_id`` None."""
    info = workflow.info()
    updates = [sa.CASE_KIND.value_set(kind), sa.CASE_STAGE.value_set(stage)]
    if employee_id is not None:
        updates.insert(0, sa.EMPLOYEE_ID.value_set(employee_id))
    if province:
        updates.append(sa.PROVINCE.value_set(province))
    if department:
        updates.append(sa.DEPARTMENT.value_set(department))
    workflow.upsert_search_attributes(updates)
    workflow.set_current_details(f"**{kind}** for {employee_id or summary}: {stage}")
    await kernel.run(
        contract.OPEN_CASE,
        contract.OpenCase(workflow_id=info.workflow_id, kind=kind, employee_id=employee_id, stage=stage,
                 summary=summary, policy_version=policy_version, opened_at=now(), actor=actor,
                 details=details or {}),
        summary=f"open case {kind} for {employee_id or 'many employees'}",
    )


def set_visible_stage(stage: str, details: str) -> None:
    """What the Temporal UI shows: the CaseStage search attribute and the current details."""
    workflow.upsert_search_attributes([sa.CASE_STAGE.value_set(stage)])
    workflow.set_current_details(details)


async def change_stage(
    step: str, stage: str, *, status: str | None = None, next_due_at: dt.datetime | None = None,
    actor: Actor = SYSTEM, details: dict[str, Any] | None = None, current_details: str | None = None,
    closes: list[contract.CloseTask] | None = None,
) -> None:
    """Move the case to ``stage`` (``status`` when it ends), closing the tasks the decision closes
    (``closing``) in the same step; ``step`` is unique within the case."""
    set_visible_stage(stage, current_details or f"stage: {stage}")
    await kernel.run(
        contract.CHANGE_STAGE,
        contract.ChangeStage(workflow_id=workflow.info().workflow_id, step=step, stage=stage, status=status,
                    at=now(), next_due_at=next_due_at, actor=actor, details=details or {}, closes=closes or []),
        summary=f"stage -> {stage}",
    )


async def open_task(task_key: str, title: str, role: str, *, assignee: str | None = None,
                    due_at: dt.datetime | None = None, by_hand: bool = False) -> None:
    await kernel.run(
        contract.OPEN_TASK,
        contract.OpenTask(workflow_id=workflow.info().workflow_id, task_key=task_key, title=title[:200],
                 role=role, assignee=assignee, due_at=due_at, at=now(), by_hand=by_hand),
        summary=f"task for {role}: {title}",
    )


def closing(task_key: str, decision: str, *, actor: Actor = SYSTEM, reason: str | None = None) -> contract.CloseTask:
    """What closes a task: run in a step of its own (``close_task``), or carried by the step that
    records the stage the decision leads to, in its transaction."""
    return contract.CloseTask(workflow_id=workflow.info().workflow_id, task_key=task_key, decision=decision,
                              reason=reason, at=now(), actor=actor)


async def close_task(task_key: str, decision: str, *, actor: Actor = SYSTEM,
                     reason: str | None = None) -> None:
    await close_apart([closing(task_key, decision, actor=actor, reason=reason)])


async def close_apart(closes: list[contract.CloseTask]) -> None:
    """Close each task in a step of its own (cases from before ``CLOSE_WITH_STAGE``)."""
    for req in closes:
        await kernel.run(contract.CLOSE_TASK, req, summary=f"task {req.task_key}: {req.decision}")


async def notify(step: str, recipients: list[Recipient], template: str, params: dict[str, Any], *,
                 via: ActivityRef[Notify, None] = NOTIFY) -> None:
    """A notice through the outbox (Chinese first, English where the recipient prefers it). ``via``
    is the name the notify activity is called by: a process that recorded another name before
    there was one notify keeps calling it by that name."""
    await kernel.run(
        via,
        Notify(workflow_id=workflow.info().workflow_id, step=step, recipients=recipients, template=template,
               params=params, at=now()),
        summary=f"notify {', '.join(r.who for r in recipients)}: {template}",
    )


async def audit(step: str, action: str, *, actor: Actor = SYSTEM, subject: str | None = None,
                before: Any = None, after: Any = None) -> None:
    await kernel.run(
        contract.RECORD_AUDIT,
        contract.RecordAudit(workflow_id=workflow.info().workflow_id, step=step, action=action, at=now(),
                    subject=subject, before=before, after=after, actor=actor),
        summary=action,
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


# Patch id under which no task is closed as "done" by the system: it closes by its owner's decision,
# or is cancelled with a reason she and her manager are told (``CaseBook.cancel_task``), and work a
# person still has to do (a by-hand task) stays open after the case ends.
TASKS_BY_DECISION = "tasks-close-by-decision"

# Patch id under which a checker's decision closes her tasks in the step that records the stage it
# leads to (``closing``: one local activity, one transaction) instead of a step of its own each.
CLOSE_WITH_STAGE = "close-with-stage"

# Patch id under which the offboarding announces her notice, its withdrawal and her departure to
# every other case of hers (domain.employment).
EMPLOYMENT_EVENTS = "employment-events"


async def announce(kind: EventKind, employee_id: str, on: dt.date, *, step: str, actor: Actor = SYSTEM) -> list[str]:
    """Record a change of her employment and tell each of her other open cases (signal
    ``employment_changed``); a case closed meanwhile has nothing to hear. Returns the cases told."""
    source = workflow.info().workflow_id
    event = EmploymentEvent(id=f"{source}:{step}", employee_id=employee_id, kind=kind, on=on, source=source,
                            by=actor.user)
    cases: list[str] = await kernel.run(
        ANNOUNCE, Announce(event=event, actor=actor, at=now()),
        summary=f"employment: {kind} {on}")
    for case in cases:
        try:
            await workflow.get_external_workflow_handle(case).signal(EMPLOYMENT_SIGNAL, event)
        except Exception:  # noqa: BLE001, S110 - it closed since it was listed: nothing left to tell
            pass
    return cases


# Patch id under which a leaver's open approvals in other cases go to her line manager on her last day.
LEAVER_HANDOVER = "leaver-approvals-handed-over"


async def hand_over_approvals(employee_id: str, on: dt.date) -> int:
    """Her open approvals in others' cases go to her line manager (any hr_manager when she has none
    who may sign): each case hears signal ``tasks_reassigned``. Answers how many were handed over."""
    handovers: list[routes.Handover] = await kernel.run(
        routes.TASKS_OF_LEAVER, routes.LeaverTasks(employee_id=employee_id, on=on),
        summary=f"open approvals of {employee_id}")
    reason = f"审批人 {employee_id} 已于 {on} 离职 (the approver left on {on})"
    for case in sorted({h.workflow_id for h in handovers}):
        for h in [h for h in handovers if h.workflow_id == case]:
            try:
                await workflow.get_external_workflow_handle(case).signal(
                    routes.REASSIGN_SIGNAL, routes.Reassign(from_user=h.from_user, to=h.to, reason=reason, actor=SYSTEM))
            except Exception:  # noqa: BLE001, S110 - it closed since it was listed: nothing left to hand over
                pass
    return len(handovers)


class OpensCase(Protocol):
    case_open: bool  # True once the case row, its first stage and first tasks are recorded


class DecidesCase(OpensCase, Protocol):
    _lock: asyncio.Lock  # one message (or the process itself) changes the case at a time


async def note_employment(case: OpensCase, kind: str, employee_id: str, event: EmploymentEvent,
                          reaction: str) -> None:
    """The ``employment_changed`` signal of a case that only records a change of her employment (its
    process goes on): once the case is open, an audit entry."""
    await wait_until_open(case)
    await audit(f"employment-{event.id}", f"{kind}.employment_{event.kind}", subject=employee_id,
                after={"on": event.on, "source": event.source, "reaction": reaction})


async def run_to_end(lifecycle: Awaitable[None], result: Callable[[], V]) -> V:
    """A process's run: its lifecycle, then every message handler finished, then its answer."""
    await lifecycle
    await workflow.wait_condition(workflow.all_handlers_finished)
    return result()


async def wait_until_open(case: OpensCase, check: Callable[[], object] | None = None) -> None:
    """First line of every update and signal handler. Validators cannot wait: before the case is
    open they let the message in, and ``check`` (the validator's rule) refuses it here, once the
    case is open, if it must. Cases recorded before the patch never waited, and do not."""
    if workflow.patched(MESSAGES_AFTER_OPEN):
        await workflow.wait_condition(lambda: case.case_open)
        if check is not None:
            check()


@asynccontextmanager
async def deciding(case: DecidesCase, check: Callable[[], V]) -> AsyncIterator[V]:
    """How a message handler decides: once the case is open (``wait_until_open`` applies the
    validator's rule there), under the case's lock, with the rule checked once more (a message
    handled meanwhile may have changed the case); what the check answers is the ``as`` value."""
    await wait_until_open(case, check)
    async with case._lock:
        yield check()


def check_when_open(case: OpensCase, check: Callable[[], object]) -> None:
    """The body of every update validator: once the case is open, ``check`` (the rule) refuses the
    message if it must; before, the message is let in and its handler checks once the case is open
    (``wait_until_open``)."""
    if case.case_open:
        check()


async def opened(case: OpensCase, view: Callable[[], V]) -> V:
    """The body of every process's ``opened`` update: the case once its start-up is recorded, what
    the API answers a start with, so a read right after it finds the case in its true first state."""
    await workflow.wait_condition(lambda: case.case_open)
    return view()


class NewPolicy(BaseModel, Generic[P]):
    """An explicit, audited re-pin (signal ``repin_policy``): a rule change that must reach a running
    case, with the snapshot it is pinned on from now (``NewPolicy[MaternitySnapshot]``)."""

    actor: Actor
    reason: str = Field(min_length=1)
    policy: P


async def track_deadline(kind: str, employee_id: str, due_at: dt.datetime, *, ref: str = "main",
                         status: str = "open", details: dict[str, Any] | None = None) -> None:
    """Tell the reminder sweep about a date this case must meet (or that it was met). Only behind
    ``workflow.patched(TRACK_DEADLINES)``: cases recorded before it do not make this call."""
    await kernel.run(
        contract.TRACK_DEADLINE,
        contract.TrackDeadline(workflow_id=workflow.info().workflow_id, kind=kind, ref=ref, employee_id=employee_id,
                      due_at=due_at, status=status, details=details or {}, at=now()),
        summary=f"deadline {kind} {ref}: {status} {due_at:%Y-%m-%d}",
    )


class CaseBook:
    """Per-case bookkeeping of a process workflow: unique step keys (the activities' idempotency
    keys within the case) and the open tasks by purpose, so each can be closed by name."""

    def __init__(self, prefix: str, *, steps: int = 0, tasks: dict[str, str] | None = None) -> None:
        self.prefix, self.steps, self.tasks = prefix, steps, dict(tasks or {})
        self.owners: dict[str, tuple[str, str | None, str]] = {}  # purpose -> role, assignee, title
        self.by_hand: set[str] = set()  # purposes of work done by hand: never cancelled by the system

    def next_step(self) -> str:
        self.steps += 1
        return f"{self.prefix}{self.steps}"

    async def open_task(self, purpose: str, title: str, role: str, *, assignee: str | None = None,
                        due_at: dt.datetime | None = None, by_hand: bool = False) -> str:
        key = f"{purpose}-{self.next_step()}"
        await open_task(key, title, role, assignee=assignee, due_at=due_at, by_hand=by_hand)
        self.tasks[purpose] = key
        self.owners[purpose] = (role, assignee, title)
        if by_hand:
            self.by_hand.add(purpose)
        return key

    async def cancel_task(self, purpose: str, reason: str, *, actor: Actor = SYSTEM) -> None:
        """A task that no decision will close any more (the case moved on without it): cancelled
        with a reason its owner sees, and she and her manager (the role's second level) are told.
        Never closed as done by the system."""
        key = self.tasks.get(purpose)
        if key is None:
            return
        await self.close_task(purpose, "cancelled", actor=actor, reason=reason)
        role, assignee, title = self.owners.pop(purpose, (None, None, key))
        recipients = [Recipient(kind="user", who=assignee)] if assignee else []
        if role and role != "any":
            recipients += [Recipient(kind="role", who=role), Recipient(kind="role", who=role_address(role, 2))]
        if recipients:
            await notify(f"cancelled-{key}", recipients, "task.cancelled", {"title": title, "reason": reason})

    async def cancel_all(self, reason: str, *, actor: Actor = SYSTEM, keep: tuple[str, ...] = ()) -> None:
        """Cancel every open task but the work a person still has to do by hand (opened ``by_hand``,
        or, in cases from before that flag, a purpose starting with one of ``keep``): it stays in
        her inbox after the case ends, and she closes it."""
        for purpose in [p for p in self.tasks if p not in self.by_hand and not p.startswith(keep)]:
            await self.cancel_task(purpose, reason, actor=actor)

    async def close_task(self, purpose: str, decision: str, *, actor: Actor, reason: str | None = None) -> None:
        await close_apart(self.closing(purpose, decision, actor=actor, reason=reason))

    def closing(self, purpose: str, decision: str, *, actor: Actor, reason: str | None = None) -> list[contract.CloseTask]:
        """``close_task``, for the step that records the decision's stage to carry (``change_stage``)."""
        key = self.tasks.pop(purpose, None)
        return [] if key is None else [closing(key, decision, actor=actor, reason=reason)]

    async def close_all(self, decision: str, *, actor: Actor, reason: str | None = None, purpose_prefix: str = "",
                        keep: tuple[str, ...] = ()) -> None:
        """Close the open tasks (those whose purpose starts with ``purpose_prefix``), but for the
        ones ``keep`` names: work by hand that no decision of this case ends."""
        for purpose in [p for p in self.tasks if p.startswith(purpose_prefix) and not p.startswith(keep)]:
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
