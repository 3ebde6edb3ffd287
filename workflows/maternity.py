"""MaternityLeaveWorkflow: one leave, from application to the last fen of the advance recovered.

Seed 000: the company advanced her personal social-insurance contribution during leave, she came
back and then resigned, HR never started the deduction and finance never told HR. Here every
hand-over is a recorded step with an owner: HR approves the leave; at leave start her status
becomes "on maternity leave, return pending" and finance is told; each payroll cut-off on leave
books that month's advance as a receivable; HR confirms her return, which starts the deduction;
finance confirms each deduction; the case closes only when nothing is owed, and a departure with
money open keeps it open, in plain view, until the money is settled or written off by finance
and an hr_manager together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import case_ops, kernel
from workflows.approval_chain import ApprovalChain, ApprovalView
from workflows.routed_case import APPROVER_ROUTES, RoutedCase

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.contracts import maternity as contract
    from domain.contracts.cases import CloseTask
    from domain.contracts.outbox import MATERNITY_NOTIFY, Recipient
    from domain.employment import SIGNAL as EMPLOYMENT_SIGNAL
    from domain.employment import EmploymentEvent
    from domain.maternity import ON_LEAVE_STATUS, allowance, installments, months_on_leave_at_cutoff
    from domain.policy.maternity import BirthFacts, LeaveEntitlement
    from domain.policy.pinning import MaternitySnapshot
    from domain.refusals import Refusal
    from domain.roles import Role
    from domain.si_change import personal_monthly

KIND = "maternity"
PROVINCIAL_GAP = "provincial_extension:"  # how pin_maternity names a leave pinned on national law alone
DECISION = "maternity.approve"  # its approver route (domain.approval_routes)
TITLES = {"applied": ("审批产假申请", "Approve maternity leave application"),
          "corrected": ("审批已更正的产假申请", "Approve corrected maternity leave application")}

APPLIED, REJECTED, APPROVED, ON_LEAVE = "applied", "rejected", "approved", "on_leave"
RETURN_OVERDUE, DEDUCTING, DEPARTED_UNSETTLED = "return_overdue", "deducting", "departed_unsettled"
WITHDRAWN, CANCELLED, CLOSED = "withdrawn", "cancelled", "closed"


class MaternityRequest(BaseModel):
    employee_id: str
    manager_id: str | None = None
    province: str
    city: str
    department: str = ""
    facts: BirthFacts  # expected birth, babies, difficult birth, planned leave start
    company_pays_salary: bool
    monthly_salary: Decimal = Field(ge=0, description="her pay, for reconciling the allowance")
    contribution_base: Decimal = Field(ge=0)
    employer_average_wage: Decimal | None = Field(default=None, description="allowance wage basis")
    filed_by: Actor
    today: dt.date
    policy: MaternitySnapshot
    payroll_cutoff_day: int = 25
    deduction_installments: int = 1
    return_reminder_days: int = 7
    return_grace_days: int = 3
    leaving_on: dt.date | None = None  # her notice was given already: her last day


class Decision(BaseModel):
    actor: Actor
    reason: str | None = None


class Correction(BaseModel):
    actor: Actor
    reason: str = Field(min_length=1)
    facts: BirthFacts


class Birth(BaseModel):
    actor: Actor
    birth_date: dt.date
    babies: int = Field(default=1, ge=1)
    difficult_birth: bool = False


class ExtensionDecision(BaseModel):
    actor: Actor
    approve: bool
    reason: str | None = None


class Extension(BaseModel):
    actor: Actor
    days: int = Field(gt=0, le=366)
    kind: str = Field(description="medical_certificate or local_extra_leave")
    reason: str = Field(min_length=1)


class ReturnReport(BaseModel):
    actor: Actor
    date: dt.date


class Money(BaseModel):
    actor: Actor
    amount: Decimal = Field(gt=0, decimal_places=2)
    reference: str | None = None


NewPolicy = case_ops.NewPolicy[MaternitySnapshot]  # a rule change that must reach this running leave


class ExternalSettlement(BaseModel):
    """Money recovered by another case, settled here (cases from before the ledger's claims; see
    ``LedgerChanged``)."""

    actor: Actor
    amount: Decimal = Field(gt=0, decimal_places=2)
    method: str = Field(pattern=r"^(payroll_deduction|repayment)$")
    reference: str


class LedgerChanged(BaseModel):
    """Another case recovered part of this case's receivables in the ledger (offboarding's final
    pay, say), or gave some back (its final pay voided): the balance is read again, never recovered
    here a second time."""

    actor: Actor
    amount: Decimal  # taken from this case's receivables; negative when given back
    reference: str


class BaseAdjusted(BaseModel):
    """The annual base adjustment changed her base while she is on leave: her share of its
    back-payment, which the company advanced, is owed as well (booked to this case's receivables
    by the batch); her later advances are on the new base. A revocation sends the reverse (a
    negative ``advance``, her old base). Applied once per ``reference``."""

    reference: str  # the batch and its page (or its revocation)
    actor: Actor
    new_base: Decimal
    advance: Decimal


class MaternityView(BaseModel):
    workflow_id: str
    employee_id: str
    stage: str
    leave_start: dt.date
    last_day: dt.date
    expected_return: dt.date
    total_days: int
    policy_version: str
    si_status_changed: bool
    advances_booked: dict[str, Decimal]
    base_differences: dict[str, Decimal] = Field(default_factory=dict, description="her share of base back-payments")
    deductions_planned: list[Decimal]
    settled: Decimal
    outstanding: Decimal
    departed_on: dt.date | None
    leaving_on: dt.date | None = None  # her last day, once her notice is given
    allowance_expected: Decimal | None
    allowance_claim_no: str | None
    allowance_difference: Decimal | None
    pending_extension: Extension | None
    write_off_approvals: dict[str, str]
    next_deadline: dt.datetime | None
    approval: ApprovalView | None = None  # the approver route (cases begun under APPROVER_ROUTES)


@workflow.defn
class MaternityLeaveWorkflow(RoutedCase):
    @workflow.init
    def __init__(self, req: MaternityRequest) -> None:
        self.req = req
        self.policy = req.policy
        self.stage = APPLIED
        self.extra_days = 0
        self.pending_extension: Extension | None = None
        self.returned_on: dt.date | None = None
        self.return_reported: ReturnReport | None = None
        self.departed_on: dt.date | None = None
        self.cancel_request: Decision | None = None
        self.advances: dict[str, Decimal] = {}
        self.base_differences: dict[str, Decimal] = {}  # reference -> her share of a base adjustment's back-pay
        self.base: Decimal | None = None  # her base since a base adjustment (else the one she started on)
        self.settled = Decimal("0.00")
        self.plan: list[Decimal] = []
        self.write_off: dict[str, str] = {}  # role -> user
        self.allowance_expected: Decimal | None = None
        self.allowance_claim_no: str | None = None
        self.allowance_difference: Decimal | None = None
        self.si_status_changed = False
        self.book = case_ops.CaseBook("m")
        self.next_deadline: dt.datetime | None = None
        self.tracked_return: dt.date | None = None  # the return date the reminder sweep knows
        self.undo = case_ops.Compensations()
        self.case_open = False
        self.leaving_on: dt.date | None = req.leaving_on  # her last day, once her notice is given
        self.employment_events: list[str] = []  # events applied (each once)
        self.chain: ApprovalChain | None = None  # the approver route (cases begun under APPROVER_ROUTES)
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ derived
    @property
    def leave(self) -> LeaveEntitlement:
        return self.policy.leave

    @property
    def last_day(self) -> dt.date:
        return self.leave.last_day + timedelta(days=self.extra_days)

    @property
    def expected_return(self) -> dt.date:
        return self.last_day + timedelta(days=1)

    @property
    def outstanding(self) -> Decimal:
        return self.owed - self.settled

    @property
    def owed(self) -> Decimal:
        """Everything advanced: each month's contribution and her share of any base back-payment."""
        return sum(self.advances.values(), Decimal("0.00")) + sum(self.base_differences.values(), Decimal("0.00"))

    @property
    def monthly_advance(self) -> Decimal:
        """Her personal contribution a month, which the company advances while she is on leave (only
        when it does not pay her salary; such a leave is started only with the city's rates)."""
        rates = self.policy.rates
        assert rates is not None, "a leave with advances is pinned on the city's contribution rates"
        return personal_monthly(self.base or self.req.contribution_base, rates)

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, req: MaternityRequest) -> MaternityView:
        return await case_ops.run_to_end(self._lifecycle(req), self.view)

    async def _lifecycle(self, req: MaternityRequest) -> None:
        async with self._lock:
            await case_ops.open_case(
                kind=KIND, employee_id=req.employee_id, stage=APPLIED, province=req.province,
                department=req.department, policy_version=self.policy.version, actor=req.filed_by,
                summary=(f"产假 {self.leave.leave_start} 至 {self.last_day}，共 {self.leave.total_days} 天 (maternity leave"
                         f" {self.leave.leave_start} to {self.last_day}, {self.leave.total_days} days)"),
                details={"leave_start": self.leave.leave_start, "expected_return": self.expected_return,
                         "total_days": self.leave.total_days})
            if workflow.patched(APPROVER_ROUTES):
                await self._route_approval("applied")
            else:
                await self.book.open_task("approve", "审批产假申请 (Approve maternity leave application)", Role.HR_SPECIALIST)
            await self._confirm_policy_gaps()
            self.case_open = True
        await workflow.wait_condition(lambda: self.stage in (APPROVED, WITHDRAWN))
        if self.stage == WITHDRAWN:
            return
        # Until the leave starts she may still withdraw; nothing has been done yet that needs undoing.
        # A birth reported before the planned start moves the start to the birth: wait again.
        while True:
            planned = self.leave.leave_start
            try:
                await workflow.wait_condition(
                    partial(self._withdrawn_or_start_moved, planned),
                    timeout=max(kernel.at(planned, 0) - workflow.now(), timedelta(0)),
                    timeout_summary="until the leave starts")
            except TimeoutError:
                break
            if self.stage == WITHDRAWN:
                return
        await self._start_leave()
        if not await self._during_leave():
            await self._cancel()
            return
        await self._recover()

    async def _confirm_policy_gaps(self) -> None:
        """Where the province's own extension is not in the catalogue the leave was pinned on
        national law alone: HR confirms the local figure (and enters it as a notice) by hand,
        never a silent guess."""
        gaps = [g for g in self.policy.gaps if g.startswith(PROVINCIAL_GAP)]
        if gaps and workflow.patched("policy-gap-tasks"):
            await self.book.open_task(
                "confirm-provincial-extension",
                f"确认本省产假延长天数（目前仅按国家 {self.leave.total_days} 天计算）"
                f" (confirm the provincial extension: only the national days are counted)", Role.HR_SPECIALIST,
                by_hand=True)

    async def _start_leave(self) -> None:
        async with self._lock:
            previous = await kernel.run(contract.SET_SI_STATUS, contract.SetSiStatus(
                workflow_id=self._wf(), step="si-status-on-leave", employee_id=self.req.employee_id,
                status=ON_LEAVE_STATUS, at=workflow.now()), summary="social insurance: on maternity leave")
            self.si_status_changed = True

            async def restore_status() -> None:
                await kernel.run(contract.SET_SI_STATUS, contract.SetSiStatus(
                    workflow_id=self._wf(), step="si-status-restored", employee_id=self.req.employee_id,
                    status=previous, at=workflow.now()), summary="social insurance: status restored")
                self.si_status_changed = False
            self.undo.add("status restored", restore_status)

            if not self.req.company_pays_salary:
                monthly = self.monthly_advance
                await self._notify("finance-told", [Recipient(kind="role", who=Role.FINANCE)], "maternity.advance_starts",
                                   {"employee_id": self.req.employee_id, "monthly_advance": monthly,
                                    "from": self.leave.leave_start, "expected_return": self.expected_return})

                async def tell_finance_cancelled() -> None:
                    await self._notify("finance-told-cancelled", [Recipient(kind="role", who=Role.FINANCE)],
                                       "maternity.advance_cancelled", {"employee_id": self.req.employee_id})
                self.undo.add("finance told", tell_finance_cancelled)
            await self._stage(ON_LEAVE, current=f"on leave until {self.last_day}; return {self.expected_return}")

    async def _during_leave(self) -> bool:
        """Book each month's advance at the payroll cut-off, remind before the return, escalate
        when she is late. Returns False when the leave was cancelled."""
        reminded = escalated = False
        while self.returned_on is None:
            if self.cancel_request is not None:
                await self._track_return("cancelled")
                return False
            await self._track_return("open")
            events: list[tuple[dt.datetime, str]] = []
            # Her employment may end before the leave does: nothing is advanced after her last day,
            # and nobody waits for a return that will not come.
            ends = min(self.last_day, self.leaving_on) if self.leaving_on else self.last_day
            comes_back = self.leaving_on is None or self.leaving_on >= self.expected_return
            if not self.req.company_pays_salary:
                for day in months_on_leave_at_cutoff(self.leave.leave_start, ends, self.req.payroll_cutoff_day):
                    if f"{day:%Y-%m}" not in self.advances:
                        events.append((kernel.at(day, 18), f"book:{day:%Y-%m}"))
            if not reminded and comes_back:
                events.append((kernel.at(self.expected_return - timedelta(days=self.req.return_reminder_days), 9), "remind"))
            if not escalated and comes_back:
                events.append((kernel.at(self.expected_return + timedelta(days=self.req.return_grace_days), 9), "escalate"))
            if not events:
                await workflow.wait_condition(partial(self._leave_over_or_leaving_moved, self.leaving_on))
                continue
            when, what = min(events)
            self.next_deadline = when
            # Current details are not a command (an upsert would be): safe to change in running cases.
            workflow.set_current_details(f"{self.stage}: return expected {self.expected_return};"
                                         f" next: {what} at {when:%Y-%m-%d %H:%M} (UTC+8);"
                                         f" advanced so far {self.outstanding}")
            try:
                await workflow.wait_condition(partial(self._horizon_moved, self._horizon()),
                                              timeout=max(when - workflow.now(), timedelta(0)), timeout_summary=what)
                continue  # something changed: recompute the next event
            except TimeoutError:
                pass
            async with self._lock:
                if what.startswith("book:"):
                    await self._book(what.removeprefix("book:"))
                elif what == "remind":
                    reminded = True
                    who = [Recipient(kind="employee", who=self.req.employee_id), Recipient(kind="role", who=Role.HR_SPECIALIST)]
                    if self.req.manager_id:
                        who.append(Recipient(kind="employee", who=self.req.manager_id))
                    await self._notify("return-reminder", who, "maternity.return_reminder",
                                       {"employee_id": self.req.employee_id, "expected_return": self.expected_return})
                else:
                    escalated = True
                    await self._stage(RETURN_OVERDUE, current=f"return overdue since {self.expected_return}")
                    await self.book.open_task("return-overdue", f"自 {self.expected_return} 起逾期未返岗：请联系 {self.req.employee_id}，"
                                          f"确认返岗或原因 (Return overdue since {self.expected_return}: contact"
                                          f" {self.req.employee_id} and confirm the return or the reason)", Role.HR_MANAGER)
        await self._track_return("cancelled" if self.departed_on else "met")
        return True

    def _withdrawn_or_start_moved(self, planned: dt.date) -> bool:
        return self.stage == WITHDRAWN or self.leave.leave_start != planned

    def _leave_over_or_leaving_moved(self, leaving_on: dt.date | None) -> bool:
        return self.returned_on is not None or self.cancel_request is not None or self.leaving_on != leaving_on

    def _horizon(self) -> tuple[int, dt.date | None, Decision | None, dt.date | None]:
        """What the next event of the leave is planned on: when it moves, the plan is made again."""
        return self.extra_days, self.returned_on, self.cancel_request, self.leaving_on

    def _horizon_moved(self, planned_on: tuple[int, dt.date | None, Decision | None, dt.date | None]) -> bool:
        return self._horizon() != planned_on

    async def _track_return(self, status: str) -> None:
        """Keep the reminder sweep's copy of her return date current (cases from before the patch
        never recorded one, and do not start to)."""
        if status == "open" and self.tracked_return == self.expected_return:
            return
        if status != "open" and self.tracked_return is None:
            return  # never recorded, or already closed
        if not workflow.patched(case_ops.TRACK_DEADLINES):
            return
        await case_ops.track_deadline("maternity_return", self.req.employee_id, kernel.at(self.expected_return, 9),
                                      status=status, details={"expected_return": self.expected_return,
                                                              "returned_on": self.returned_on})
        self.tracked_return = self.expected_return if status == "open" else None

    async def _book(self, month: str) -> None:
        amount = self.monthly_advance
        booked = await kernel.run(contract.BOOK_ADVANCE, contract.BookAdvance(
            workflow_id=self._wf(), employee_id=self.req.employee_id, month=month, amount=amount,
            at=workflow.now()), summary=f"book {month} advance {amount}")
        if not booked:  # another case already booked her advance for this month: not twice, and say so
            self.advances[month] = Decimal("0.00")
            await self.book.open_task(f"advance-conflict-{month}", f"{month}：{self.req.employee_id} 的垫付款已由另一案件记账，请核对由哪个案件扣回"
                                      f" ({month}: the advance of {self.req.employee_id}"
                                      " was already booked by another case; check which case recovers it)", Role.FINANCE, by_hand=True)
            return
        self.advances[month] = amount
        await case_ops.audit(self.book.next_step(), "maternity.advance_booked", subject=self.req.employee_id,
                             after={"month": month, "amount": amount, "outstanding": self.outstanding})

    async def _cancel(self) -> None:
        """Undo what leave start did, newest first; a failing undo becomes a task, never silence."""
        request = self.cancel_request
        assert request is not None
        async def by_hand(label: str, cause: BaseException) -> None:
            await self.book.open_task(f"undo-{label}", f"线下撤销：{label}（{cause}）(Undo by hand: {label} ({cause}))",
                                      Role.HR_MANAGER, by_hand=True)
        await self.undo.run(by_hand)
        if workflow.patched("undo-tasks-stay-open"):  # a failed undo stays in the manager's inbox until done
            await self.book.close_all("cancelled", actor=request.actor, reason=request.reason, keep=("undo-",))
        else:
            await self.book.close_all("cancelled", actor=request.actor, reason=request.reason)
        owed = self.outstanding
        await self._stage(CANCELLED, status=None if owed else "withdrawn", actor=request.actor,
                          details={"reason": request.reason, "advances_booked": owed})
        if owed:  # advances already booked are still owed: recover them, never close silently
            self.returned_on = kernel.today()
            await self._recover()

    async def _recover(self) -> None:
        """After the return (or a departure): deduct, settle or write off until nothing is owed."""
        if self.outstanding > 0 and self.departed_on is None:
            self.plan = installments(self.outstanding, self.req.deduction_installments)
            await self._stage(DEDUCTING, current=f"deducting {self.outstanding} in {len(self.plan)} payroll(s)")
            await self.book.open_task("confirm-deductions", f"从工资中扣回垫付的个人缴费 {self.outstanding} 元（分 {len(self.plan)} 期），逐期确认"
                                  f" (Deduct {self.outstanding} advanced contributions from"
                                  f" payroll ({len(self.plan)} installment(s)) and confirm each)", Role.FINANCE)
            await self._notify("deduction-start", [Recipient(kind="role", who=Role.FINANCE),
                                                   Recipient(kind="employee", who=self.req.employee_id)],
                               "maternity.deduction_starts", {"employee_id": self.req.employee_id,
                                                              "total": self.outstanding, "installments": self.plan})
        while self.outstanding > 0:
            await workflow.wait_condition(lambda: self.outstanding == 0 or self._needs_departure_stage())
            if self._needs_departure_stage():
                async with self._lock:
                    await self._stage(DEPARTED_UNSETTLED, current=f"departed {self.departed_on} owing {self.outstanding}")
                    await self.book.open_task("departed-unsettled", f"{self.req.employee_id} 离职时尚欠产假垫付款 {self.outstanding} 元：协商或仲裁追回，或核销"
                                          f" ({self.req.employee_id} left owing {self.outstanding}"
                                          " (maternity advances): recover by agreement or arbitration, or write off)",
                                          Role.FINANCE)
        if workflow.patched(case_ops.TASKS_BY_DECISION):
            # Finance's own last settlement closed its tasks; what is still open no decision will
            # close: cancelled with the reason. By-hand work stays with its owner.
            await self.book.cancel_all("nothing is owed on this case any more (recovered, or written off)",
                                       keep=("undo-", "advance-conflict-"))
        else:
            await self.book.close_all("done", actor=SYSTEM, reason="nothing is owed")
        await self._stage(CLOSED, status="completed", details={"settled": self.settled})

    def _needs_departure_stage(self) -> bool:
        return self.departed_on is not None and self.outstanding > 0 and self.stage != DEPARTED_UNSETTLED

    # ------------------------------------------------------------------ messages
    @workflow.update
    async def approve(self, msg: Decision) -> MaternityView:
        async with case_ops.deciding(self, lambda: self._check_hr_decision(msg)):
            closes = await self._signed(msg.actor, lambda: self.book.closing("approve", "approved", actor=msg.actor))
            if closes is None:
                return self.view()  # the route's next signatures are awaited
            await self._stage(APPROVED, actor=msg.actor, current=f"approved; leave starts {self.leave.leave_start}",
                              closes=closes)
        return self.view()

    @approve.validator
    def _v_approve(self, msg: Decision) -> None:
        case_ops.check_when_open(self, lambda: self._check_hr_decision(msg))

    @workflow.update
    async def reject(self, msg: Decision) -> MaternityView:
        async with case_ops.deciding(self, lambda: self._check_hr_decision(msg, reason_required=True)):
            closes = await self._rejected(msg.actor, msg.reason or "", lambda: self.book.closing(
                "approve", "rejected", actor=msg.actor, reason=msg.reason))
            await self._stage(REJECTED, actor=msg.actor, details={"reason": msg.reason}, closes=closes)
            await self.book.open_task("correct", "产假申请被驳回：请更正后重新提交 (Maternity leave application rejected: correct and resubmit)",
                                  Role.HR_SPECIALIST)
        return self.view()

    @reject.validator
    def _v_reject(self, msg: Decision) -> None:
        case_ops.check_when_open(self, lambda: self._check_hr_decision(msg, reason_required=True))

    @workflow.update
    async def resubmit(self, msg: Correction) -> MaternityView:
        async with case_ops.deciding(self, lambda: self._check_resubmit(msg)):
            snapshot = await kernel.run(contract.RECOMPUTE, contract.Recompute(
                province=self.req.province, city=self.req.city, facts=msg.facts, on=self.policy.on),
                summary="recompute entitlement for the corrected application")
            self.policy = snapshot
            await self.book.close_task("correct", "done", actor=msg.actor, reason="resubmitted")
            await self._stage(APPLIED, actor=msg.actor, details={"corrected": msg.reason,
                                                                  "expected_return": self.expected_return})
            if self.chain is not None:
                await self._route_approval("corrected", version=self.chain.route.version)
            else:
                await self.book.open_task("approve", "审批已更正的产假申请 (Approve corrected maternity leave application)",
                                          Role.HR_SPECIALIST)
        return self.view()

    @resubmit.validator
    def _v_resubmit(self, msg: Correction) -> None:
        case_ops.check_when_open(self, lambda: self._check_resubmit(msg))

    @workflow.update
    async def withdraw(self, msg: Decision) -> MaternityView:
        """Before the leave starts: withdrawn. During it: cancelled, and what leave start did is undone."""
        async with case_ops.deciding(self, lambda: self._check_withdraw(msg)):
            if self.stage in (APPLIED, REJECTED, APPROVED):
                if self.chain is not None:
                    await self.chain.cancel("cancelled", msg.reason or "撤回 (withdrawn)", msg.actor)
                await self.book.close_all("cancelled", actor=msg.actor, reason=msg.reason)
                await self._stage(WITHDRAWN, status="withdrawn", actor=msg.actor, details={"reason": msg.reason})
            else:
                self.cancel_request = msg
        await workflow.wait_condition(lambda: self.stage in (WITHDRAWN, CANCELLED, CLOSED, DEDUCTING, DEPARTED_UNSETTLED))
        return self.view()

    @withdraw.validator
    def _v_withdraw(self, msg: Decision) -> None:
        case_ops.check_when_open(self, lambda: self._check_withdraw(msg))

    @workflow.update
    async def report_birth(self, msg: Birth) -> MaternityView:
        """The actual birth: entitlement and return date recomputed and audited; allowance claimed."""
        await case_ops.wait_until_open(self, lambda: self._check_birth(msg))
        async with self._lock:
            self._check_staff_or_self(msg.actor, "报告分娩情况", "report the birth")
            before = {"leave_start": self.leave.leave_start, "total_days": self.leave.total_days,
                      "expected_return": self.expected_return, "version": self.policy.version}
            facts = self.req.facts.model_copy(update={"birth_date": msg.birth_date, "babies": msg.babies,
                                                     "difficult_birth": msg.difficult_birth,
                                                     "leave_start": min(self.leave.leave_start, msg.birth_date)})
            try:
                self.policy = await kernel.run(contract.RECOMPUTE, contract.Recompute(
                    province=self.req.province, city=self.req.city, facts=facts, on=self.policy.on),
                    summary="recompute entitlement for the actual birth")
            except ActivityError as err:
                raise kernel.refuse(Refusal.VALIDATION_FAILED, f"无法重新计算产假待遇：{err.cause}"
                                                               f" (cannot recompute the entitlement: {err.cause})") from None
            await case_ops.audit(self.book.next_step(), "maternity.entitlement_recomputed", actor=msg.actor,
                                 subject=self.req.employee_id, before=before,
                                 after={"birth_date": msg.birth_date, "babies": msg.babies,
                                        "difficult_birth": msg.difficult_birth, "total_days": self.leave.total_days,
                                        "expected_return": self.expected_return, "version": self.policy.version})
            if self.req.employer_average_wage is not None:
                self.allowance_expected = allowance(self.req.employer_average_wage, self.leave.total_days,
                                                    self.policy.allowance.divisor)
                self.allowance_claim_no = await kernel.run(contract.CLAIM_ALLOWANCE, contract.ClaimAllowance(
                    workflow_id=self._wf(), employee_id=self.req.employee_id, city=self.req.city,
                    birth_date=msg.birth_date, leave_days=self.leave.total_days,
                    expected_amount=self.allowance_expected), summary="claim the maternity allowance", options=kernel.AGENCY_CALL)
        return self.view()

    @report_birth.validator
    def _v_birth(self, msg: Birth) -> None:
        case_ops.check_when_open(self, lambda: self._check_birth(msg))

    @workflow.update
    async def request_extension(self, msg: Extension) -> MaternityView:
        async with case_ops.deciding(self, lambda: self._check_extension_request(msg)):
            self.pending_extension = msg
            await self.book.open_task("extension", f"审批延长 {msg.days} 天（{msg.kind}）：{msg.reason} (Approve {msg.days} more days ({msg.kind}):"
                                      f" {msg.reason})", Role.HR_MANAGER)
        return self.view()

    @request_extension.validator
    def _v_ext(self, msg: Extension) -> None:
        case_ops.check_when_open(self, lambda: self._check_extension_request(msg))

    @workflow.update
    async def decide_extension(self, msg: ExtensionDecision) -> MaternityView:
        async with case_ops.deciding(self, lambda: self._check_extension_decision(msg)):
            ext, self.pending_extension = self.pending_extension, None
            assert ext is not None
            await self.book.close_task("extension", "approved" if msg.approve else "rejected", actor=msg.actor,
                                   reason=msg.reason)
            if msg.approve:
                before = self.expected_return
                self.extra_days += ext.days
                await case_ops.audit(self.book.next_step(), "maternity.leave_extended", actor=msg.actor,
                                     subject=self.req.employee_id, before={"expected_return": before},
                                     after={"expected_return": self.expected_return, "days": ext.days, "kind": ext.kind})
        return self.view()

    @decide_extension.validator
    def _v_ext_decision(self, msg: ExtensionDecision) -> None:
        case_ops.check_when_open(self, lambda: self._check_extension_decision(msg))

    @workflow.update
    async def report_return(self, msg: ReturnReport) -> MaternityView:
        """Employee self-service: she says she is back; HR confirms it."""
        async with case_ops.deciding(self, lambda: self._check_return_report(msg)):
            self.return_reported = msg
            await self.book.open_task("confirm-return", f"确认 {self.req.employee_id} 于 {msg.date} 返岗 (Confirm {self.req.employee_id}'s return on"
                                      f" {msg.date})", Role.HR_SPECIALIST)
        return self.view()

    @report_return.validator
    def _v_report_return(self, msg: ReturnReport) -> None:
        case_ops.check_when_open(self, lambda: self._check_return_report(msg))

    @workflow.update
    async def confirm_return(self, msg: ReturnReport) -> MaternityView:
        async with case_ops.deciding(self, lambda: self._check_confirm_return(msg)):
            await self.book.close_task("confirm-return", "done", actor=msg.actor)
            await self.book.close_task("return-overdue", "done", actor=msg.actor, reason=f"returned {msg.date}")
            await kernel.run(contract.SET_SI_STATUS, contract.SetSiStatus(
                workflow_id=self._wf(), step="si-status-returned", employee_id=self.req.employee_id,
                status="normal", at=workflow.now(), actor=msg.actor), summary="social insurance: back to normal")
            self.si_status_changed = False
            self.undo.clear()
            if not self.req.company_pays_salary and workflow.patched("reconcile-advances-with-return"):
                self.advances = await kernel.run(contract.RECONCILE_RETURN, contract.ReconcileReturn(
                    workflow_id=self._wf(), employee_id=self.req.employee_id, leave_start=self.leave.leave_start,
                    returned_on=msg.date, cutoff_day=self.req.payroll_cutoff_day,
                    amount=self.monthly_advance, at=workflow.now()),
                    summary=f"advances as of the actual return on {msg.date}")
            await case_ops.audit(self.book.next_step(), "maternity.return_confirmed", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"returned_on": msg.date, "expected_return": self.expected_return,
                                        "outstanding": self.outstanding})
            self.returned_on = msg.date
        return self.view()

    @confirm_return.validator
    def _v_confirm_return(self, msg: ReturnReport) -> None:
        case_ops.check_when_open(self, lambda: self._check_confirm_return(msg))

    @workflow.update
    async def confirm_deduction(self, msg: Money) -> MaternityView:
        """Finance confirms a payroll deduction as it happens; the receivable falls by exactly that."""
        await case_ops.wait_until_open(self, lambda: self._check_deduction(msg))
        return await self._settle(msg, "payroll_deduction", self._check_deduction)

    @confirm_deduction.validator
    def _v_deduction(self, msg: Money) -> None:
        case_ops.check_when_open(self, lambda: self._check_deduction(msg))

    @workflow.update
    async def report_settlement(self, msg: Money) -> MaternityView:
        """Finance confirms a repayment (after departure: by agreement or an arbitration award)."""
        await case_ops.wait_until_open(self, lambda: self._check_repayment(msg))
        return await self._settle(msg, "repayment", self._check_repayment)

    @report_settlement.validator
    def _v_settlement(self, msg: Money) -> None:
        case_ops.check_when_open(self, lambda: self._check_repayment(msg))

    @workflow.update
    async def report_departure(self, msg: ReturnReport) -> MaternityView:
        """She resigned or left: deductions from salary stop; what is open stays open and visible."""
        async with case_ops.deciding(self, lambda: self._check_departure(msg)):
            self.departed_on = msg.date
            if self.returned_on is None:
                self.returned_on = msg.date  # the leave ends with the employment
            await case_ops.audit(self.book.next_step(), "maternity.departure_reported", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"departed_on": msg.date, "outstanding": self.outstanding,
                                        "months": sorted(self.advances)})
            await self._payroll_tasks_end(msg.date)
        return self.view()

    @workflow.signal(name=EMPLOYMENT_SIGNAL)
    async def employment_changed(self, event: EmploymentEvent) -> None:
        """Her offboarding tells this case of her notice, its withdrawal and her departure."""
        await case_ops.wait_until_open(self)
        async with self._lock:
            if event.id in self.employment_events:
                return
            self.employment_events.append(event.id)
            reaction = "noted"
            if event.kind == "notice_given":
                self.leaving_on, reaction = event.on, "no advance after her last day"
            elif event.kind == "notice_withdrawn":
                self.leaving_on, reaction = None, "advances as before"
            elif self.stage in (APPLIED, REJECTED, APPROVED):
                if self.chain is not None:
                    await self.chain.cancel("cancelled", f"她的劳动关系已于 {event.on} 结束 (her employment ended on {event.on})")
                await self.book.cancel_all(f"her employment ended on {event.on}: the leave never started")
                await self._stage(WITHDRAWN, status="withdrawn", details={"reason": f"employment ended {event.on}"})
                reaction = "withdrawn: the leave never started"
            elif self.departed_on is None and self.stage not in (WITHDRAWN, CANCELLED, CLOSED):
                self.departed_on = event.on
                if self.returned_on is None:
                    self.returned_on = event.on  # the leave ends with the employment
                await self._payroll_tasks_end(event.on)
                reaction = "departed: what is open is recovered from final pay or followed up"
            await case_ops.audit(self.book.next_step(), f"maternity.employment_{event.kind}",
                                 subject=self.req.employee_id,
                                 after={"on": event.on, "source": event.source, "reaction": reaction,
                                        "outstanding": self.outstanding})

    async def _payroll_tasks_end(self, day: dt.date) -> None:
        """She is off the payroll: no deduction or return is waited for any more."""
        if not workflow.patched(case_ops.TASKS_BY_DECISION):
            return
        for purpose in ("confirm-deductions", "confirm-return", "return-overdue", "extension"):
            await self.book.cancel_task(purpose, f"she left on {day}: no payroll deduction or return any more;"
                                        " what she owes is recovered from final pay or followed up by finance")

    @report_departure.validator
    def _v_departure(self, msg: ReturnReport) -> None:
        case_ops.check_when_open(self, lambda: self._check_departure(msg))

    @workflow.update
    async def approve_write_off(self, msg: Decision) -> MaternityView:
        """A write-off needs finance and an hr_manager, two different people; each approval is audited."""
        async with case_ops.deciding(self, lambda: self._check_write_off(msg)):
            self.write_off[msg.actor.role] = msg.actor.user
            await case_ops.audit(self.book.next_step(), "maternity.write_off_approved", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"outstanding": self.outstanding, "reason": msg.reason,
                                        "approvals": dict(self.write_off)})
            if set(self.write_off) == {Role.FINANCE, Role.HR_MANAGER}:
                await self._apply_settlement(Money(actor=msg.actor, amount=self.outstanding,
                                                   reference="write-off"), "write_off")
        return self.view()

    @approve_write_off.validator
    def _v_write_off(self, msg: Decision) -> None:
        case_ops.check_when_open(self, lambda: self._check_write_off(msg))

    @workflow.update
    async def allowance_paid(self, msg: Money) -> MaternityView:
        """The agency paid the allowance: reconcile it with the salary paid during the leave."""
        await case_ops.wait_until_open(self)
        async with self._lock:
            if msg.actor.role != Role.FINANCE:
                raise kernel.refuse(Refusal.WRONG_ROLE, "生育津贴的发放由财务登记 (only finance reports the allowance payment)")
            kernel.not_the_subject(msg.actor, self.req.employee_id)
            days = self.leave.total_days + self.extra_days
            paid_salary = (self.req.monthly_salary * days / 30).quantize(Decimal("0.01")) \
                if self.req.company_pays_salary else Decimal("0.00")
            self.allowance_difference = msg.amount - paid_salary
            owed_to = "employee" if self.allowance_difference > 0 else "company_tops_up"
            await case_ops.audit(self.book.next_step(), "maternity.allowance_reconciled", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"allowance": msg.amount, "expected": self.allowance_expected,
                                        "salary_paid_during_leave": paid_salary,
                                        "difference": self.allowance_difference, "owed_to": owed_to,
                                        "reference": msg.reference})
            if self.allowance_difference > 0:
                await self._notify("allowance-owed", [Recipient(kind="role", who=Role.FINANCE)],
                                   "maternity.allowance_owed_to_employee",
                                   {"employee_id": self.req.employee_id, "amount": self.allowance_difference})
        return self.view()

    @workflow.signal
    async def repin_policy(self, msg: NewPolicy) -> None:
        """New figures for a leave not yet ended (e.g. a province extended leave for births from a
        date that covers hers): the entitlement and return date change, and the change is audited."""
        await case_ops.wait_until_open(self)
        async with self._lock:
            if self.returned_on is not None or self.stage in (WITHDRAWN, CANCELLED, CLOSED):
                await case_ops.audit(self.book.next_step(), "maternity.repin_refused", actor=msg.actor,
                                     after={"stage": self.stage, "version": msg.policy.version})
                return
            before = {"version": self.policy.version, "total_days": self.leave.total_days,
                      "expected_return": self.expected_return}
            self.policy = msg.policy
            await case_ops.audit(self.book.next_step(), "maternity.policy_repinned", actor=msg.actor,
                                 subject=self.req.employee_id, before=before,
                                 after={"version": msg.policy.version, "reason": msg.reason,
                                        "total_days": self.leave.total_days, "expected_return": self.expected_return})

    @workflow.signal
    async def external_settlement(self, msg: ExternalSettlement) -> None:
        """Applied to this case's receivables, at most what is still owed: never recovered twice."""
        await case_ops.wait_until_open(self)
        async with self._lock:
            amount = min(msg.amount, self.outstanding)
            if amount <= 0:
                await case_ops.audit(self.book.next_step(), "maternity.external_settlement_ignored",
                                     actor=msg.actor, after={"amount": msg.amount, "reference": msg.reference})
                return
            await self._apply_settlement(Money(actor=msg.actor, amount=amount, reference=msg.reference), msg.method)

    @workflow.signal
    async def base_adjusted(self, msg: BaseAdjusted) -> None:
        await case_ops.wait_until_open(self)
        async with self._lock:
            if msg.reference in self.base_differences:
                return
            self.base_differences[msg.reference], self.base = msg.advance, msg.new_base
            await case_ops.audit(self.book.next_step(), "maternity.base_adjusted", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"reference": msg.reference, "new_base": msg.new_base, "advance": msg.advance,
                                        "outstanding": self.outstanding})

    @workflow.update
    async def opened(self) -> MaternityView:
        return await case_ops.opened(self, self.view)

    @workflow.signal
    async def ledger_changed(self, msg: LedgerChanged) -> None:
        await case_ops.wait_until_open(self)
        async with self._lock:
            await self._read_balance()
            await case_ops.audit(self.book.next_step(), "maternity.recovered_elsewhere", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"amount": msg.amount, "reference": msg.reference, "outstanding": self.outstanding})

    @workflow.query
    def view(self) -> MaternityView:
        return MaternityView(
            workflow_id=self._wf(), employee_id=self.req.employee_id, stage=self.stage,
            leave_start=self.leave.leave_start, last_day=self.last_day, expected_return=self.expected_return,
            total_days=self.leave.total_days + self.extra_days, policy_version=self.policy.version,
            si_status_changed=self.si_status_changed, advances_booked=dict(self.advances),
            base_differences=dict(self.base_differences),
            deductions_planned=list(self.plan), settled=self.settled, outstanding=self.outstanding,
            departed_on=self.departed_on, leaving_on=self.leaving_on, allowance_expected=self.allowance_expected,
            allowance_claim_no=self.allowance_claim_no, allowance_difference=self.allowance_difference,
            pending_extension=self.pending_extension, write_off_approvals=dict(self.write_off),
            next_deadline=self.next_deadline, approval=self.chain.view() if self.chain is not None else None)

    # ------------------------------------------------------------------ the approver route
    async def _route_approval(self, why: str, *, version: int | None = None) -> None:
        leave = self.leave
        await self._open_route(DECISION, {"days": leave.total_days + self.extra_days, "city": self.req.city},
                               TITLES[why], why=why, maker=None, on=self.req.today, version=version)

    def _check_task_action(self, actor: Actor) -> ApprovalChain:
        chain = self._check_routed(self.stage)
        self._check_hr_decision(Decision(actor=actor))
        return chain

    def _awaiting_signatures(self) -> bool:
        return self.stage == APPLIED

    def _subject_id(self) -> str:
        return self.req.employee_id

    def _next_step(self) -> str:
        return self.book.next_step()

    # ------------------------------------------------------------------ rules
    def _check_hr_decision(self, msg: Decision, *, reason_required: bool = False) -> None:
        if self.chain is None and msg.actor.role not in (Role.HR_SPECIALIST, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.WRONG_ROLE, "产假申请由人事审批 (an HR specialist decides on the application)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if self.stage != APPLIED:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"申请当前处于“{self.stage}”阶段，不能审批 (the application is {self.stage})")
        if reason_required and not msg.reason:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, "驳回须说明原因 (a rejection needs a reason)")
        if self.chain is not None:  # the route says who signs, whatever her role
            self.chain.check(msg.actor)

    def _check_staff_or_self(self, actor: Actor, zh: str, en: str) -> None:
        """She or HR, and no one else, does ``en`` (``zh`` in Chinese)."""
        if actor.role == Role.EMPLOYEE and not actor.is_employee(self.req.employee_id):
            raise kernel.refuse(Refusal.FORBIDDEN, f"只有员工本人或人事可以{zh} (only she or HR may {en})")
        if actor.role not in (Role.EMPLOYEE, Role.HR_SPECIALIST, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.WRONG_ROLE, f"角色 {actor.role} 不能{zh} (role {actor.role} may not {en})")

    def _check_resubmit(self, msg: Correction) -> None:
        self._check_staff_or_self(msg.actor, "更正申请", "correct the application")
        if self.stage != REJECTED:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"申请当前处于“{self.stage}”阶段，只有被驳回的申请才能重新提交"
                                                     f" (the application is {self.stage}; only a rejected one is resubmitted)")

    def _check_withdraw(self, msg: Decision) -> None:
        self._check_staff_or_self(msg.actor, "撤回产假", "withdraw the leave")
        if self.stage not in (APPLIED, REJECTED, APPROVED, ON_LEAVE):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，已不能撤回"
                                                     f" (the case is {self.stage}; it can no longer be withdrawn)")
        if self.stage == ON_LEAVE and msg.actor.role == Role.EMPLOYEE:
            raise kernel.refuse(Refusal.WRONG_ROLE, "产假已经开始，须由人事取消 (a leave under way is cancelled by HR)")
        if self.returned_on is not None or self.cancel_request is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "产假已结束或正在取消 (the leave has ended (or is being cancelled))")

    def _check_extension_request(self, msg: Extension) -> None:
        self._check_staff_or_self(msg.actor, "申请延长产假", "request an extension")
        if self.stage not in (APPROVED, ON_LEAVE, RETURN_OVERDUE) or self.returned_on is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，只有尚未结束的产假才能申请延长"
                                                     f" (the case is {self.stage}; extensions are for a leave not yet ended)")
        if self.pending_extension is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "已有一项延长申请等待审批 (an extension is already waiting for a decision)")

    def _check_birth(self, msg: Birth) -> None:
        self._check_staff_or_self(msg.actor, "报告分娩情况", "report the birth")
        if self.stage not in (APPROVED, ON_LEAVE, RETURN_OVERDUE) or self.returned_on is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，分娩情况须在产假期间报告"
                                                     f" (the case is {self.stage}; a birth is reported during the leave)")

    def _check_extension_decision(self, msg: ExtensionDecision) -> None:
        if msg.actor.role != Role.HR_MANAGER:
            raise kernel.refuse(Refusal.WRONG_ROLE, "产假延长由人事经理审批 (an hr_manager decides on extensions)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if self.pending_extension is None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "没有等待审批的延长申请 (no extension is waiting)")

    def _check_return_report(self, msg: ReturnReport) -> None:
        self._check_staff_or_self(msg.actor, "报告返岗", "report the return")
        if self.stage not in (ON_LEAVE, RETURN_OVERDUE) or self.returned_on is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，不能办理此操作 (the case is {self.stage})")

    def _check_confirm_return(self, msg: ReturnReport) -> None:
        if msg.actor.role not in (Role.HR_SPECIALIST, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.WRONG_ROLE, "返岗由人事确认 (HR confirms the return)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if self.cancel_request is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "产假正在取消 (the leave is being cancelled)")
        today = kernel.today()
        if not self.leave.leave_start < msg.date <= today + timedelta(days=1):
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"返岗日期须晚于产假开始日期 {self.leave.leave_start}，且不晚于 {today + timedelta(days=1)}"
                          f" (a return date lies after the leave start {self.leave.leave_start} and not after"
                          f" {today + timedelta(days=1)})")
        if self.stage not in (ON_LEAVE, RETURN_OVERDUE) or self.returned_on is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，不能办理此操作 (the case is {self.stage})")

    def _check_deduction(self, msg: Money) -> None:
        if msg.actor.role != Role.FINANCE:
            raise kernel.refuse(Refusal.WRONG_ROLE, "工资扣款由财务确认 (finance confirms deductions)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if self.stage != DEDUCTING:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，没有进行中的工资扣款"
                                                     f" (the case is {self.stage}; no payroll deduction is running)")
        if msg.amount > self.outstanding:
            raise kernel.refuse(Refusal.OVER_SETTLEMENT, f"{msg.amount} 超过尚欠的 {self.outstanding}"
                                                         f" ({msg.amount} is more than the {self.outstanding} still owed)")

    def _check_repayment(self, msg: Money) -> None:
        if msg.actor.role != Role.FINANCE:
            raise kernel.refuse(Refusal.WRONG_ROLE, "还款由财务确认 (finance confirms repayments)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if self.outstanding <= 0 or self.returned_on is None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "此案件当前没有需要追回的款项 (nothing is being recovered on this case now)")
        if msg.amount > self.outstanding:
            raise kernel.refuse(Refusal.OVER_SETTLEMENT, f"{msg.amount} 超过尚欠的 {self.outstanding}"
                                                         f" ({msg.amount} is more than the {self.outstanding} still owed)")

    def _check_departure(self, msg: ReturnReport) -> None:
        if msg.actor.role not in (Role.HR_SPECIALIST, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.WRONG_ROLE, "离职由人事登记 (HR reports a departure)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if self.departed_on is not None or self.stage in (APPLIED, REJECTED, APPROVED, WITHDRAWN, CANCELLED, CLOSED):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，不能办理此操作 (the case is {self.stage})")

    def _check_write_off(self, msg: Decision) -> None:
        if msg.actor.role not in (Role.FINANCE, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.WRONG_ROLE, "核销须由财务和人事经理共同审批 (a write-off needs finance and an hr_manager)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if not msg.reason:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, "核销须说明原因 (a write-off needs a reason)")
        if self.outstanding <= 0 or self.returned_on is None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "当前没有可核销的款项 (nothing is open to write off now)")
        if msg.actor.role in self.write_off:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"{msg.actor.role} 已经审批过 ({msg.actor.role} has already approved)")
        if msg.actor.user in self.write_off.values():
            raise kernel.refuse(Refusal.SELF_APPROVAL, "两次审批须由两个不同的人作出 (the two approvals must come from two people)")

    # ------------------------------------------------------------------ plumbing
    async def _settle(self, msg: Money, method: str, check: Callable[[Money], None]) -> MaternityView:
        async with self._lock:
            check(msg)
            await self._apply_settlement(msg, method)
        return self.view()

    async def _apply_settlement(self, msg: Money, method: str) -> None:
        try:
            left = await kernel.run(contract.SETTLE, contract.Settle(
                workflow_id=self._wf(), step=f"settle-{self.book.next_step()}", employee_id=self.req.employee_id,
                method=method, amount=msg.amount, reference=msg.reference, at=workflow.now(), actor=msg.actor),
                summary=f"{method} {msg.amount}")
        except ActivityError as err:
            if not kernel.refused(err.cause, Refusal.OVER_SETTLEMENT) or not workflow.patched(case_ops.LEDGER_CLAIMS):
                raise
            # Another case recovered part of it first (final pay): never twice; say what is left.
            await self._read_balance()
            raise kernel.refuse(Refusal.OVER_SETTLEMENT, f"{msg.amount} 超过尚未追回的 {self.outstanding}：部分款项已由其他案件（如离职结算）追回，请只追回尚欠部分"
                          f" ({msg.amount} is more than the {self.outstanding} still open: part of it was recovered"
                          " by another case (final pay, say); recover only what is open)") from None
        self.settled = self.owed - Decimal(left)
        if self.outstanding == 0 and workflow.patched(case_ops.TASKS_BY_DECISION):
            for purpose in ("confirm-deductions", "departed-unsettled"):  # her decision finished them
                await self.book.close_task(purpose, "done", actor=msg.actor, reason=f"{method}: nothing is owed")

    async def _read_balance(self) -> None:
        left = await kernel.run(contract.OPEN_BALANCE, contract.OpenBalance(
            workflow_id=self._wf(), employee_id=self.req.employee_id), summary="the case's open balance in the ledger")
        self.settled = self.owed - Decimal(left)

    async def _notify(self, step: str, recipients: list[Recipient], template: str, params: dict[str, Any]) -> None:
        await case_ops.notify(step, recipients, template, params, via=MATERNITY_NOTIFY)

    async def _stage(self, stage: str, *, status: str | None = None, actor: Actor = SYSTEM,
                     details: dict[str, Any] | None = None, current: str | None = None,
                     closes: list[CloseTask] | None = None) -> None:
        await case_ops.change_stage(self.book.next_step(), stage, status=status, actor=actor, details=details,
                                    next_due_at=self.next_deadline, current_details=current, closes=closes)
        self.stage = stage

    @staticmethod
    def _wf() -> str:
        return workflow.info().workflow_id
