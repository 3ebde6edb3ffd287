"""NonCompeteWorkflow: a post-employment non-compete, month by month, until its term ends, the
employer releases her, or a violation is reported (Labour Contract Law arts. 23-24; SPC
Interpretation (I) arts. 36, 38, 39; Interpretation (II) on breach).

Why a workflow: compensation left unpaid for 3 months lets her end the non-compete (art. 38), so
every payday is a durable timer and every payment an idempotent, audited row. Each payday also
asks her for proof of her current employment; a month without proof by the next payday is put on
record and becomes a follow-up task for HR, but payments go on (only a reported violation stops
them). A release during the term (art. 39) stops payments and lets her claim 3 more months' once.
A term runs up to 24 months: the workflow continues as new every 6 paid months (or when Temporal
suggests it), carrying its state, so no run's history grows large. Started as a child of
offboarding, or standalone through the API for agreements that predate hrflow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow

from workflows import case_ops, kernel

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.contracts.non_compete import PAY, Payment
    from domain.contracts.outbox import NON_COMPETE_NOTIFY, Recipient
    from domain.employment import SIGNAL as EMPLOYMENT_SIGNAL
    from domain.employment import EmploymentEvent
    from domain.months import add_months
    from domain.policy.models import NonCompeteRule
    from domain.refusals import Refusal
    from domain.roles import Role

KIND = "non_compete"
ACTIVE, VIOLATED, RELEASED, COMPLETED = "active", "violated", "released", "completed"
MONTHS_PER_RUN = 6  # continue as new after this many paid months
FEN = Decimal("0.01")
HR_ROLES = (Role.HR_SPECIALIST, Role.HR_MANAGER)


# ---------------------------------------------------------------- calendar (pure, shared with tests)
def period_start(start: dt.date, month: int) -> dt.date:
    """First day of the ``month``-th month (1-based) of a term starting ``start``."""
    return add_months(start, month - 1)


def payday_of(start: dt.date, month: int, payday: int) -> dt.date:
    """A month's compensation is paid on the first payday on or after the month begins."""
    first = period_start(start, month)
    if first.day <= payday:
        return first.replace(day=payday)
    following = add_months(first.replace(day=1), 1)
    return following.replace(day=payday)


def month_label(start: dt.date, month: int) -> str:
    return f"{period_start(start, month):%Y-%m}"


# ---------------------------------------------------------------- models
class Proof(BaseModel):
    month: str
    employer: str
    reference: str
    submitted_by: str
    at: dt.datetime


class NonCompeteRequest(BaseModel):
    """The agreement, fixed at start, and the state one run hands to the next on continue-as-new."""

    employee_id: str
    start: dt.date = Field(description="the day after departure: first day of the term")
    months: int = Field(ge=1, description="1..rule.max_months, checked at start")
    monthly_compensation: Decimal = Field(ge=0, decimal_places=2)
    rule: NonCompeteRule  # pinned by the caller
    payday: int = Field(default=10, ge=1, le=28)
    release_claim_days: int = Field(default=30, ge=1)
    filed_by: Actor = Field(default_factory=Actor)
    department: str = ""
    # carried over continue-as-new (months_paid may also count months paid before hrflow)
    first_run: bool = True
    run: int = 1
    stage: str = ACTIVE
    months_paid: int = Field(default=0, ge=0)
    paid: dict[str, Decimal] = Field(default_factory=dict)  # month -> amount paid by hrflow
    proofs: dict[str, Proof] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)  # months recorded without proof
    tasks: dict[str, str] = Field(default_factory=dict)  # purpose -> open task key
    registered_on: dt.date | None = None  # paydays before it are catch-up: no reminder, no proof due
    steps: int = 0  # step keys are per workflow id, so they must keep counting across runs


class SubmitProof(BaseModel):
    actor: Actor
    employer: str = Field(min_length=1, max_length=200)
    reference: str = Field(min_length=1, max_length=200)
    month: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$",
                              description="default: the month of the latest reminder")


class ReportViolation(BaseModel):
    actor: Actor
    evidence: str = Field(min_length=1, max_length=4000)


class Release(BaseModel):
    actor: Actor
    reason: str | None = None


class ClaimRelease(BaseModel):
    actor: Actor


class NonCompeteView(BaseModel):
    workflow_id: str
    employee_id: str
    stage: str
    closed: bool
    start: dt.date
    last_day: dt.date
    months: int
    monthly_compensation: Decimal
    months_paid: int
    paid: dict[str, Decimal]
    total_paid: Decimal
    next_payday: dt.date | None
    proofs: dict[str, Proof]
    missing_proofs: list[str]
    released_on: dt.date | None
    release_claim_until: dt.date | None
    release_compensation: Decimal | None
    violation_reported_on: dt.date | None
    run: int


@workflow.defn
class NonCompeteWorkflow:
    @workflow.init
    def __init__(self, req: NonCompeteRequest) -> None:
        self.req = req
        self.stage = req.stage
        self.months_paid = req.months_paid
        self.paid = dict(req.paid)
        self.proofs = dict(req.proofs)
        self.missing = list(req.missing)
        self.book = case_ops.CaseBook("n", steps=req.steps, tasks=req.tasks)
        self.registered_on = req.registered_on
        self._paid_this_run = 0
        self.next_payday: dt.date | None = None
        self.released_on: dt.date | None = None
        self.release_claim_until: dt.date | None = None
        self.release_paid: Decimal | None = None
        self.violation_on: dt.date | None = None
        self.closed = False
        self.case_open = not req.first_run  # a continued run's case is open from its first moment
        self._lock = asyncio.Lock()

    @property
    def last_day(self) -> dt.date:
        return add_months(self.req.start, self.req.months) - timedelta(days=1)

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, req: NonCompeteRequest) -> NonCompeteView:
        if not 1 <= req.months <= req.rule.max_months:
            raise kernel.refuse(
                Refusal.VALIDATION_FAILED,
                f"竞业限制期限最长 {req.rule.max_months} 个月（《劳动合同法》第二十四条），申请的是 {req.months} 个月"
                f" (a non-compete lasts at most {req.rule.max_months} months (LCL art. 24); asked {req.months})",
                field="months", rule="non_compete_max_months", max=req.rule.max_months)
        return await case_ops.run_to_end(self._lifecycle(req), self.view)

    async def _lifecycle(self, req: NonCompeteRequest) -> None:
        if req.first_run:
            self.registered_on = self._today()
            async with self._lock:
                await case_ops.open_case(
                    kind=KIND, employee_id=req.employee_id, stage=ACTIVE, department=req.department,
                    actor=req.filed_by,
                    summary=(f"竞业限制 {req.months} 个月，{req.start} 起，每月补偿 {req.monthly_compensation} 元"
                             f" (non-compete {req.months} months from {req.start}, {req.monthly_compensation} a month)"),
                    details={"start": req.start, "last_day": self.last_day, "months": req.months,
                             "monthly_compensation": req.monthly_compensation, "payday": req.payday,
                             "months_already_paid": req.months_paid, "rule": req.rule.id})
                self.case_open = True
        while self.stage == ACTIVE:
            month = self.months_paid + 1
            if month <= req.months:
                self.next_payday = payday_of(req.start, month, req.payday)
                when, what = kernel.at(self.next_payday, 9), f"pay {month_label(req.start, month)}"
                details = f"{self.stage}: next payday {self.next_payday} ({month}/{req.months})"
            else:
                self.next_payday = None
                when, what = kernel.at(self.last_day + timedelta(days=1), 0), "term ends"
                details = f"{self.stage}: all {req.months} months paid; term ends {self.last_day}"
            workflow.set_current_details(details)
            try:
                await workflow.wait_condition(lambda: self.stage != ACTIVE,
                                              timeout=max(when - workflow.now(), timedelta(0)),
                                              timeout_summary=what)
                continue  # released or violated
            except TimeoutError:
                pass
            async with self._lock:
                if self.stage != ACTIVE:
                    continue
                await self._check_proof(month - 1)
                if month > req.months:
                    await self._close_follow_ups("cancelled", SYSTEM,
                                                 "the term ended; missing proofs stay on the audit trail")
                    await self._stage(COMPLETED, status="completed",
                                      details={"months_paid": self.months_paid, "total_paid": self._total()})
                    return
                await self._pay_month(month)
            if self._time_for_new_run():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self.stage == ACTIVE:  # a release or violation that just finished is handled here
                    workflow.continue_as_new(self._carry())
        if self.stage == RELEASED and not self.closed:
            await self._await_release_claim()

    def _time_for_new_run(self) -> bool:
        if self.months_paid >= self.req.months:
            return False  # only the term end is left
        return self._paid_this_run >= MONTHS_PER_RUN or workflow.info().is_continue_as_new_suggested()

    def _carry(self) -> NonCompeteRequest:
        return self.req.model_copy(update={
            "first_run": False, "run": self.req.run + 1, "stage": self.stage, "months_paid": self.months_paid,
            "paid": dict(self.paid), "proofs": dict(self.proofs), "missing": list(self.missing),
            "tasks": dict(self.book.tasks), "steps": self.book.steps, "registered_on": self.registered_on})

    async def _pay_month(self, month: int) -> None:
        label, amount = month_label(self.req.start, month), self.req.monthly_compensation.quantize(FEN)
        await self._pay(label, "monthly", amount, SYSTEM)
        self.paid[label] = amount
        self.months_paid = month
        self._paid_this_run += 1
        if not self._on_time(month):
            return  # a month owed from before hrflow took the agreement over: HR has its proof
        due = payday_of(self.req.start, month + 1, self.req.payday) if month < self.req.months else self.last_day
        await self._notify(f"proof-reminder-{label}", "non_compete.proof_reminder",
                           {"month": label, "submit_by": due, "amount_paid": amount})
        if workflow.patched(case_ops.TRACK_DEADLINES):
            await case_ops.track_deadline("non_compete_proof", self.req.employee_id, kernel.at(due, 18), ref=label,
                                          details={"month": label})

    async def _check_proof(self, month: int) -> None:
        """The month before this payday (or the last month, at the term's end) needs its proof. A
        missing one is recorded; before the last month it also becomes a follow-up task for HR."""
        if month < 1:
            return
        label = month_label(self.req.start, month)
        if not self._on_time(month) or label in self.proofs or label in self.missing:
            return  # never reminded (paid before or caught up), proven, or already recorded
        self.missing.append(label)
        await case_ops.audit(self.book.next_step(), "non_compete.proof_missing", subject=self.req.employee_id,
                             after={"month": label, "months_missing": list(self.missing)})
        if month < self.req.months:
            await self.book.open_task(f"follow-up-{label}", f"{self.req.employee_id} 未提交 {label} 的在职证明：请跟进（补偿照常支付）"
                                  f" (No proof of current employment for {label} from"
                                  f" {self.req.employee_id}: follow up, payments continue)", Role.HR_SPECIALIST)

    async def _await_release_claim(self) -> None:
        """After a release: she may claim the extra months once, within the claim window; then close."""
        if self.release_claim_until is not None:
            deadline = kernel.at(self.release_claim_until + timedelta(days=1), 0)
            workflow.set_current_details(f"{RELEASED} on {self.released_on}; extra compensation claimable"
                                         f" until {self.release_claim_until}")
            try:
                await workflow.wait_condition(lambda: self.release_paid is not None,
                                              timeout=max(deadline - workflow.now(), timedelta(0)),
                                              timeout_summary="release compensation claim window")
            except TimeoutError:
                pass
        async with self._lock:
            await self._stage(RELEASED, status="completed",
                              details={"release_compensation": self.release_paid, "total_paid": self._total(),
                                       "claimed": self.release_paid is not None})

    # ------------------------------------------------------------------ messages
    @workflow.update
    async def submit_proof(self, msg: SubmitProof) -> NonCompeteView:
        async with case_ops.deciding(self, lambda: self._check_proof_msg(msg)) as label:
            late = label in self.missing
            self.proofs[label] = Proof(month=label, employer=msg.employer, reference=msg.reference,
                                       submitted_by=msg.actor.user, at=workflow.now())
            await case_ops.audit(self.book.next_step(), "non_compete.proof_received", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"month": label, "employer": msg.employer, "reference": msg.reference,
                                        "late": late})
            await self.book.close_task(f"follow-up-{label}", "done", actor=msg.actor, reason="proof received")
            if workflow.patched(case_ops.TRACK_DEADLINES):  # closes the sweep's row, if there is one
                await case_ops.track_deadline("non_compete_proof", self.req.employee_id, workflow.now(), ref=label,
                                              status="met")
        return self.view()

    @submit_proof.validator
    def _v_proof(self, msg: SubmitProof) -> None:
        case_ops.check_when_open(self, lambda: self._check_proof_msg(msg))

    @workflow.update
    async def report_violation(self, msg: ReportViolation) -> NonCompeteView:
        """Payments stop; compliance recovers what was paid and the agreed penalty (Interpretation (II))."""
        async with case_ops.deciding(self, lambda: self._check_violation(msg)):
            self.violation_on = self._today()
            await self._close_follow_ups("cancelled", msg.actor, "violation reported: compliance takes over")
            await self.book.open_task("legal-action", f"法律行动：向 {self.req.employee_id} 追回已付补偿 {self._total()} 元及约定违约金（司法解释（二））"
                                  f" (Legal action: recover compensation and agreed penalty from"
                                  f" {self.req.employee_id} ({self._total()} paid; Interpretation (II)))",
                                  Role.COMPLIANCE)
            self.next_payday = None
            await self._stage(VIOLATED, status="completed", actor=msg.actor,
                              details={"evidence": msg.evidence, "months_paid": self.months_paid,
                                       "total_paid": self._total()})
        return self.view()

    @report_violation.validator
    def _v_violation(self, msg: ReportViolation) -> None:
        case_ops.check_when_open(self, lambda: self._check_violation(msg))

    @workflow.update
    async def release(self, msg: Release) -> NonCompeteView:
        """The employer releases her during the term (Interpretation (I) art. 39): payments stop."""
        async with case_ops.deciding(self, lambda: self._check_release(msg)):
            today = self._today()
            self.released_on, self.next_payday = today, None
            in_term = today >= self.req.start  # released before the term began: nothing extra is owed
            if in_term:
                self.release_claim_until = today + timedelta(days=self.req.release_claim_days)
            await self._close_follow_ups("cancelled", msg.actor, "released from the non-compete")
            await self._stage(RELEASED, actor=msg.actor,
                              details={"reason": msg.reason, "released_on": today, "months_paid": self.months_paid,
                                       "claim_until": self.release_claim_until,
                                       "extra_compensation": self._release_amount() if in_term else None})
            if in_term:
                await self._notify("released", "non_compete.released",
                                   {"released_on": today, "claim_until": self.release_claim_until,
                                    "extra_compensation": self._release_amount()})
        return self.view()

    @release.validator
    def _v_release(self, msg: Release) -> None:
        case_ops.check_when_open(self, lambda: self._check_release(msg))

    @workflow.update
    async def claim_release_compensation(self, msg: ClaimRelease) -> NonCompeteView:
        """She claims the extra months' compensation after a release: paid once."""
        async with case_ops.deciding(self, lambda: self._check_claim(msg)):  # again: a concurrent claim may have been paid meanwhile
            assert self.released_on is not None
            amount = self._release_amount()
            await self._pay(f"{self.released_on:%Y-%m}", "release_extra", amount, msg.actor)
            self.release_paid = amount
        return self.view()

    @claim_release_compensation.validator
    def _v_claim(self, msg: ClaimRelease) -> None:
        case_ops.check_when_open(self, lambda: self._check_claim(msg))

    @workflow.signal(name=EMPLOYMENT_SIGNAL)
    async def employment_changed(self, event: EmploymentEvent) -> None:
        """Her employment changed elsewhere: the agreement runs from her departure; it is recorded."""
        await case_ops.note_employment(self, KIND, self.req.employee_id, event,
                                       "the agreement runs from her departure as agreed")

    @workflow.update
    async def opened(self) -> NonCompeteView:
        return await case_ops.opened(self, self.view)

    @workflow.query
    def view(self) -> NonCompeteView:
        return NonCompeteView(
            workflow_id=workflow.info().workflow_id, employee_id=self.req.employee_id, stage=self.stage,
            closed=self.closed, start=self.req.start, last_day=self.last_day, months=self.req.months,
            monthly_compensation=self.req.monthly_compensation, months_paid=self.months_paid,
            paid=dict(self.paid), total_paid=self._total(), next_payday=self.next_payday,
            proofs=dict(self.proofs), missing_proofs=list(self.missing), released_on=self.released_on,
            release_claim_until=self.release_claim_until, release_compensation=self.release_paid,
            violation_reported_on=self.violation_on, run=self.req.run)

    # ------------------------------------------------------------------ rules
    def _check_active(self) -> None:
        if self.stage != ACTIVE or self.closed:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"竞业限制当前处于“{self.stage}”阶段，不能办理此操作"
                                                     f" (the non-compete is {self.stage})")

    def _check_proof_msg(self, msg: SubmitProof) -> str:
        if msg.actor.role == Role.EMPLOYEE:
            if not msg.actor.is_employee(self.req.employee_id):
                raise kernel.refuse(Refusal.FORBIDDEN, "只有员工本人或人事可以提交她的就业情况证明 (only she or HR may submit her proof)")
        elif msg.actor.role not in HR_ROLES:
            raise kernel.refuse(Refusal.WRONG_ROLE, f"角色 {msg.actor.role} 不能提交证明"
                                                    f" (role {msg.actor.role} may not submit proofs)")
        self._check_active()
        current = max(1, self.months_paid)
        label = msg.month or month_label(self.req.start, current)
        if label not in {month_label(self.req.start, m) for m in range(1, current + 1)}:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"{label} 不是本期限内截至目前的月份"
                                                           f" ({label} is not a month of this term up to now)")
        return label

    def _check_violation(self, msg: ReportViolation) -> None:
        if msg.actor.role not in (Role.COMPLIANCE, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.WRONG_ROLE, "违约情况由合规或人事经理报告 (compliance or an hr_manager reports a violation)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        self._check_active()

    def _check_release(self, msg: Release) -> None:
        if msg.actor.role != Role.HR_MANAGER:
            raise kernel.refuse(Refusal.WRONG_ROLE, "竞业限制由人事经理解除 (an hr_manager releases a non-compete)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        self._check_active()

    def _check_claim(self, msg: ClaimRelease) -> None:
        if msg.actor.role != Role.EMPLOYEE or not msg.actor.is_employee(self.req.employee_id):
            raise kernel.refuse(Refusal.FORBIDDEN, "只有员工本人可以申领解除补偿 (only she may claim her release compensation)")
        if self.stage != RELEASED or self.closed:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"竞业限制当前处于“{self.stage}”阶段{'且已办结' if self.closed else ''}"
                                f" (the non-compete is {self.stage}{' and closed' if self.closed else ''})")
        if self.release_claim_until is None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "竞业限制在期限开始前已解除，无需支付额外补偿"
                                                     " (released before the term began: no extra compensation is owed)")
        if self.release_paid is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "解除补偿已经支付 (the release compensation has already been paid)")
        if self._today() > self.release_claim_until:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"申领期限已于 {self.release_claim_until} 结束"
                                                     f" (the claim window ended on {self.release_claim_until})")

    # ------------------------------------------------------------------ plumbing
    def _on_time(self, month: int) -> bool:
        """Paid by hrflow on its own payday, so she was reminded and her proof is due."""
        label = month_label(self.req.start, month)
        return label in self.paid and self.registered_on is not None \
            and payday_of(self.req.start, month, self.req.payday) >= self.registered_on

    def _release_amount(self) -> Decimal:
        return (self.req.monthly_compensation * self.req.rule.release_extra_months).quantize(FEN)

    def _total(self) -> Decimal:
        return sum(self.paid.values(), Decimal("0.00")) + (self.release_paid or Decimal("0.00"))

    @staticmethod
    def _today() -> dt.date:
        return kernel.today()

    async def _pay(self, month: str, kind: Literal["monthly", "release_extra"], amount: Decimal, actor: Actor) -> None:
        await kernel.run(
            PAY,
            Payment(agreement_id=workflow.info().workflow_id, employee_id=self.req.employee_id, month=month,
                    kind=kind, amount=amount, at=workflow.now(), actor=actor),
            summary=f"pay {kind} {month}: {amount}")

    async def _notify(self, step: str, template: str, params: dict[str, Any]) -> None:
        await case_ops.notify(step, [Recipient(kind="employee", who=self.req.employee_id)], template,
                              {"employee_id": self.req.employee_id, **params}, via=NON_COMPETE_NOTIFY)

    async def _stage(self, stage: str, *, status: str | None = None, actor: Actor = SYSTEM,
                     details: dict[str, Any] | None = None) -> None:
        current = f"{stage}" + (" (closed)" if status else "")
        await case_ops.change_stage(self.book.next_step(), stage, status=status, actor=actor, details=details,
                                    current_details=current)
        self.stage = stage
        self.closed = status is not None

    async def _close_follow_ups(self, decision: str, actor: Actor, reason: str) -> None:
        await self.book.close_all(decision, actor=actor, reason=reason, purpose_prefix="follow-up-")
