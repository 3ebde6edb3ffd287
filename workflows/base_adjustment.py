"""The annual contribution-base adjustment of a city: one batch, maker-checker on the whole, a
rollback window, declaration in pages by child workflows, and revocation as its compensation.

``BaseAdjustmentWorkflow`` (the batch) computes every line in PostgreSQL, waits for an hr_manager
to approve it with its back-payment total echoed (the maker may exclude or correct lines until the
declaration starts; a correction voids an approval), waits out the rollback window, and declares
the pending lines in pages: ``BaseAdjustmentPartWorkflow`` children each declare a run of pages,
one agency declaration per page, a few children at a time. Lines refused by the agency go back to
the maker, who corrects them and resubmits (a new round, approved again) or closes the batch.
Until the agency's revocation window closes, an hr_manager can revoke the declared batch: every
declared page is revoked at the agency and the old bases and advances restored.

No line travels through a history: a batch of 100,000 lines keeps the batch's history to a few
hundred events (one child per part) and each part's to a few per page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError
from temporalio.workflow import ParentClosePolicy

from workflows import case_ops, kernel
from workflows.maternity import BaseAdjusted, MaternityLeaveWorkflow
from workflows.si_change import Approve, Decide  # a single change's messages: the total echoed, a reason

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.base_adjustment import Totals
    from domain.contracts import base_adjustment as contract
    from domain.policy.pinning import SiChangeSnapshot
    from domain.refusals import Refusal
    from domain.roles import Role

KIND = "base_adjustment"

# Computing every line of a batch is one transaction over the whole city (100,000 lines take some
# 30 s on two cores): the database step's retries, with room for the largest batch per attempt.
WHOLE_BATCH = replace(kernel.DB_STEP, start_to_close_timeout=timedelta(minutes=15))

# Stages (also the CaseStage search attribute).
COMPUTING, SUBMITTED, APPROVED, DECLARING = "computing", "submitted", "approved", "declaring"
REJECTED, RETURNED, DECLARED, COMPLETED = "rejected", "returned", "declared", "completed"
WITHDRAWN, REVOKING, REVOKED, REVOCATION_MANUAL = "withdrawn", "revoking", "revoked", "revocation_manual"
BEFORE_DECLARATION = (SUBMITTED, APPROVED, REJECTED)
MAKERS_TURN = (REJECTED, RETURNED)  # the maker corrects and resubmits, withdraws or (returned) closes


class BaseAdjustmentRequest(BaseModel):
    """Everything the batch runs on, fixed at start: the city's notice (pinned), its maker, windows."""

    city: str
    city_zh: str
    province: str = ""
    effective_month: str = Field(description="the first month of the new limits, YYYY-MM")
    reason: str
    maker: Actor
    today: dt.date
    policy: SiChangeSnapshot
    rollback_window: timedelta = timedelta(hours=72)
    correction_window: timedelta = timedelta(days=30)  # refused lines left alone this long: the batch closes
    page_size: int = Field(default=500, ge=1, le=1000, description="lines per agency declaration")
    pages_per_part: int = Field(default=20, ge=1, description="pages one child workflow declares")
    parts_in_flight: int = Field(default=4, ge=1, description="children declaring at once")


class Correct(BaseModel):
    actor: Actor
    reason: str = Field(min_length=1)
    lines: list[contract.LineCorrection] = Field(min_length=1, max_length=1000)


class DeclaredPage(BaseModel):
    round: int
    page: int
    acceptance_no: str
    lines: int


class BaseAdjustmentView(BaseModel):
    workflow_id: str
    stage: str
    city: str
    effective_month: str
    reason: str
    maker: str
    approver: str | None
    policy_version: str
    round: int
    totals: Totals
    approved_total: Decimal | None
    execute_after: dt.datetime | None
    declared_on: dt.date | None
    pages: list[DeclaredPage]
    manual_task: str | None
    note: str | None = Field(default=None, description="why the batch is where it is, in words")


class PartRequest(BaseModel):
    batch_id: str
    round: int
    part: contract.Part
    city: str
    effective_month: str
    policy: SiChangeSnapshot
    declared_on: dt.date


class PartResult(BaseModel):
    pages: list[contract.PageResult]


@workflow.defn
class BaseAdjustmentPartWorkflow:
    """Pages ``first_page``..``last_page`` of one round, each one agency declaration. A page the
    agency refuses whole, or that stays unreachable past its retries, goes back to the maker (its
    lines refused with the reason); her maternity cases hear of the advances of each page."""

    @workflow.run
    async def run(self, req: PartRequest) -> PartResult:
        results = []
        for page in range(req.part.first_page, req.part.last_page + 1):
            workflow.set_current_details(f"page {page} of {req.part.first_page}-{req.part.last_page}")
            declare = contract.DeclarePage(batch_id=req.batch_id, round=req.round, page=page, city=req.city,
                                           effective_month=req.effective_month, policy=req.policy,
                                           declared_on=req.declared_on, at=workflow.now())
            try:
                result = await kernel.run(contract.DECLARE_PAGE, declare, summary=f"declare page {page}",
                                          options=kernel.AGENCY_CALL)
            except ActivityError as err:
                if kernel.refused(err.cause, Refusal.AGENCY_REJECTED):
                    code, reason = "page_refused", err.cause.message
                else:
                    code, reason = "agency_unreachable", f"经办机构无法连接 (agency unreachable): {err.cause}"
                result = await kernel.run(
                    contract.DECLARE_PAGE, declare.model_copy(update={"give_up": reason, "give_up_code": code}),
                    summary=f"page {page} back to the maker")
            results.append(result)
            await tell_leave_cases(result.advances, f"{req.batch_id}:r{req.round}:p{page}")
        return PartResult(pages=results)


async def tell_leave_cases(advances: list[contract.Advance], reference: str) -> None:
    """Each maternity case whose receivables a page changed hears of it (signal ``base_adjusted``)."""
    for advance in advances:
        try:
            await workflow.get_external_workflow_handle(advance.maternity_case).signal(
                MaternityLeaveWorkflow.base_adjusted,
                BaseAdjusted(reference=reference, actor=SYSTEM, new_base=advance.new_base, advance=advance.amount))
        except Exception:  # noqa: BLE001, S110 - her leave case closed since: the receivable is in the ledger
            pass


@workflow.defn
class BaseAdjustmentWorkflow:
    @workflow.init
    def __init__(self, req: BaseAdjustmentRequest) -> None:
        self.req = req
        self.stage = COMPUTING
        self.totals = Totals()
        self.round = 0  # the declaration round: 1 for the first, one more for each resubmission
        self.version = 0  # bumps on every change of the lines or of the approval
        self.approver: Actor | None = None
        self.approved_total: Decimal | None = None
        self.execute_after: dt.datetime | None = None
        self.declared_on: dt.date | None = None
        self.declared_at: dt.datetime | None = None
        self.pages: list[DeclaredPage] = []
        self.revoke_request: Decide | None = None
        self.finished: Decide | None = None
        self.manual_task: str | None = None
        self.note: str | None = None
        self.book = case_ops.CaseBook("b")
        self.case_open = False
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, req: BaseAdjustmentRequest) -> BaseAdjustmentView:
        return await case_ops.run_to_end(self._lifecycle(req), self.view)

    async def _lifecycle(self, req: BaseAdjustmentRequest) -> None:
        async with self._lock:
            await case_ops.open_case(
                kind=KIND, employee_id=None, stage=COMPUTING, summary=self._summary(), province=req.province,
                policy_version=req.policy.version, actor=req.maker,
                details={"reason": req.reason, "city": req.city, "effective_month": req.effective_month})
            self.totals = await kernel.run(contract.COMPUTE, contract.Compute(
                workflow_id=self._wf(), city=req.city, effective_month=req.effective_month, policy=req.policy,
                declare_on=kernel.today(), at=workflow.now()), summary="compute every line", options=WHOLE_BATCH)
            await self._submit(req.maker, "submitted")
            self.case_open = True

        while True:
            await workflow.wait_condition(lambda: self.stage not in (SUBMITTED, REJECTED))
            if self.stage == WITHDRAWN:
                return
            if self.stage == APPROVED:
                if await self._rollback_window_passed():
                    await self._declare(self.version)
            elif self.stage == RETURNED:
                if not await self._wait_for_maker():
                    break
            elif self.stage == DECLARED:
                break
        await self._follow_up()

    # ------------------------------------------------------------------ phases
    async def _rollback_window_passed(self) -> bool:
        approved = self.version
        if self.execute_after is None:
            return False
        try:
            await workflow.wait_condition(lambda: self.version != approved or self.stage != APPROVED,
                                          timeout=self.execute_after - workflow.now(), timeout_summary="rollback window")
            return False  # revoked, corrected or withdrawn inside the window
        except TimeoutError:
            return self.version == approved and self.stage == APPROVED

    async def _declare(self, approved: int) -> None:
        async with self._lock:
            if self.version != approved or self.stage != APPROVED:
                return  # a message took the lock first while the window closed
            # The back-payment runs to the month of the declaration: a month turned since the
            # approval changes the total, and the checker approves the new one.
            today = kernel.today()
            counted = self.totals = await self._count(today)
            if counted.back_pay_total != self.approved_total:
                self.note = (f"申报月份已变为 {today:%Y-%m}，补缴总额由 {self.approved_total} 变为 {counted.back_pay_total}，"
                             f"请重新审批 (the declaration month is now {today:%Y-%m}: the back-payment total"
                             f" changed from {self.approved_total} to {counted.back_pay_total}; approve again)")
                await self._submit(SYSTEM, "recounted")
                return
            self.round += 1
            self.declared_on = today
            await self._stage(DECLARING, current=f"declaring round {self.round}: {counted.pending} lines")
            parts = await kernel.run(contract.PLAN, contract.Plan(
                workflow_id=self._wf(), round=self.round, page_size=self.req.page_size,
                pages_per_part=self.req.pages_per_part), summary=f"pages of round {self.round}")
        results = await self._run_parts(parts)
        async with self._lock:
            self.declared_at = workflow.now()
            self.pages += [DeclaredPage(round=self.round, page=r.page, acceptance_no=r.acceptance_no, lines=r.accepted)
                           for r in results if r.acceptance_no is not None and r.accepted]
            self.totals = await self._count(today)
            refused = sum(r.refused for r in results)
            if refused:
                self.note = f"经办机构退回 {refused} 行，请更正后重新提交或结束本批 ({refused} lines refused: correct and resubmit, or close)"
                await self._stage(RETURNED, details={"refused": refused, "round": self.round},
                                  current=f"round {self.round}: {refused} lines refused, back to the maker")
                await self.book.open_task(
                    "returned", f"社保基数调整：经办机构退回 {refused} 行，请更正或结束本批 (Base adjustment: {refused} lines"
                                f" refused by the agency; correct or close)", Role.HR_SPECIALIST,
                    assignee=self.req.maker.user)
            else:
                self.note = None
                await self._stage(DECLARED, details={"round": self.round, "pages": len(self.pages)},
                                  current=f"declared: {self.totals.by_state.get('accepted', 0)} lines accepted")

    async def _run_parts(self, parts: list[contract.Part]) -> list[contract.PageResult]:
        """Each part a child workflow, at most ``parts_in_flight`` at once, in part order."""
        slots = asyncio.Semaphore(self.req.parts_in_flight)
        assert self.declared_on is not None
        declared_on = self.declared_on

        async def declare(part: contract.Part) -> list[contract.PageResult]:
            async with slots:
                done: PartResult = await workflow.execute_child_workflow(
                    BaseAdjustmentPartWorkflow.run,
                    PartRequest(batch_id=self._wf(), round=self.round, part=part, city=self.req.city,
                                effective_month=self.req.effective_month, policy=self.req.policy,
                                declared_on=declared_on),
                    id=f"{self._wf()}-r{self.round}-part{part.number}", parent_close_policy=ParentClosePolicy.TERMINATE,
                    static_summary=f"{self.req.city_zh} 基数申报第 {self.round} 轮 第 {part.first_page}–{part.last_page} 页"
                                   f" (base declaration round {self.round}, pages {part.first_page}-{part.last_page})")
                return done.pages

        done = await asyncio.gather(*(declare(part) for part in parts))
        return [page for pages in done for page in pages]

    async def _wait_for_maker(self) -> bool:
        """Refused lines: the maker corrects and resubmits (True: back to the checker) or closes the
        batch; left alone, it closes with them undeclared. False: closed."""
        try:
            await workflow.wait_condition(lambda: self.stage != RETURNED or self.finished is not None,
                                          timeout=self.req.correction_window, timeout_summary="awaiting the maker")
        except TimeoutError:
            self.finished = Decide(actor=SYSTEM, reason="no correction in time")
        async with self._lock:
            if self.finished is None:
                return True
            await self.book.close_all("cancelled", actor=self.finished.actor, reason=self.finished.reason)
            await self._stage(DECLARED, actor=self.finished.actor,
                              details={"closed_with_refused": self.totals.by_state.get("refused", 0),
                                       "reason": self.finished.reason})
            return False

    async def _follow_up(self) -> None:
        """Declared: revocation can be asked for while the agency's window is open."""
        if not self.pages:
            await self._stage(COMPLETED, status="completed")
            return
        assert self.declared_at is not None
        window = timedelta(days=self.req.policy.agency_revocation_window.amount)
        try:
            await workflow.wait_condition(lambda: self.revoke_request is not None,
                                          timeout=self.declared_at + window - workflow.now(),
                                          timeout_summary="agency revocation window")
        except TimeoutError:
            if self.revoke_request is None:  # asked for in the window's last moment: still honoured
                await self._stage(COMPLETED, status="completed")
                return
        assert self.revoke_request is not None
        await self._compensate(self.revoke_request)

    async def _compensate(self, request: Decide) -> None:
        """Every declared page revoked at the agency, newest first; a page the agency will not
        revoke becomes a task at its counter."""
        await self._stage(REVOKING, actor=request.actor, details={"reason": request.reason})
        by_hand = []
        for page in reversed(self.pages):
            try:
                revoked = await kernel.run(contract.REVOKE_PAGE, contract.RevokePage(
                    batch_id=self._wf(), round=page.round, page=page.page, city=self.req.city,
                    effective_month=self.req.effective_month, acceptance_no=page.acceptance_no,
                    reason=request.reason, actor=request.actor, at=workflow.now()),
                    summary=f"revoke {page.acceptance_no}", options=kernel.AGENCY_CALL)
                await tell_leave_cases(revoked.advances, f"{self._wf()}:r{page.round}:p{page.page}:revoked")
            except ActivityError as err:
                by_hand.append(f"{page.acceptance_no}（{getattr(err.cause, 'message', err.cause)}）")
        self.totals = await self._count(self.declared_on or kernel.today())
        if by_hand:
            self.manual_task = await self.book.open_task(
                "manual-revocation", f"到经办机构窗口撤销基数申报 {'、'.join(by_hand)} (Revoke these base declarations"
                                     " at the agency counter)", Role.HR_SPECIALIST, by_hand=True)
            await self._stage(REVOCATION_MANUAL, status="revoked", actor=request.actor,
                              details={"by_hand": by_hand, "reason": request.reason})
        else:
            await self._stage(REVOKED, status="revoked", actor=request.actor,
                              details={"pages": len(self.pages), "reason": request.reason})

    # ------------------------------------------------------------------ messages
    @workflow.update
    async def approve(self, msg: Approve) -> BaseAdjustmentView:
        async with case_ops.deciding(self, lambda: self._check_approval(msg)):
            await self.book.close_task("approve", "approved", actor=msg.actor)
            self.approver, self.approved_total = msg.actor, self.totals.back_pay_total
            self.version += 1
            self.execute_after = workflow.now() + self.req.rollback_window
            self.note, self.stage = None, APPROVED
            await self._stage(APPROVED, actor=msg.actor, next_due_at=self.execute_after,
                              details={"back_pay_total": self.approved_total, "pending": self.totals.pending,
                                       "execute_after": self.execute_after.isoformat()},
                              current=f"approved by {msg.actor.user}; declares at {self.execute_after:%Y-%m-%d %H:%M}"
                                      " UTC unless revoked")
        return self.view()

    @approve.validator
    def _validate_approve(self, msg: Approve) -> None:
        case_ops.check_when_open(self, lambda: self._check_approval(msg))

    @workflow.update
    async def reject(self, msg: Decide) -> BaseAdjustmentView:
        async with case_ops.deciding(self, lambda: self._check_checker(msg.actor)):
            await self.book.close_task("approve", "rejected", actor=msg.actor, reason=msg.reason)
            self.version += 1
            self.note = f"审批人驳回：{msg.reason} (rejected: {msg.reason})"
            await self._stage(REJECTED, actor=msg.actor, details={"reason": msg.reason})
            await self.book.open_task("correct", f"社保基数调整被驳回：请更正后重新提交或撤回 (Base adjustment rejected:"
                                                 f" correct and resubmit, or withdraw): {msg.reason}",
                                      Role.HR_SPECIALIST, assignee=self.req.maker.user)
        return self.view()

    @reject.validator
    def _validate_reject(self, msg: Decide) -> None:
        case_ops.check_when_open(self, lambda: self._check_checker(msg.actor))

    @workflow.update
    async def correct(self, msg: Correct) -> BaseAdjustmentView:
        """The maker excludes or corrects lines before the declaration (an approval given is void)
        or after a refusal; the agency has not seen them yet."""
        async with case_ops.deciding(self, lambda: self._check_correction(msg)):
            try:
                self.totals = await kernel.run(contract.CORRECT, contract.Correct(
                    workflow_id=self._wf(), step=self.book.next_step(), corrections=msg.lines, reason=msg.reason,
                    policy=self.req.policy, effective_month=self.req.effective_month, declare_on=kernel.today(),
                    actor=msg.actor, at=workflow.now()), summary=f"correct {len(msg.lines)} lines")
            except ActivityError as err:
                cause = err.cause
                found = (getattr(cause, "details", None) or [{}])[0]
                raise kernel.refuse(Refusal.VALIDATION_FAILED, getattr(cause, "message", str(cause)),
                                    **{k: found[k] for k in ("field", "rule") if k in found}) from None
            self.version += 1
            if self.stage == APPROVED:
                self.note = f"经办人更正了 {len(msg.lines)} 行，原批准作废 (the maker corrected {len(msg.lines)} lines:" \
                            " the approval is void)"
                await self._submit(msg.actor, "corrected")
            else:
                await case_ops.audit(self.book.next_step(), "base_adjustment.corrected", actor=msg.actor,
                                     after={"lines": len(msg.lines), "reason": msg.reason,
                                            "back_pay_total": self.totals.back_pay_total})
        return self.view()

    @correct.validator
    def _validate_correct(self, msg: Correct) -> None:
        case_ops.check_when_open(self, lambda: self._check_correction(msg))

    @workflow.update
    async def resubmit(self, msg: Decide) -> BaseAdjustmentView:
        """After a rejection or a refusal: the corrected batch goes to the checker again."""
        async with case_ops.deciding(self, lambda: self._check_resubmit(msg)):
            await self.book.close_all("done", actor=msg.actor, reason=msg.reason, purpose_prefix="correct")
            await self.book.close_all("done", actor=msg.actor, reason=msg.reason, purpose_prefix="returned")
            self.note = None
            await self._submit(msg.actor, "resubmitted")
        return self.view()

    @resubmit.validator
    def _validate_resubmit(self, msg: Decide) -> None:
        case_ops.check_when_open(self, lambda: self._check_resubmit(msg))

    @workflow.update
    async def finish(self, msg: Decide) -> BaseAdjustmentView:
        """After a refusal: close the batch, the refused lines left undeclared (with the reason)."""
        async with case_ops.deciding(self, lambda: self._check_finish(msg)):
            self.finished = msg
        await workflow.wait_condition(lambda: self.stage != RETURNED)
        return self.view()

    @finish.validator
    def _validate_finish(self, msg: Decide) -> None:
        case_ops.check_when_open(self, lambda: self._check_finish(msg))

    @workflow.update
    async def revoke(self, msg: Decide) -> BaseAdjustmentView:
        """Inside the rollback window: the approval is revoked (back to the checker). After the
        declaration: every declared page is revoked at the agency (the compensation)."""
        async with case_ops.deciding(self, lambda: self._check_revoke(msg)):
            if self.stage == APPROVED:
                self.version += 1
                self.note = f"审批人撤销了批准：{msg.reason} (approval revoked: {msg.reason})"
                await self._submit(msg.actor, "revoked")
            else:
                self.revoke_request = msg
        await workflow.wait_condition(lambda: self.revoke_request is None or self.stage not in (DECLARED, REVOKING))
        return self.view()

    @revoke.validator
    def _validate_revoke(self, msg: Decide) -> None:
        case_ops.check_when_open(self, lambda: self._check_revoke(msg))

    @workflow.update
    async def withdraw(self, msg: Decide) -> BaseAdjustmentView:
        async with case_ops.deciding(self, lambda: self._check_withdraw(msg)):
            await self.book.close_all("cancelled", actor=msg.actor, reason=msg.reason)
            self.version += 1
            await self._stage(WITHDRAWN, status="withdrawn", actor=msg.actor, details={"reason": msg.reason})
        return self.view()

    @withdraw.validator
    def _validate_withdraw(self, msg: Decide) -> None:
        case_ops.check_when_open(self, lambda: self._check_withdraw(msg))

    @workflow.update
    async def opened(self) -> BaseAdjustmentView:
        return await case_ops.opened(self, self.view)

    @workflow.query
    def view(self) -> BaseAdjustmentView:
        return BaseAdjustmentView(
            workflow_id=self._wf(), stage=self.stage, city=self.req.city, effective_month=self.req.effective_month,
            reason=self.req.reason, maker=self.req.maker.user, approver=self.approver.user if self.approver else None,
            policy_version=self.req.policy.version, round=self.round, totals=self.totals,
            approved_total=self.approved_total, execute_after=self.execute_after, declared_on=self.declared_on,
            pages=list(self.pages), manual_task=self.manual_task, note=self.note)

    # ------------------------------------------------------------------ rules
    def _check_checker(self, actor: Actor) -> None:
        if actor.role != Role.HR_MANAGER:
            raise kernel.refuse(Refusal.WRONG_ROLE, f"只有人事经理可以审批，您的角色是 {actor.role}"
                                                    f" (only an hr_manager may decide; you are {actor.role})")
        if actor.is_user(self.req.maker.user):
            raise kernel.refuse(Refusal.SELF_APPROVAL, "经办人不能复核自己提交的批次 (the maker may not check their own batch)")
        self._check_stage(SUBMITTED)

    def _check_approval(self, msg: Approve) -> None:
        self._check_checker(msg.actor)
        t = self.totals
        if t.undecided:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"还有 {t.undecided} 名在保员工没有工资数据，请经办人核定或排除后再审批"
                                                           f" ({t.undecided} insured employees have no wage: the maker"
                                                           " sets or excludes them first)", field="lines",
                                rule="exceptions_decided")
        if not t.pending:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, "本批次没有需要申报的行 (nothing in the batch to declare)",
                                field="lines", rule="lines_to_declare")
        current = t.model_dump(mode="json")
        if msg.confirm_total is None:
            raise kernel.refuse(Refusal.CONFIRMATION_REQUIRED, f"请先确认补缴差额总额 {t.back_pay_total} 元"
                                                               f" (confirm the back-payment total of {t.back_pay_total} yuan)",
                                totals=current)
        if msg.confirm_total != t.back_pay_total:
            raise kernel.refuse(Refusal.STALE_CONFIRMATION, f"确认的金额 {msg.confirm_total} 与当前测算 {t.back_pay_total} 元不符"
                                                            f" (the confirmation {msg.confirm_total} does not match the"
                                                            f" current total {t.back_pay_total} yuan)", totals=current)

    def _check_maker(self, actor: Actor) -> None:
        if not actor.is_user(self.req.maker.user):
            raise kernel.refuse(Refusal.NOT_MAKER, "只有经办人可以办理 (only the maker may do this)")

    def _check_correction(self, msg: Correct) -> None:
        self._check_maker(msg.actor)
        self._check_stage(SUBMITTED, APPROVED, *MAKERS_TURN)

    def _check_resubmit(self, msg: Decide) -> None:
        self._check_maker(msg.actor)
        self._check_stage(*MAKERS_TURN)
        if not self.totals.pending:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, "没有待申报的行：请先更正被退回的行，或结束本批"
                                                           " (nothing to declare: correct the refused lines, or close"
                                                           " the batch)", field="lines", rule="lines_to_declare")

    def _check_finish(self, msg: Decide) -> None:
        if not msg.actor.is_user(self.req.maker.user) and msg.actor.role != Role.HR_MANAGER:
            raise kernel.refuse(Refusal.NOT_MAKER, "只有经办人或人事经理可以结束本批 (only the maker or an hr_manager may close it)")
        self._check_stage(RETURNED)
        if self.finished is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "本批正在结束 (the batch is closing)", stage=self.stage)

    def _check_revoke(self, msg: Decide) -> None:
        if self.stage == APPROVED:
            if self.approver is None or not msg.actor.is_user(self.approver.user):
                raise kernel.refuse(Refusal.NOT_APPROVER, "撤销期内只有原审批人可以撤销批准"
                                                          " (only the approver may revoke the approval inside the window)")
            return
        if self.stage == DECLARED and self.pages:
            if msg.actor.role != Role.HR_MANAGER:
                raise kernel.refuse(Refusal.WRONG_ROLE, f"只有人事经理可以撤销已申报的批次，您的角色是 {msg.actor.role}"
                                                        f" (only an hr_manager may revoke a declared batch; you are"
                                                        f" {msg.actor.role})")
            if self.revoke_request is not None:
                raise kernel.refuse(Refusal.WRONG_STAGE, "撤销已在办理中 (a revocation is already under way)", stage=self.stage)
            return
        raise kernel.refuse(Refusal.WRONG_STAGE, f"批次当前为“{self.stage}”，没有可撤销的内容"
                                                 f" (the batch is {self.stage}; nothing to revoke)", stage=self.stage)

    def _check_withdraw(self, msg: Decide) -> None:
        if not msg.actor.is_user(self.req.maker.user) and msg.actor.role != Role.HR_MANAGER:
            raise kernel.refuse(Refusal.NOT_MAKER, "只有经办人或人事经理可以撤回 (only the maker or an hr_manager may withdraw)")
        self._check_stage(*BEFORE_DECLARATION)

    def _check_stage(self, *stages: str) -> None:
        if self.stage not in stages:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"批次当前为“{self.stage}”，不能办理此操作"
                                                     f" (the batch is {self.stage}: not possible now)", stage=self.stage)

    # ------------------------------------------------------------------ plumbing
    async def _submit(self, actor: Actor, why: str) -> None:
        """To the checker: the approval task opens (again), on the totals as they stand. The stage
        moves at once: the main loop must not see an approval without its window."""
        self.approver, self.approved_total, self.execute_after = None, None, None
        self.stage = SUBMITTED
        await self.book.close_task("approve", "cancelled", actor=actor, reason=why)
        t = self.totals
        await self._stage(SUBMITTED, actor=actor, details={"why": why, "pending": t.pending,
                                                           "back_pay_total": t.back_pay_total})
        await self.book.open_task(
            "approve", f"审批{self.req.city_zh}社保基数调整：{t.pending} 行，补缴差额 {t.back_pay_total} 元"
                       f" (Approve the {self.req.city} base adjustment: {t.pending} lines, back-payment"
                       f" {t.back_pay_total} yuan)", Role.HR_MANAGER)

    async def _count(self, declare_on: dt.date) -> Totals:
        return await kernel.run(contract.COUNT, contract.Count(
            workflow_id=self._wf(), policy=self.req.policy, effective_month=self.req.effective_month,
            declare_on=declare_on), summary="count the lines")

    async def _stage(self, stage: str, *, status: str | None = None, actor: Actor = SYSTEM,
                     next_due_at: dt.datetime | None = None, details: dict[str, object] | None = None,
                     current: str | None = None) -> None:
        t = self.totals
        await case_ops.change_stage(
            self.book.next_step(), stage, status=status, next_due_at=next_due_at, actor=actor, details=details,
            current_details=current or f"{self._summary()}: {stage}; {t.lines} lines, {t.pending} to declare,"
                                       f" back-payment {t.back_pay_total}")
        self.stage = stage

    def _summary(self) -> str:
        return (f"{self.req.city_zh} {self.req.effective_month} 起缴费基数年度调整"
                f" (annual base adjustment, {self.req.city}, from {self.req.effective_month})")

    @staticmethod
    def _wf() -> str:
        return workflow.info().workflow_id
