"""CrossProvinceTransferWorkflow: one employee's move of pension, medical, unemployment insurance
and housing fund from one province to another (seed 002: Guiyang to Harbin).

The applicant sees the required materials (pinned policy) before uploading; the case waits for a
complete set, reminding her weekly, and is abandoned after the policy's limit. HR approves or
returns it with a reason from a fixed list. Each insurance type is a branch with its own progress
through the agency steps; every office step has its statutory limit in working days on the Chinese
calendar, and a step past its limit reminds and escalates. The employment move itself stops the
enrollment at the origin and starts it at the destination (next month, so there is no gap); if the
destination refuses, the origin enrollment is restored. A cancelled case undoes what was done.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

from workflows import case_ops, kernel
from workflows.si_change import SiChangeRequest, SocialInsuranceChangeWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.calendar_change import PATCH as CALENDAR_REPLAN
    from domain.calendar_change import SIGNAL as CALENDAR_SIGNAL
    from domain.calendar_change import CalendarChanged
    from domain.contracts import transfer as contract
    from domain.contracts.outbox import TRANSFER_NOTIFY, Recipient
    from domain.contracts.si_change import ChangeFacts
    from domain.employment import SIGNAL as EMPLOYMENT_SIGNAL
    from domain.employment import EmploymentEvent
    from domain.policy.pinning import SiChangeSnapshot, TransferSnapshot
    from domain.refusals import Refusal
    from domain.roles import Role
    from domain.si_change import ChangeKind

KIND = "transfer"
COLLECTING, AWAITING_REVIEW, IN_PROGRESS = "collecting_materials", "awaiting_review", "in_progress"
COMPLETED, PARTLY_REJECTED, ABANDONED, CANCELLED = "completed", "partly_rejected", "abandoned", "cancelled"
REJECTION_REASONS = ("missing_document", "illegible_document", "wrong_document", "data_mismatch",
                     "not_eligible", "other")


class TransferRequest(BaseModel):
    employee_id: str
    department: str = ""
    origin_province: str
    origin_city: str
    destination_province: str
    destination_city: str
    types: list[str]
    reason: str
    applicant: Actor
    policy: TransferSnapshot
    origin_si: SiChangeSnapshot | None = None  # to stop (and restore) the origin enrollment
    destination_si: SiChangeSnapshot | None = None  # to start the destination enrollment
    contribution_base: Decimal
    reminder_days: int = 7


class StepState(BaseModel):
    code: str
    en: str
    limit_working_days: int | None
    zh: str = ""  # cases filed before it was kept read the English name
    due: dt.date | None = None
    provisional: bool = False
    done: bool = False
    reference: str | None = None
    escalated: bool = False
    expected: dt.date | None = None  # projected by the API for steps not started yet
    started_on: dt.date | None = None  # the day its limit counts from (re-planned on a new arrangement)
    replanned_from: dt.date | None = None  # the due date before an approved arrangement moved it


class Branch(BaseModel):
    kind: str
    status: str = "awaiting_review"
    reference: str | None = None
    steps: list[StepState] = Field(default_factory=list)
    rejection_reason: str | None = None
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None

    def current(self) -> StepState | None:
        return next((s for s in self.steps if not s.done), None)

    def finished(self, step: StepState) -> bool:
        """Nothing more to wait for on ``step``: the office did it, or the branch ended."""
        return step.done or self.status in ("rejected", "cancelled")

    def progress(self) -> str:
        """Its state in the Temporal UI's current details."""
        step = self.current()
        return f"{self.kind} {self.status}" + (f" ({step.code} due {step.due})" if step and step.due else "")

    def row(self) -> contract.BranchRow:
        step = self.current()
        return contract.BranchRow(kind=self.kind, status=self.status, current_step=step.code if step else None,
                         step_due=step.due if step else None, started_at=self.started_at,
                         completed_at=self.completed_at, rejection_reason=self.rejection_reason)


class ReviewDecision(BaseModel):
    actor: Actor
    approve: bool
    reason_code: str | None = None
    note: str | None = Field(default=None, max_length=2000)


class Progress(BaseModel):
    """An agency's report on a step (callback endpoint or poller): idempotent by (kind, step)."""

    actor: Actor
    kind: str
    step: str
    status: str = Field(pattern=r"^(done|rejected)$")
    reference: str | None = None
    reason: str | None = None


class Cancel(BaseModel):
    actor: Actor
    reason: str = Field(min_length=1)


class TransferView(BaseModel):
    workflow_id: str
    employee_id: str
    stage: str
    route: str
    required_materials: dict[str, list[str]]  # kind -> material codes
    missing_materials: list[str]
    returned_for: ReviewDecision | None
    branches: list[Branch]
    enrollment: dict[str, str | None]
    manual_tasks: list[str]


@workflow.defn
class CrossProvinceTransferWorkflow:
    @workflow.init
    def __init__(self, req: TransferRequest) -> None:
        self.req = req
        self.stage = COLLECTING
        self.branches = {kind: Branch(kind=kind, steps=[
            StepState(code=s.code, en=s.en, zh=s.zh, limit_working_days=s.time_limit_working_days)
            for s in req.policy.requirements[kind].steps if s.actor != "employee"])
            for kind in req.types}
        self.required = sorted({m.code for kind in req.types for m in req.policy.requirements[kind].materials
                                if m.required})
        self.missing: list[str] = list(self.required)
        self.materials_version = 0
        self.calendar_changes: list[CalendarChanged] = []  # approved arrangements, in arrival order
        self.returned_for: ReviewDecision | None = None
        self.returned_at_version = 0  # after a return, at least one new upload is awaited
        self.decision: ReviewDecision | None = None
        self.cancel_request: Cancel | None = None
        self.enrollment: dict[str, str | None] = {"origin_stop": None, "destination_start": None,
                                                  "origin_restore": None}
        self.manual_tasks: list[str] = []
        self.refusal: str | None = None  # the agency's reason, when an enrollment move was refused
        self.book = case_ops.CaseBook("x")
        self.undo = case_ops.Compensations()
        self.case_open = False
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, req: TransferRequest) -> TransferView:
        return await case_ops.run_to_end(self._lifecycle(req), self.view)

    async def _lifecycle(self, req: TransferRequest) -> None:
        async with self._lock:
            await case_ops.open_case(
                kind=KIND, employee_id=req.employee_id, stage=COLLECTING, province=req.destination_province,
                department=req.department, policy_version=req.policy.version, actor=req.applicant,
                summary=(f"社保公积金转移（{'、'.join(req.types)}）：{req.origin_city} → {req.destination_city}"
                         f" (transfer {', '.join(req.types)}: {req.origin_city} -> {req.destination_city})"))
            await self._record(COLLECTING, actor=req.applicant)
            await self._tell_applicant("transfer.materials_required", {"required": self.required})
            self.case_open = True
        while True:
            if not await self._collect_materials():
                return
            approved = await self._review()
            if approved is None:
                return
            if approved:
                break
        await self._move_enrollment()
        await self._run_branches()

    async def _collect_materials(self) -> bool:
        """Until every required document is there; remind weekly; give up at the policy's limit."""
        give_up = workflow.now() + timedelta(days=self.req.policy.give_up.amount)
        version = self.materials_version  # taken before the check: an upload during it is not lost
        await self._check_materials()
        while self.missing or self._awaiting_fix():
            if self.cancel_request is not None:
                await self._compensate(self.cancel_request.actor)
                return False
            remind = workflow.now() + timedelta(days=self.req.reminder_days)
            try:
                await workflow.wait_condition(
                    partial(self._uploaded_or_cancelled, version),
                    timeout=max(min(remind, give_up) - workflow.now(), timedelta(0)), timeout_summary="materials")
            except TimeoutError:
                if workflow.now() >= give_up:
                    async with self._lock:
                        await self._record(ABANDONED, status="abandoned",
                                           details={"missing": self.missing, "limit_days": self.req.policy.give_up.amount})
                        await self._tell_applicant("transfer.abandoned", {"missing": self.missing})
                    return False
                await self._tell_applicant("transfer.materials_reminder", {"missing": self.missing},
                                           step=f"remind-{self.book.next_step()}")
                continue
            version = self.materials_version
            await self._check_materials()
        async with self._lock:
            self.decision = None
            await self._record(AWAITING_REVIEW)
            await self.book.open_task("review", f"审核 {self.req.employee_id} 的转移材料（{self.req.origin_city} → {self.req.destination_city}）"
                                      f" (Review the transfer of {self.req.employee_id}"
                                      f" ({self.req.origin_city} -> {self.req.destination_city}))", Role.HR_SPECIALIST)
        return True

    def _uploaded_or_cancelled(self, version: int) -> bool:
        return self.materials_version != version or self.cancel_request is not None

    async def _review(self) -> bool | None:
        """True approved, False returned to the applicant, None cancelled."""
        await workflow.wait_condition(lambda: self.decision is not None or self.cancel_request is not None)
        if self.decision is None:
            await self._compensate(self.cancel_request.actor if self.cancel_request else SYSTEM)
            return None
        return self.decision.approve

    async def _move_enrollment(self) -> None:
        """Stop at the origin, start at the destination from the next month (no gap); restore the
        origin when the destination refuses. Without catalogue figures, HR does it by hand."""
        origin, destination = self.req.origin_si, self.req.destination_si
        if origin is None or destination is None:
            await self._manual("enrollment", f"Move the social-insurance enrollment of {self.req.employee_id} from"
                               f" {self.req.origin_city} to {self.req.destination_city} at the agencies: the catalogue"
                               " holds no contribution base for one of them")
            return
        this_month = kernel.today().replace(day=1)
        next_month = (this_month + timedelta(days=32)).replace(day=1)
        stopped = await self._si_change(ChangeKind.STOP, origin, this_month, "origin-stop")
        if stopped is None:
            return  # nothing was changed: HR has the manual task
        self.enrollment["origin_stop"] = stopped

        async def restore_origin() -> None:
            self.enrollment["origin_restore"] = await self._si_change(
                ChangeKind.ENROLLMENT, origin, next_month, "origin-restore")
        self.undo.add("origin enrollment restored", restore_origin)
        started = await self._si_change(ChangeKind.ENROLLMENT, destination, next_month, "destination-start")
        if started is None:
            await restore_origin()
            self.undo.clear()
            await self.book.open_task("destination-refused", f"目的地拒绝参保（{self.refusal}），原参保地已恢复 / The"
                                      f" destination refused the enrollment of {self.req.employee_id} ({self.refusal});"
                                      " the origin enrollment was restored", Role.HR_MANAGER, by_hand=True)
            await self._tell_hr("transfer.destination_refused", {"reason": self.refusal,
                                                                 "destination": self.req.destination_city,
                                                                 "restored": self.enrollment["origin_restore"]})
            return
        self.enrollment["destination_start"] = started

        async def stop_destination() -> None:
            await self._si_change(ChangeKind.STOP, destination, next_month, "destination-stop")
        self.undo.add("destination enrollment stopped", stop_destination)

    async def _run_branches(self) -> None:
        async with self._lock:
            await self._record(IN_PROGRESS)
        await asyncio.gather(*(self._run_branch(b) for b in self.branches.values()))
        if self.cancel_request is not None:
            await self._compensate(self.cancel_request.actor)
            return
        rejected = [b.kind for b in self.branches.values() if b.status == "rejected"]
        async with self._lock:
            if workflow.patched(case_ops.TASKS_BY_DECISION):  # by-hand work stays with its owner
                await self.book.cancel_all("the transfer has ended", keep=("undo-", "enrollment", "origin-",
                                                                            "destination-"))
            else:
                await self.book.close_all("done", actor=SYSTEM)
            await self._record(PARTLY_REJECTED if rejected else COMPLETED, status="completed",
                               details={"rejected": rejected})
            await self._tell_applicant("transfer.finished", {"rejected": rejected})

    async def _run_branch(self, branch: Branch) -> None:
        if branch.status == "cancelled":
            return
        try:
            branch.reference = await kernel.run(
                contract.FILE_BRANCH,
                contract.FileBranch(workflow_id=self._wf(), employee_id=self.req.employee_id, kind=branch.kind,
                           origin_city=self.req.origin_city, destination_city=self.req.destination_city,
                           effective_month=f"{workflow.now():%Y-%m}"),
                summary=f"apply for the {branch.kind} transfer at {self.req.destination_city}", options=kernel.AGENCY_CALL)
        except ActivityError as err:
            branch.status, branch.rejection_reason = "rejected", str(err.cause)
            async with self._lock:
                await self._record(self.stage, details={"branch": branch.kind, "rejected": branch.rejection_reason})
            return
        branch.status, branch.started_at = "accepted", workflow.now()
        while (step := branch.current()) is not None and branch.status not in ("rejected", "cancelled"):
            start = kernel.today()
            step.started_on = start
            seen = len(self.calendar_changes)  # an arrangement approved while the step is planned re-plans it
            if step.limit_working_days is not None:
                planned: contract.Planned = await kernel.run(
                    contract.PLAN_STEP, contract.PlanStep(start=start, working_days=step.limit_working_days),
                    summary=f"{branch.kind}: due date of {step.code}")
                step.due, step.provisional = planned.due, planned.provisional
            branch.status = "transferring"
            async with self._lock:
                await self._record(self.stage, details={"branch": branch.kind, "step": step.code, "due": step.due})
            while step.due is not None:
                try:
                    await workflow.wait_condition(partial(self._finished_or_replanned, branch, step, seen),
                                                  timeout=max(kernel.at(step.due, 18) - workflow.now(), timedelta(0)),
                                                  timeout_summary=f"{branch.kind}: {step.code} due {step.due}")
                    if branch.finished(step):
                        break
                    arrived, seen = self.calendar_changes[seen:], len(self.calendar_changes)
                    await self._replan_step(branch, step, arrived)
                    continue
                except TimeoutError:
                    step.escalated = True
                    async with self._lock:
                        await self.book.open_task(
                            f"overdue-{branch.kind}-{step.code}", f"{branch.kind}: '{step.en}' past its statutory"
                            f" limit of {step.limit_working_days} working days (due {step.due})", Role.HR_MANAGER)
                        await self._tell_hr("transfer.step_overdue", {"kind": branch.kind, "step": step.code,
                                                                      "due": step.due})
                    break
            await workflow.wait_condition(partial(branch.finished, step))
            if step.escalated and workflow.patched(case_ops.TASKS_BY_DECISION):
                await self.book.cancel_task(f"overdue-{branch.kind}-{step.code}",
                                            f"the office finished '{step.en}' ({branch.kind}): nothing to chase")
            else:
                await self.book.close_task(f"overdue-{branch.kind}-{step.code}", "done", actor=SYSTEM)
        if branch.status not in ("rejected", "cancelled"):
            branch.status, branch.completed_at = "completed", workflow.now()
        async with self._lock:
            await self._record(self.stage, details={"branch": branch.kind, "status": branch.status})
            await self._tell_applicant("transfer.branch_" + branch.status, {"kind": branch.kind},
                                       step=f"branch-{branch.kind}-{branch.status}")

    def _finished_or_replanned(self, branch: Branch, step: StepState, seen: int) -> bool:
        """The step needs no more waiting, or arrangements arrived since the first ``seen``: re-plan."""
        return branch.finished(step) or len(self.calendar_changes) != seen

    async def _compensate(self, actor: Actor) -> None:
        await self.undo.run(self._undo_by_hand)
        for branch in self.branches.values():
            if branch.status not in ("completed", "rejected"):
                branch.status = "cancelled"
        await self.book.close_all("cancelled", actor=actor)
        await self._record(CANCELLED, status="withdrawn", actor=actor,
                           details={"reason": self.cancel_request.reason if self.cancel_request else None})
        await self._tell_applicant("transfer.cancelled", {})

    # ------------------------------------------------------------------ messages
    async def _replan_step(self, branch: Branch, step: StepState, changes: list[CalendarChanged]) -> None:
        """An arrangement approved for the year the step's limit counts in: its due date is planned
        again from the day it started, and the case records the move."""
        assert step.due is not None and step.limit_working_days is not None
        relevant = [c for c in changes if step.started_on and c.year in (step.started_on.year, step.due.year)]
        if step.started_on is None or not relevant:
            return
        years = [c.year for c in relevant]
        planned: contract.Planned = await kernel.run(
            contract.PLAN_STEP, contract.PlanStep(start=step.started_on, working_days=step.limit_working_days,
                                                   arrangement_year=relevant[-1].year,
                                                   arrangement_notice=relevant[-1].notice_id),
            summary=f"{branch.kind}: re-plan {step.code} on the new arrangement")
        if planned.due == step.due and planned.provisional == step.provisional:
            return
        step.replanned_from, step.due, step.provisional = step.due, planned.due, planned.provisional
        async with self._lock:
            await self._record(self.stage, details={"branch": branch.kind, "step": step.code, "due": step.due,
                                                    "replanned_from": step.replanned_from,
                                                    "arrangement": years})

    @workflow.signal(name=CALENDAR_SIGNAL)
    def calendar_changed(self, change: CalendarChanged) -> None:
        """An arrangement for a year was approved: steps waiting on a limit in that year re-plan.
        (Behind a patch: a history in which an older worker buffered this signal replays unchanged.)"""
        if workflow.patched(CALENDAR_REPLAN):
            self.calendar_changes.append(change)

    @workflow.signal
    def materials_changed(self) -> None:
        """An upload landed (the materials endpoint says so); the set is checked again."""
        self.materials_version += 1

    @workflow.update
    async def review(self, msg: ReviewDecision) -> TransferView:
        async with case_ops.deciding(self, lambda: self._check_review(msg)):
            await kernel.run(
                contract.RECORD_REVIEW,
                contract.Review(workflow_id=self._wf(), step=f"review-{self.book.next_step()}",
                       decision="approved" if msg.approve else "rejected", reason_code=msg.reason_code,
                       note=msg.note, at=workflow.now(), actor=msg.actor),
                summary="record the HR review")
            await self.book.close_task("review", "approved" if msg.approve else "rejected", actor=msg.actor,
                                       reason=msg.reason_code)
            if msg.approve:
                for branch in self.branches.values():
                    branch.status = "submitted"
                self.returned_for = None
            else:
                self.returned_for, self.returned_at_version = msg, self.materials_version
                await self._record(COLLECTING, actor=msg.actor, details={"returned": msg.reason_code, "note": msg.note})
                await self._tell_applicant("transfer.returned", {"reason": msg.reason_code, "note": msg.note},
                                           step=f"returned-{self.book.next_step()}")
            self.decision = msg
        return self.view()

    @review.validator
    def _v_review(self, msg: ReviewDecision) -> None:
        case_ops.check_when_open(self, lambda: self._check_review(msg))

    @workflow.update
    async def agency_progress(self, msg: Progress) -> TransferView:
        async with case_ops.deciding(self, lambda: self._check_progress(msg)) as branch:
            step = next(s for s in branch.steps if s.code == msg.step)
            if step.done or branch.status == "rejected":
                return self.view()  # the same report again: idempotent
            if msg.status == "rejected":
                branch.status, branch.rejection_reason = "rejected", msg.reason or "rejected by the agency"
            else:
                step.done, step.reference = True, msg.reference
            await case_ops.audit(self.book.next_step(), f"transfer.step_{msg.status}", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"kind": msg.kind, "step": msg.step, "reference": msg.reference,
                                        "reason": msg.reason, "due": step.due})
        return self.view()

    @agency_progress.validator
    def _v_progress(self, msg: Progress) -> None:
        case_ops.check_when_open(self, lambda: self._check_progress(msg))

    @workflow.update
    async def cancel(self, msg: Cancel) -> TransferView:
        async with case_ops.deciding(self, lambda: self._check_cancel(msg)):
            self.cancel_request = msg
            for branch in self.branches.values():
                if branch.status not in ("completed", "rejected"):
                    branch.status = "cancelled"
        await workflow.wait_condition(lambda: self.stage == CANCELLED)
        return self.view()

    @cancel.validator
    def _v_cancel(self, msg: Cancel) -> None:
        case_ops.check_when_open(self, lambda: self._check_cancel(msg))

    @workflow.signal(name=EMPLOYMENT_SIGNAL)
    async def employment_changed(self, event: EmploymentEvent) -> None:
        """Her employment changed elsewhere: the accounts move whether or not she stays; it is recorded."""
        await case_ops.note_employment(self, KIND, self.req.employee_id, event,
                                       "her transfer goes on: the accounts move whether or not she stays")

    @workflow.update
    async def opened(self) -> TransferView:
        return await case_ops.opened(self, self.view)

    @workflow.query
    def view(self) -> TransferView:
        return TransferView(
            workflow_id=self._wf(), employee_id=self.req.employee_id, stage=self.stage,
            route=f"{self.req.origin_city} ({self.req.origin_province}) -> {self.req.destination_city}"
                  f" ({self.req.destination_province})",
            required_materials={k: [m.code for m in self.req.policy.requirements[k].materials if m.required]
                                for k in self.req.types},
            missing_materials=list(self.missing), returned_for=self.returned_for,
            branches=list(self.branches.values()), enrollment=dict(self.enrollment),
            manual_tasks=list(self.manual_tasks))

    # ------------------------------------------------------------------ rules
    def _check_review(self, msg: ReviewDecision) -> None:
        if msg.actor.role not in (Role.HR_SPECIALIST, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.WRONG_ROLE, "社保转移由人事审核 (HR reviews transfers)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if self.stage != AWAITING_REVIEW or self.decision is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"转移当前处于“{self.stage}”阶段，不在待审核状态"
                                                     f" (the transfer is {self.stage}, not awaiting review)")
        if not msg.approve and msg.reason_code not in REJECTION_REASONS:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"驳回须从以下原因中选择：{list(REJECTION_REASONS)}"
                                                           f" (a rejection needs a reason from {list(REJECTION_REASONS)})")

    def _check_progress(self, msg: Progress) -> Branch:
        if msg.actor.role != Role.ADMIN:
            raise kernel.refuse(Refusal.WRONG_ROLE, "经办进度须通过经办机构接口报送"
                                                    " (agency progress arrives through the agency integration)")
        branch = self.branches.get(msg.kind)
        if branch is None or not any(s.code == msg.step for s in branch.steps):
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"本次转移的 {msg.kind} 没有步骤 {msg.step}"
                                                           f" (no step {msg.step} for {msg.kind} in this transfer)")
        if branch.status not in ("accepted", "transferring", "rejected") and not any(s.done for s in branch.steps):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"{msg.kind} 分项当前为“{branch.status}”状态"
                                                     f" (the {msg.kind} branch is {branch.status})")
        return branch

    def _check_cancel(self, msg: Cancel) -> None:
        is_applicant = msg.actor.user == self.req.applicant.user or msg.actor.is_employee(self.req.employee_id)
        if not is_applicant and msg.actor.role not in (Role.HR_SPECIALIST, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.FORBIDDEN, "转移只能由申请人或人事取消 (the applicant or HR cancels a transfer)")
        if self.stage in (COMPLETED, PARTLY_REJECTED, ABANDONED, CANCELLED) or self.cancel_request is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"转移当前处于“{self.stage}”阶段，不能取消 (the transfer is {self.stage})")

    # ------------------------------------------------------------------ plumbing
    def _awaiting_fix(self) -> bool:
        return self.returned_for is not None and self.materials_version == self.returned_at_version

    async def _check_materials(self) -> None:
        self.missing = await kernel.run(
            contract.MISSING_MATERIALS, contract.CheckMaterials(workflow_id=self._wf(), required=self.required),
            summary="check the uploaded materials")

    async def _si_change(self, kind: ChangeKind, policy: SiChangeSnapshot, month: dt.date, label: str) -> str | None:
        facts = ChangeFacts(employee_id=self.req.employee_id, city=policy.city, kind=kind,
                            base=None if kind is ChangeKind.STOP else self.req.contribution_base,
                            effective_month=f"{month:%Y-%m}")
        try:
            result = await workflow.execute_child_workflow(
                SocialInsuranceChangeWorkflow.run,
                SiChangeRequest(facts=facts, reason=f"transfer {self._wf()}: {label}", maker=self.req.applicant,
                                department=self.req.department, province=self.req.destination_province,
                                today=workflow.now().date(), policy=policy, rollback_window=timedelta(0),
                                followup=timedelta(0), correction_window=timedelta(0),
                                pre_approved=Actor(user="transfer", role=Role.HR_MANAGER)),
                id=f"si-change-{self.req.employee_id}-{self._wf().removeprefix('transfer-')}-{label}",
                static_summary=f"社保变更 {self.req.employee_id}，{policy.city}，转移 ({kind.value} in {policy.city} for"
                               f" {self.req.employee_id}, transfer)")
        except ChildWorkflowError as err:
            await self._manual(label, f"Enrollment change '{label}' failed: {err.cause}")
            return None
        if result.acceptance_no is None:
            self.refusal = result.agency_reason or result.stage
            await self._manual(label, f"Enrollment change '{label}' ended {result.stage}: {self.refusal}")
            return None
        return result.acceptance_no

    async def _record(self, stage: str, *, status: str | None = None, actor: Actor = SYSTEM,
                      details: dict[str, Any] | None = None) -> None:
        case_ops.set_visible_stage(stage, f"{stage}: " + ", ".join(b.progress() for b in self.branches.values()))
        await kernel.run(
            contract.RECORD,
            contract.RecordTransfer(workflow_id=self._wf(), step=self.book.next_step(), employee_id=self.req.employee_id,
                           department=self.req.department, origin_province=self.req.origin_province,
                           origin_city=self.req.origin_city, destination_province=self.req.destination_province,
                           destination_city=self.req.destination_city, types=self.req.types, reason=self.req.reason,
                           applicant=self.req.applicant.user, stage=stage, status=status,
                           branches=[b.row() for b in self.branches.values()],
                           at=workflow.now(), actor=actor, details=details or {}),
            summary=f"stage -> {stage}")
        self.stage = stage

    async def _notify(self, recipients: list[Recipient], template: str, params: dict[str, Any], step: str) -> None:
        await case_ops.notify(step, recipients, template, {"workflow_id": self._wf(), **params}, via=TRANSFER_NOTIFY)

    async def _tell_applicant(self, template: str, params: dict[str, Any], *, step: str | None = None) -> None:
        await self._notify([Recipient(kind="employee", who=self.req.employee_id)], template, params,
                           step or f"{template}-{self.book.next_step()}")

    async def _tell_hr(self, template: str, params: dict[str, Any]) -> None:
        await self._notify([Recipient(kind="role", who=Role.HR_SPECIALIST)], template, params,
                           f"{template}-{self.book.next_step()}")

    async def _undo_by_hand(self, label: str, cause: BaseException) -> None:
        await self._manual(f"undo-{label}", f"Undo by hand: {label} ({cause})")

    async def _manual(self, purpose: str, title: str) -> None:
        await self.book.open_task(purpose, title, Role.HR_SPECIALIST, by_hand=True)
        self.manual_tasks.append(title)

    @staticmethod
    def _wf() -> str:
        return workflow.info().workflow_id
