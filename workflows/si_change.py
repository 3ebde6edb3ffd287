"""SocialInsuranceChangeWorkflow: one enrollment change, maker-checker, a rollback window, and
revocation at the agency as its compensation.

Seed 003: a back-payment chosen by mistake was approved and could not be undone. Here the
hr_manager who approves must not be the hr_specialist who submitted; a back-payment is approved
only with a confirmation that echoes the estimated total; an approved change waits a rollback
window (a durable timer) before it reaches the agency, during which the approver can revoke the
approval and the maker can correct and resubmit; after execution a revocation is filed with the
agency while its window is open, else HR gets a manual task. Usable as a child workflow
(``pre_approved``), as offboarding and transfers do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import case_ops, kernel
from workflows.approval_chain import ApprovalChain, ApprovalView
from workflows.routed_case import APPROVER_ROUTES, RoutedCase

# Pure domain code and activity models pass through the sandbox: the workflow and its activities
# must share one class per model (a re-imported copy would not validate against the other).
with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.contracts import si_change as contract
    from domain.contracts.cases import CloseTask
    from domain.contracts.outbox import Recipient
    from domain.employment import SIGNAL as EMPLOYMENT_SIGNAL
    from domain.employment import EmploymentEvent
    from domain.policy.pinning import SiChangeSnapshot
    from domain.refusals import Refusal
    from domain.roles import Role
    from domain.si_change import ChangeKind, ChangeRefused, CostEstimate, change_summary, check_request, estimate

KIND = "si_change"

# Stages (also the CaseStage search attribute).
SUBMITTED, APPROVED, EXECUTING, EXECUTED = "submitted", "approved", "executing", "executed"
REJECTED, AGENCY_REJECTED, INVALID = "rejected", "agency_rejected", "invalid"
WITHDRAWN, REVOKED, REVOCATION_MANUAL, COMPLETED = "withdrawn", "revoked", "revocation_manual", "completed"
RETURNED = (REJECTED, AGENCY_REJECTED)

# Patch id under which the approval follows the company's approver route (``domain.approval_routes``),
# resolved to people on the case's first day, instead of any one hr_manager.
DECISION = "si_change.approve"
# The approval tasks' titles, by why the route (re)starts.
TITLES = {"submitted": ("审批社保变更", "Approve social-insurance change"),
          "corrected": ("审批已更正的社保变更", "Approve corrected social-insurance change"),
          "revoked": ("重新审批社保变更：原批准已撤销", "Approve social-insurance change: approval revoked"),
          "repinned": ("重新审批：政策数字已变更", "Approve again: policy figures changed")}


class SiChangeRequest(BaseModel):
    """Everything the change runs on, fixed at start: facts, maker, pinned policy, windows."""

    facts: contract.ChangeFacts
    reason: str
    maker: Actor
    department: str = ""
    province: str = ""
    today: dt.date
    policy: SiChangeSnapshot
    rollback_window: timedelta = timedelta(hours=72)
    correction_window: timedelta = timedelta(days=30)  # a returned change closes after this idle time
    followup: timedelta = timedelta(days=90)  # how long revocation may be requested after execution
    pre_approved: Actor | None = None  # a parent process already approved (child-workflow use)


class Approve(BaseModel):
    actor: Actor
    confirm_total: Decimal | None = Field(default=None, description="back-payments: echo the estimated total")


class Decide(BaseModel):
    actor: Actor
    reason: str = Field(min_length=1)


class Correct(BaseModel):
    actor: Actor
    reason: str = Field(min_length=1)
    kind: ChangeKind | None = None
    base: Decimal | None = None
    months: list[str] | None = None
    effective_month: str | None = None


NewPolicy = case_ops.NewPolicy[SiChangeSnapshot]  # a rule change that must reach this running change


class SiChangeView(BaseModel):
    workflow_id: str
    stage: str
    facts: contract.ChangeFacts
    reason: str
    maker: str
    approver: str | None
    estimate: CostEstimate
    policy_version: str
    execute_after: dt.datetime | None
    acceptance_no: str | None
    revocation_no: str | None
    agency_reason: str | None
    manual_task: str | None
    approval: ApprovalView | None = None  # the approver route, its steps and signatures


class SiChangeResult(BaseModel):
    stage: str
    acceptance_no: str | None
    revocation_no: str | None
    estimate_total: Decimal
    agency_reason: str | None = None  # why the agency refused, when it did


@workflow.defn
class SocialInsuranceChangeWorkflow(RoutedCase):
    @workflow.init
    def __init__(self, req: SiChangeRequest) -> None:
        self.req = req
        self.facts = req.facts
        self.policy = req.policy
        self.estimate = estimate(req.facts.kind, req.facts.base, req.facts.months, req.policy)
        self.stage = SUBMITTED
        self.approver: Actor | None = None
        self.round = 0  # bumps on every approval, revocation of approval, correction
        self.execute_after: dt.datetime | None = None
        self.executed: contract.Executed | None = None
        self.revocation: contract.Revoked | None = None
        self.revoke_request: Decide | None = None
        self.agency_reason: str | None = None
        self.manual_task: str | None = None
        self.executed_at: dt.datetime | None = None
        self.open_task: str | None = None
        self.chain: ApprovalChain | None = None  # the approver route (cases begun under APPROVER_ROUTES)
        self._steps = 0
        self.case_open = False
        self.employment_events: list[str] = []
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, req: SiChangeRequest) -> SiChangeResult:
        return await case_ops.run_to_end(self._lifecycle(req), self._result)

    async def _lifecycle(self, req: SiChangeRequest) -> None:
        await case_ops.open_case(
            kind=KIND, employee_id=self.facts.employee_id, stage=SUBMITTED,
            summary=change_summary(self.facts.kind, self.facts.city, self.facts.base, self.facts.months),
            province=req.province, department=req.department, policy_version=self.policy.version,
            actor=req.maker, details={"reason": req.reason})
        async with self._lock:  # no decision is applied before the case is fully open
            try:
                await self._validate(self.facts)
            except ActivityError as err:
                detail = getattr(err.cause, "details", None)
                await self._record(INVALID, status="rejected", actor=SYSTEM,
                                   details={"refusal": detail[0] if detail else str(err.cause)})
                self.case_open = True
                return
            if req.pre_approved is not None:
                self.approver = req.pre_approved
                await self._enter_approved(req.pre_approved)
            else:
                await self._record(SUBMITTED, actor=req.maker)
                if workflow.patched(APPROVER_ROUTES):
                    await self._route_approval("submitted")
                else:
                    await self._open_task("approve", "审批社保变更 (Approve social-insurance change)", Role.HR_MANAGER)
            self.case_open = True

        while self.executed is None:
            await workflow.wait_condition(lambda: self.stage != SUBMITTED)
            if self.stage == WITHDRAWN:
                return
            if self.stage in RETURNED:
                if not await self._wait_for_correction():
                    return
                continue
            if self.stage == APPROVED:
                approved_round = self.round
                if await self._rollback_window_passed():
                    await self._execute(approved_round)

        await self._follow_up()

    # ------------------------------------------------------------------ phases
    async def _wait_for_correction(self) -> bool:
        returned_round = self.round
        try:
            await workflow.wait_condition(
                lambda: self.round != returned_round or self.stage == WITHDRAWN,
                timeout=self.req.correction_window, timeout_summary="awaiting the maker's correction")
        except TimeoutError:
            async with self._lock:
                if self.round == returned_round and self.stage in RETURNED:
                    await self._record(self.stage, status="rejected", details={"closed": "no correction in time"})
                    return False
        return self.stage != WITHDRAWN

    async def _rollback_window_passed(self) -> bool:
        approved_round = self.round
        assert self.execute_after is not None
        try:
            await workflow.wait_condition(
                lambda: self.round != approved_round or self.stage != APPROVED,
                timeout=self.execute_after - workflow.now(), timeout_summary="rollback window")
            return False  # revoked, corrected or withdrawn inside the window
        except TimeoutError:
            return self.round == approved_round and self.stage == APPROVED

    async def _execute(self, approved_round: int) -> None:
        async with self._lock:
            # A correction, revocation or withdrawal may have taken the lock first while the window
            # closed: only the approval that waited out its window reaches the agency.
            if self.round != approved_round or self.stage != APPROVED:
                return
            await self._record(EXECUTING)
            attempt = self.round
        try:
            self.executed = await kernel.run(
                contract.EXECUTE,
                contract.Execute(workflow_id=workflow.info().workflow_id, attempt=attempt, facts=self.facts,
                        at=workflow.now()),
                summary=f"submit {self.facts.kind.value} to the {self.facts.city} agency",
                options=kernel.AGENCY_CALL)
        except ActivityError as err:
            async with self._lock:
                # Refused, or unreachable past the retry budget: back to the maker, never a failed case.
                self.agency_reason = err.cause.message if kernel.refused(err.cause, Refusal.AGENCY_REJECTED) \
                    else f"agency unreachable: {err.cause}"
                await self._record(AGENCY_REJECTED,
                                   details={"agency": (getattr(err.cause, "details", None) or [self.agency_reason])[0]})
                await self._open_task("correct", "经办机构退回变更：请更正或撤回 (Agency refused the change: correct or withdraw)",
                                      Role.HR_SPECIALIST, assignee=self.req.maker.user)
            return
        async with self._lock:
            self.executed_at = workflow.now()
            await self._record(EXECUTED, details={"acceptance_no": self.executed.acceptance_no},
                               current=f"executed, acceptance {self.executed.acceptance_no}")

    async def _follow_up(self) -> None:
        """After execution: revocation can be asked for until the follow-up period ends."""
        try:
            await workflow.wait_condition(lambda: self.revoke_request is not None,
                                          timeout=self.req.followup, timeout_summary="revocation period")
        except TimeoutError:
            await self._record(COMPLETED, status="completed")
            return
        assert self.revoke_request is not None and self.executed is not None
        await self._compensate(self.revoke_request)

    async def _compensate(self, request: Decide) -> None:
        """Revocation after execution: through the agency while its window is open, else by hand."""
        assert self.executed is not None
        window = timedelta(days=self.policy.agency_revocation_window.amount)
        assert self.executed_at is not None
        if workflow.now() - self.executed_at <= window:
            try:
                self.revocation = await kernel.run(
                    contract.REVOKE,
                    contract.Revoke(workflow_id=workflow.info().workflow_id, facts=self.facts,
                           acceptance_no=self.executed.acceptance_no,
                           previous_base=self.executed.previous_base, reason=request.reason,
                           at=workflow.now(), actor=request.actor),
                    summary=f"revoke {self.executed.acceptance_no} at the agency", options=kernel.AGENCY_CALL)
                await self._record(REVOKED, status="revoked", actor=request.actor,
                                   details={"revocation_no": self.revocation.revocation_no,
                                            "reason": request.reason})
                return
            except ActivityError as err:
                # Refused, or failed past its retries (records out of step, an agency down for
                # days): the change was executed, so a person revokes it at the counter.
                if not kernel.refused(err.cause, Refusal.REVOCATION_REFUSED) and not workflow.patched(
                        "revocation-failure-by-hand"):
                    raise
                self.agency_reason = str(getattr(err.cause, "message", None) or err.cause or err)
        self.manual_task = await self._open_task(
            "manual-revocation",
            f"到经办机构窗口撤销 {self.executed.acceptance_no}（{self.facts.kind.zh}，{self.facts.city}，"
            f"{self.facts.employee_id}）：{self.agency_reason or '经办机构撤销期已过'} (Revoke {self.executed.acceptance_no}"
            f" at the agency counter ({self.facts.kind.value}, {self.facts.city}, {self.facts.employee_id}):"
            f" {self.agency_reason or 'agency window closed'})",
            Role.HR_SPECIALIST)
        await self._record(REVOCATION_MANUAL, status="revoked", actor=request.actor,
                           details={"reason": request.reason, "agency": self.agency_reason})

    # ------------------------------------------------------------------ messages
    @workflow.update
    async def approve(self, msg: Approve) -> SiChangeView:
        async with case_ops.deciding(self, lambda: self._check_approval(msg)):  # again: the state may have moved since validation
            closes = await self._signed(msg.actor, lambda: self._closing("approved", actor=msg.actor))
            if closes is None:
                return self.view()  # the route's next signatures are awaited
            self.approver = msg.actor
            await self._enter_approved(msg.actor, closes=closes)
        return self.view()

    @approve.validator
    def _validate_approve(self, msg: Approve) -> None:
        case_ops.check_when_open(self, lambda: self._check_approval(msg))

    @workflow.update
    async def reject(self, msg: Decide) -> SiChangeView:
        async with case_ops.deciding(self, lambda: self._check_checker(msg.actor, SUBMITTED)):
            self.stage = REJECTED
            closes = await self._rejected(msg.actor, msg.reason,
                                          lambda: self._closing("rejected", actor=msg.actor, reason=msg.reason))
            await self._record(REJECTED, actor=msg.actor, details={"reason": msg.reason}, closes=closes)
            await self._open_task("correct", "变更被驳回：请更正或撤回 (Change rejected: correct or withdraw)", Role.HR_SPECIALIST,
                                  assignee=self.req.maker.user)
        return self.view()

    @reject.validator
    def _validate_reject(self, msg: Decide) -> None:
        case_ops.check_when_open(self, lambda: self._check_checker(msg.actor, SUBMITTED))

    @workflow.update
    async def correct(self, msg: Correct) -> SiChangeView:
        """The maker corrects and resubmits: before execution, in any stage; approval is void."""
        async with case_ops.deciding(self, lambda: self._check_correction(msg)) as facts:
            await self._validate(facts)  # the database checks too, before anything changes
            self.facts, self.round = facts, self.round + 1
            self.estimate = estimate(facts.kind, facts.base, facts.months, self.policy)
            self.approver, self.execute_after, self.agency_reason = None, None, None
            self.stage = SUBMITTED
            await self._close_task("cancelled", actor=msg.actor, reason="corrected")
            await self._record(SUBMITTED, actor=msg.actor, details={"corrected": msg.reason})
            if self.chain is not None:  # the same route version, on the corrected figures
                await self.chain.cancel("cancelled", "变更已更正 (corrected)", msg.actor)
                await self._route_approval("corrected", version=self.chain.route.version)
            else:
                await self._open_task("approve", "审批已更正的社保变更 (Approve corrected social-insurance change)",
                                      Role.HR_MANAGER)
        return self.view()

    @correct.validator
    def _validate_correct(self, msg: Correct) -> None:
        case_ops.check_when_open(self, lambda: self._check_correction(msg))

    @workflow.update
    async def revoke(self, msg: Decide) -> SiChangeView:
        """Inside the rollback window: the approval is revoked (back to submitted). After execution:
        the change itself is revoked at the agency (the compensation)."""
        async with case_ops.deciding(self, lambda: self._check_revoke(msg)):
            if self.stage == APPROVED:
                self.round += 1
                self.stage, self.approver, self.execute_after = SUBMITTED, None, None
                await self._record(SUBMITTED, actor=msg.actor, details={"approval_revoked": msg.reason})
                if self.chain is not None:
                    await self.chain.restart(f"原批准已撤销：{msg.reason} (approval revoked)", TITLES["revoked"],
                                             msg.actor)
                else:
                    await self._open_task("approve", "重新审批社保变更：原批准已撤销 (Approve social-insurance change:"
                                          " approval revoked)", Role.HR_MANAGER)
            else:
                self.revoke_request = msg
        await workflow.wait_condition(lambda: self.stage != EXECUTED or self.revoke_request is None)
        return self.view()

    @revoke.validator
    def _validate_revoke(self, msg: Decide) -> None:
        case_ops.check_when_open(self, lambda: self._check_revoke(msg))

    @workflow.update
    async def withdraw(self, msg: Decide) -> SiChangeView:
        async with case_ops.deciding(self, lambda: self._check_withdraw(msg)):
            self.stage = WITHDRAWN
            await self._close_approval(msg.actor, msg.reason)
            await self._record(WITHDRAWN, status="withdrawn", actor=msg.actor, details={"reason": msg.reason})
        return self.view()

    @withdraw.validator
    def _validate_withdraw(self, msg: Decide) -> None:
        case_ops.check_when_open(self, lambda: self._check_withdraw(msg))

    @workflow.signal(name=EMPLOYMENT_SIGNAL)
    async def employment_changed(self, event: EmploymentEvent) -> None:
        """Her departure withdraws a change not yet executed that would enroll her or change her
        base (the agency would refuse it, or bill the company for someone who left); a stop goes on."""
        await case_ops.wait_until_open(self)
        async with self._lock:
            if event.id in self.employment_events:
                return
            self.employment_events.append(event.id)
            reaction = "noted"
            if event.kind == "departed" and self.facts.kind is not ChangeKind.STOP \
                    and self.stage in (SUBMITTED, APPROVED, *RETURNED):
                reason = f"her employment ended on {event.on} ({event.source})"
                self.stage = WITHDRAWN
                await self._close_approval(SYSTEM, reason)
                await self._record(WITHDRAWN, status="withdrawn", details={"reason": reason})
                await case_ops.notify("withdrawn-departed", [Recipient(kind="user", who=self.req.maker.user),
                                                             Recipient(kind="role", who=Role.HR_MANAGER)],
                                      "employment.case_withdrawn",
                                      {"employee_id": self.facts.employee_id, "on": event.on, "reason": reason,
                                       "what": f"{self.facts.kind.value} {self.facts.city}"})
                reaction = "withdrawn"
            await case_ops.audit(self._next_step(), f"si_change.employment_{event.kind}", subject=self.facts.employee_id,
                                 after={"on": event.on, "source": event.source, "reaction": reaction})

    @workflow.signal
    async def repin_policy(self, msg: NewPolicy) -> None:
        """A rule change that must reach this case; before execution only, and audited. An
        approval given on the old figures is void."""
        await case_ops.wait_until_open(self)
        async with self._lock:
            if self.stage not in (SUBMITTED, APPROVED, *RETURNED):
                await case_ops.audit(self._next_step(), "si_change.repin_refused", actor=msg.actor,
                                     after={"stage": self.stage, "version": msg.policy.version})
                return
            before = self.policy.version
            if msg.policy.version == before:
                await case_ops.audit(self._next_step(), "si_change.repin_unchanged", actor=msg.actor,
                                     after={"version": before, "reason": msg.reason})
                return
            self.policy = msg.policy
            self.estimate = estimate(self.facts.kind, self.facts.base, self.facts.months, msg.policy)
            if self.chain is not None and self.stage in (SUBMITTED, APPROVED):
                # signatures given on the old figures are void; the route's conditions read the new ones
                if self.stage == APPROVED:
                    self.round += 1
                    self.stage, self.approver, self.execute_after = SUBMITTED, None, None
                    await self._record(SUBMITTED, actor=msg.actor, details={"approval_voided": msg.reason})
                await self.chain.cancel("cancelled", f"政策数字已变更：{msg.reason} (policy figures changed)", msg.actor)
                await self._route_approval("repinned", version=self.chain.route.version)
            elif self.stage == APPROVED:
                self.round += 1
                self.stage, self.approver, self.execute_after = SUBMITTED, None, None
                if workflow.patched("repin-records-stage"):  # the case row and the audit say so too
                    await self._record(SUBMITTED, actor=msg.actor, details={"approval_voided": msg.reason})
                await self._open_task("approve", "重新审批：政策数字已变更 (Approve again: policy figures changed)",
                                      Role.HR_MANAGER)
            await case_ops.audit(self._next_step(), "si_change.policy_repinned", actor=msg.actor,
                                 before={"version": before},
                                 after={"version": msg.policy.version, "reason": msg.reason,
                                        "estimate_total": self.estimate.total})

    @workflow.update
    async def opened(self) -> SiChangeView:
        return await case_ops.opened(self, self.view)

    @workflow.query
    def view(self) -> SiChangeView:
        return SiChangeView(
            workflow_id=workflow.info().workflow_id, stage=self.stage, facts=self.facts,
            reason=self.req.reason, maker=self.req.maker.user,
            approver=self.approver.user if self.approver else None, estimate=self.estimate,
            policy_version=self.policy.version, execute_after=self.execute_after,
            acceptance_no=self.executed.acceptance_no if self.executed else None,
            revocation_no=self.revocation.revocation_no if self.revocation else None,
            agency_reason=self.agency_reason, manual_task=self.manual_task,
            approval=self.chain.view() if self.chain is not None else None)

    # ------------------------------------------------------------------ rules
    def _check_checker(self, actor: Actor, stage: str) -> None:
        if self.chain is not None:  # the route says who signs, whatever her role
            self._check_signer(actor, stage)
            return
        if actor.role != Role.HR_MANAGER:
            raise kernel.refuse(Refusal.WRONG_ROLE, f"只有人事经理可以审批，您的角色是 {actor.role} (only an hr_manager may decide; you are {actor.role})")
        if actor.is_user(self.req.maker.user):
            raise kernel.refuse(Refusal.SELF_APPROVAL, "经办人不能复核自己提交的变更 (the maker may not check their own change)")
        kernel.not_the_subject(actor, self.facts.employee_id)
        if self.stage != stage:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"变更当前为“{self.stage}”，不是“{stage}” (the change is {self.stage}, not {stage})", stage=self.stage)

    def _check_signer(self, actor: Actor, stage: str) -> ApprovalChain:
        assert self.chain is not None
        if actor.is_user(self.req.maker.user):
            raise kernel.refuse(Refusal.SELF_APPROVAL, "经办人不能复核自己提交的变更 (the maker may not check their own change)")
        kernel.not_the_subject(actor, self.facts.employee_id)
        if self.stage != stage:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"变更当前为“{self.stage}”，不是“{stage}” (the change is {self.stage}, not {stage})", stage=self.stage)
        self.chain.check(actor)
        return self.chain

    def _check_task_action(self, actor: Actor) -> ApprovalChain:
        self._check_routed(self.stage)
        return self._check_signer(actor, SUBMITTED)

    def _awaiting_signatures(self) -> bool:
        return self.stage == SUBMITTED

    def _subject_id(self) -> str:
        return self.facts.employee_id

    def _check_approval(self, msg: Approve) -> None:
        self._check_checker(msg.actor, SUBMITTED)
        if self.facts.kind is ChangeKind.BACK_PAYMENT:
            current = self.estimate.model_dump(mode="json")
            if msg.confirm_total is None:
                raise kernel.refuse(Refusal.CONFIRMATION_REQUIRED, f"请先确认补缴总额 {self.estimate.total} 元 (confirm the back-payment total of {self.estimate.total} yuan)", estimate=current)
            if msg.confirm_total != self.estimate.total:
                raise kernel.refuse(Refusal.STALE_CONFIRMATION, f"确认的金额 {msg.confirm_total} 与当前测算 {self.estimate.total} 元不符"
                              f" (the confirmation {msg.confirm_total} does not match the current"
                              f" estimate {self.estimate.total} yuan)", estimate=current)

    def _check_correction(self, msg: Correct) -> contract.ChangeFacts:
        if msg.actor.user != self.req.maker.user:
            raise kernel.refuse(Refusal.NOT_MAKER, "只有经办人可以更正此变更 (only the maker may correct the change)")
        if self.stage not in (SUBMITTED, APPROVED, *RETURNED):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"变更当前为“{self.stage}”，已不能更正 (the change is {self.stage}; it can no longer be corrected)", stage=self.stage)
        changes = {k: v for k, v in (("kind", msg.kind), ("base", msg.base), ("months", msg.months),
                                     ("effective_month", msg.effective_month)) if v is not None}
        facts = self.facts.model_copy(update=changes)
        if facts.kind is not ChangeKind.BACK_PAYMENT and msg.months is None:
            facts = facts.model_copy(update={"months": []})
        try:
            check_request(kind=facts.kind, base=facts.base, months=facts.months,
                          effective_month=facts.effective_month, today=workflow.now().date(),
                          policy=self.policy)
        except ChangeRefused as exc:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, str(exc), **exc.detail()) from None
        return facts

    def _check_revoke(self, msg: Decide) -> None:
        kernel.not_the_subject(msg.actor, self.facts.employee_id)
        if self.stage == APPROVED:
            if msg.actor.role != Role.HR_MANAGER or self.approver is None or msg.actor.user != self.approver.user:
                raise kernel.refuse(Refusal.NOT_APPROVER, "撤销期内只有原审批人可以撤销审批 (only the approver may revoke the approval inside the window)")
            return
        if self.stage == EXECUTED:
            if msg.actor.role not in (Role.HR_MANAGER, Role.HR_SPECIALIST):
                raise kernel.refuse(Refusal.WRONG_ROLE, f"角色 {msg.actor.role} 不能申请撤销 (role {msg.actor.role} may not request a revocation)")
            if self.revoke_request is not None:
                raise kernel.refuse(Refusal.WRONG_STAGE, "撤销已在办理中 (a revocation is already under way)", stage=self.stage)
            return
        raise kernel.refuse(Refusal.WRONG_STAGE, f"变更当前为“{self.stage}”，没有可撤销的内容 (the change is {self.stage}; nothing to revoke)", stage=self.stage)

    def _check_withdraw(self, msg: Decide) -> None:
        if msg.actor.user != self.req.maker.user and msg.actor.role != Role.HR_MANAGER:
            raise kernel.refuse(Refusal.NOT_MAKER, "只有经办人或人事经理可以撤回 (only the maker or an hr_manager may withdraw)")
        if self.stage not in (SUBMITTED, APPROVED, *RETURNED):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"变更当前为“{self.stage}”，已不能撤回 (the change is {self.stage}; it can no longer be withdrawn)", stage=self.stage)

    # ------------------------------------------------------------------ plumbing
    async def _enter_approved(self, actor: Actor, *, closes: list[CloseTask] | None = None) -> None:
        self.round += 1
        self.stage = APPROVED  # at once: the main loop starts the rollback window
        self.execute_after = workflow.now() + self.req.rollback_window
        await self._record(APPROVED, actor=actor, next_due_at=self.execute_after,
                           details={"execute_after": self.execute_after.isoformat()},
                           current=f"approved by {actor.user}; executes at {self.execute_after:%Y-%m-%d %H:%M} UTC"
                                   " unless revoked", closes=closes)

    async def _route_approval(self, why: str, *, version: int | None = None) -> None:
        """The approver route for the figures as they stand, its first step's tasks open."""
        f = self.facts
        await self._open_route(DECISION, {"kind": f.kind.value, "amount": self.estimate.total, "city": f.city},
                               TITLES[why], why=why, maker=self.req.maker.user, on=self.req.today, version=version)

    async def _close_approval(self, actor: Actor, reason: str) -> None:
        """Every open task of the change closes: its approvals and the maker's correction."""
        if self.chain is not None:
            await self.chain.cancel("cancelled", reason, actor)
        await self._close_task("cancelled", actor=actor, reason=reason)

    async def _validate(self, facts: contract.ChangeFacts) -> None:
        await kernel.run(
            contract.VALIDATE,
            contract.ValidateChange(workflow_id=workflow.info().workflow_id, facts=facts,
                           today=workflow.now().date(), policy=self.policy),
            summary="check ID, base limits and duplicates")

    async def _record(self, stage: str, *, status: str | None = None, actor: Actor = SYSTEM,
                      next_due_at: dt.datetime | None = None, details: dict[str, object] | None = None,
                      current: str | None = None, closes: list[CloseTask] | None = None) -> None:
        f = self.facts
        case_ops.set_visible_stage(stage, current or f"{change_summary(f.kind, f.city, f.base, f.months)}: {stage}")
        await kernel.run(
            contract.TRANSITION,
            contract.Transition(workflow_id=workflow.info().workflow_id, step=self._next_step(), facts=self.facts,
                       stage=stage, status=status, estimate_total=self.estimate.total,
                       maker=self.req.maker.user, approver=self.approver.user if self.approver else None,
                       agency_reason=self.agency_reason, at=workflow.now(), next_due_at=next_due_at,
                       actor=actor, details=details or {}, closes=closes or []),
            summary=f"stage -> {stage}")
        self.stage = stage  # only once it is on record: a message waiting on the stage sees it saved

    def _next_step(self) -> str:
        self._steps += 1
        return f"t{self._steps}"

    async def _open_task(self, prefix: str, title: str, role: str, *, assignee: str | None = None) -> str:
        key = f"{prefix}-{self._next_step()}"
        await case_ops.open_task(key, title, role, assignee=assignee, by_hand=prefix.startswith("manual-"))
        self.open_task = key
        return key

    def _closing(self, decision: str, *, actor: Actor, reason: str | None = None) -> list[CloseTask]:
        """The open task's close (if one is open), for the step that records the decision to carry."""
        if self.open_task is None:
            return []
        key, self.open_task = self.open_task, None
        return [case_ops.closing(key, decision, actor=actor, reason=reason)]

    async def _close_task(self, decision: str, *, actor: Actor, reason: str | None = None) -> None:
        await case_ops.close_apart(self._closing(decision, actor=actor, reason=reason))

    def _result(self) -> SiChangeResult:
        return SiChangeResult(
            stage=self.stage, acceptance_no=self.executed.acceptance_no if self.executed else None,
            revocation_no=self.revocation.revocation_no if self.revocation else None,
            estimate_total=self.estimate.total, agency_reason=self.agency_reason)
