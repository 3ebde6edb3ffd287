"""OffboardingWorkflow: one departure, from notice to the last obligation after it.

Seeds 001 and 000: open disputes and money must be visible and owned before the last day, and the
company may hold only what the law lets it hold. The employee leaves on the last day whatever is
open: the separation certificate is issued that day, wages are paid in full, enrollment and housing
fund stop, access is revoked. What open items hold is the company's internal clearance and the
economic compensation (until the handover is complete). Open items carry on after departure; the
labour filing and the archive and social-insurance transfer are watched against their 15-day limit.
A resignation withdrawn before the end of the last day, and accepted by an hr_manager, undoes every
completed step in reverse.
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
from temporalio.workflow import ParentClosePolicy

from workflows import case_ops, kernel
from workflows.approval_chain import ApprovalChain, ApprovalView
from workflows.maternity import ExternalSettlement, LedgerChanged, MaternityLeaveWorkflow
from workflows.non_compete import NonCompeteRequest, NonCompeteWorkflow
from workflows.routed_case import APPROVER_ROUTES, RoutedCase
from workflows.si_change import SiChangeRequest, SocialInsuranceChangeWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.calendar_change import PATCH as CALENDAR_REPLAN
    from domain.calendar_change import SIGNAL as CALENDAR_SIGNAL
    from domain.calendar_change import CalendarChanged
    from domain.contracts import offboarding as contract
    from domain.contracts.cases import PLAN_DEADLINE, PlanDeadline, PlannedDeadline
    from domain.contracts.outbox import MATERNITY_NOTIFY, Recipient
    from domain.contracts.si_change import ChangeFacts
    from domain.employment import SIGNAL as EMPLOYMENT_SIGNAL
    from domain.employment import EmploymentEvent
    from domain.offboarding import Deduction, FinalPay, OffboardingKind, final_pay
    from domain.policy.pinning import OffboardingSnapshot, SiChangeSnapshot
    from domain.refusals import Refusal
    from domain.roles import Role
    from domain.si_change import ChangeKind

KIND = "offboarding"
GATES = ("handover", "it", "finance", "compliance", "hr_final")
GATE_ROLE = {"handover": None, "it": Role.IT, "finance": Role.FINANCE, "compliance": Role.COMPLIANCE,
             "hr_final": Role.HR_MANAGER}
OUTCOMES = {
    "handover": {"handed_over"},
    "it": {"returned", "revoked", "not_applicable"},
    "finance": {"repaid", "deducted_by_agreement", "to_recovery"},
    "compliance": {"resolved", "settled_by_agreement", "escalated_to_legal"},
    "hr_final": {"approved"},
}
GATE_ZH = {"handover": "工作交接", "it": "IT 权限与设备", "finance": "财务结算", "compliance": "合规审查",
           "hr_final": "人事终审"}
CARRIED = {"to_recovery", "escalated_to_legal"}  # open after departure, on the case
FILINGS = ("labour_filing", "archive_and_insurance_transfer")

CLEARANCE, LAST_DAY_DONE, DEPARTED, WITHDRAWN, COMPLETED = "clearance", "last_day", "departed", "withdrawn", "completed"


class HandoverItem(BaseModel):
    key: str = Field(pattern=r"^[a-z0-9_-]{1,60}$")
    title: str = Field(min_length=1, max_length=300)
    receiver: str = Field(description="the user who signs this item off")


class OffboardingRequest(BaseModel):
    employee_id: str
    kind: OffboardingKind
    legal_ground: str | None = None
    ground: str | None = None  # the legal ground's code (art_40_3), which an approver route may read
    notice_date: dt.date
    last_day: dt.date = Field(description="resolved from the pinned notice rule by the caller: calendar code"
                                          " stays out of workflow code")
    province: str
    city: str
    department: str = ""
    monthly_wage: Decimal
    minimum_wage: Decimal
    economic_compensation: Decimal = Decimal("0.00")
    handover: list[HandoverItem]
    filed_by: Actor
    policy: OffboardingSnapshot
    si_policy: SiChangeSnapshot | None = None  # to stop (and, compensating, restart) the enrollment
    non_compete: NonCompeteTerms | None = None  # followed up after departure by a child workflow
    reminder_days: int = 3
    filing_due: dt.date | None = Field(
        default=None, description="the filing deadline from the pinned rule through the one deadline function"
                                  " (rolled to the next working day); None in cases started before it was passed")
    filing_due_provisional: bool = False  # it rests on a year whose holiday arrangement is not published


class NonCompeteTerms(BaseModel):
    months: int = Field(ge=1, le=24)
    monthly_compensation: Decimal = Field(gt=0, decimal_places=2)  # unpaid is no non-compete (art. 38)


class SignOff(BaseModel):
    actor: Actor
    gate: str
    item_key: str
    outcome: str
    note: str | None = Field(default=None, max_length=2000)
    amount: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    agreed_in_writing: bool = False


class Filing(BaseModel):
    actor: Actor
    filing: str
    reference: str = Field(min_length=1, max_length=100)


class Withdrawal(BaseModel):
    actor: Actor
    reason: str = Field(min_length=1)


class WithdrawalDecision(BaseModel):
    actor: Actor
    accept: bool
    reason: str | None = None


class ItemState(BaseModel):
    gate: str
    key: str
    title: str
    owner_role: str | None
    owner_user: str | None = None
    record_id: int | None = None
    status: str = "open"  # open, done, carried_on
    outcome: str | None = None
    signed_by: str | None = None
    amount: Decimal | None = None
    agreed_in_writing: bool = False


class OffboardingView(BaseModel):
    workflow_id: str
    employee_id: str
    kind: str
    stage: str
    notice_date: dt.date
    last_day: dt.date
    risk: contract.RiskReport | None
    gates: dict[str, str]  # gate -> open / done
    items: list[ItemState]
    lawful_holds: list[str]
    final_pay: FinalPay | None
    certificate_no: str | None
    enrollment_stop: str | None
    housing_fund_stop: str | None
    filings: dict[str, str | None]
    filing_due: dt.date
    filing_due_provisional: bool = False
    withdrawal: Withdrawal | None
    manual_tasks: list[str]
    non_compete_case: str | None
    approval: ApprovalView | None = None  # the final approval's route (cases begun under APPROVER_ROUTES)


LAWFUL_HOLDS = [
    "She leaves on the last day whatever is open; the resignation is not blocked (Labour Contract Law art. 37).",
    ("The separation certificate is issued on the last day; the file and social-insurance transfer within 15 days"
     " (art. 50)."),
    "Wages are paid in full at termination (Wage Payment Provisions art. 9).",
    ("Deductions for damages: at most 20% of the monthly wage, never below the minimum wage, unless she agreed in"
     " writing (art. 16); the rest is recovered by agreement or arbitration."),
    "Held until the handover is complete: the economic compensation (art. 50) and the company's internal clearance.",
]


DECISION = "offboarding.final"
FINAL_TITLE = ("离职终审", "Final approval of the departure")


@workflow.defn
class OffboardingWorkflow(RoutedCase):
    @workflow.init
    def __init__(self, req: OffboardingRequest) -> None:
        self.req = req
        self.last_day = req.last_day
        transfer = req.policy.deadlines["archive_and_insurance_transfer"]
        self.filing_due = req.filing_due or self.last_day + timedelta(days=transfer.amount)
        self.filing_due_provisional = req.filing_due_provisional
        self.calendar_changes: list[CalendarChanged] = []  # arrangements approved since: re-plan the filing date
        self.stage = CLEARANCE
        self.risk: contract.RiskReport | None = None
        self.items: dict[str, ItemState] = {}
        self.final: FinalPay | None = None
        self.certificate_no: str | None = None
        self.enrollment_stop: str | None = None
        self.housing_fund_stop: str | None = None
        self.filings: dict[str, str | None] = {f: None for f in FILINGS}
        self.withdrawal: Withdrawal | None = None
        self.withdrawal_accepted: WithdrawalDecision | None = None
        self.manual_tasks: list[str] = []
        self.non_compete_case: str | None = None
        self.book = case_ops.CaseBook("o")
        self.undo = case_ops.Compensations()
        self.filings_tracked: str | None = None  # what the reminder sweep knows of the filing deadline
        self.case_open = False
        # Her receivables are recovered as ledger claims: final pay takes what is open on the last day.
        self.receivables_by_claim = False
        self.chain: ApprovalChain | None = None  # the final approval's route, once the other gates are done
        self.opened_on: dt.date | None = None  # the case's first day: its route is the version in force then
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, req: OffboardingRequest) -> OffboardingView:
        return await case_ops.run_to_end(self._lifecycle(req), self.view)

    async def _lifecycle(self, req: OffboardingRequest) -> None:
        self.opened_on = kernel.today()
        async with self._lock:
            await case_ops.open_case(
                kind=KIND, employee_id=req.employee_id, stage=CLEARANCE, province=req.province,
                department=req.department, policy_version=req.policy.version, actor=req.filed_by,
                summary=(f"离职（{req.kind.value}）：{req.notice_date} 提出，最后工作日 {self.last_day}"
                         f" ({req.kind.value}: notice {req.notice_date}, last day {self.last_day})"),
                details={"kind": req.kind.value, "last_day": self.last_day, "legal_ground": req.legal_ground})
            self.risk = await kernel.run(contract.ASSESS_RISK, contract.Assess(
                workflow_id=self._wf(), employee_id=req.employee_id, at=workflow.now()), summary="risk assessment")
            await self._open_gates()
            workflow.set_current_details(f"clearance until {self.last_day}. Risk: {self.risk.summary}")
            self.case_open = True
        if workflow.patched(case_ops.EMPLOYMENT_EVENTS):  # her other cases learn her last day now
            await case_ops.announce("notice_given", req.employee_id, self.last_day, step="notice-given",
                                    actor=req.filed_by)

        # Until the last day: sign-offs and escalations; a withdrawal may end the case.
        await self._until(kernel.at(self.last_day, 0), "last day", escalate=True)
        if self.withdrawal_accepted:
            await self._withdraw()
            return
        await self._last_day_steps()
        # The employment ends with the last day; a withdrawal may still be accepted before midnight.
        await self._until(kernel.at(self.last_day + timedelta(days=1), 0), "end of the last day")
        if self.withdrawal_accepted:
            await self._withdraw()
            return
        self.undo.clear()
        if self.withdrawal is not None:  # asked for, never accepted before the employment ended
            await self.book.close_task("withdrawal", "cancelled", actor=SYSTEM,
                                       reason="the employment ended before a decision")
            self.withdrawal = None
        await self._stage(DEPARTED, current=f"departed {self.last_day}; filings due {self.filing_due}")
        if workflow.patched(case_ops.EMPLOYMENT_EVENTS):
            await case_ops.announce("departed", req.employee_id, self.last_day, step="departed")
            if workflow.patched(case_ops.LEAVER_HANDOVER):
                await case_ops.hand_over_approvals(req.employee_id, self.last_day)
        if req.non_compete is not None:
            await self._start_non_compete(req.non_compete)
        await self._after_departure()

    async def _start_non_compete(self, terms: NonCompeteTerms) -> None:
        """The non-compete runs up to 24 months on its own: abandoned, not cancelled, when this closes."""
        start = self.last_day + timedelta(days=1)
        workflow_id = f"non-compete-{self.req.employee_id}-{start.isoformat()}"
        await workflow.start_child_workflow(
            NonCompeteWorkflow.run,
            NonCompeteRequest(employee_id=self.req.employee_id, start=start, months=terms.months,
                              monthly_compensation=terms.monthly_compensation, rule=self.req.policy.non_compete,
                              filed_by=self.req.filed_by, department=self.req.department),
            id=workflow_id, parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"竞业限制 {self.req.employee_id}，{terms.months} 个月 (Non-compete of {self.req.employee_id},"
                           f" {terms.months} months)")
        self.non_compete_case = workflow_id
        await case_ops.audit(self.book.next_step(), "offboarding.non_compete_started", subject=self.req.employee_id,
                             after={"case": workflow_id, "months": terms.months,
                                    "monthly_compensation": terms.monthly_compensation})

    async def _open_gates(self) -> None:
        assert self.risk is not None
        due = kernel.at(self.last_day - timedelta(days=1), 18)
        items: list[ItemState] = [ItemState(gate="handover", key=h.key, title=h.title, owner_role=None,
                                            owner_user=h.receiver) for h in self.req.handover]
        items += [ItemState(gate="it", key=f"record-{i.record_id}", title=i.title, owner_role=Role.IT,
                            record_id=i.record_id) for i in self.risk.it]
        items.append(ItemState(gate="it", key="accounts", title="All accounts disabled for the last day", owner_role=Role.IT))
        items += [ItemState(gate="finance", key=f"record-{i.record_id}", title=f"{i.title} ({i.amount})",
                            owner_role=Role.FINANCE, record_id=i.record_id, amount=i.amount) for i in self.risk.finance]
        if self.risk.receivables_outstanding:
            items.append(ItemState(gate="finance", key="receivables", owner_role=Role.FINANCE,
                                   amount=self.risk.receivables_outstanding,
                                   title=f"Receivables {self.risk.receivables_outstanding} yuan"
                                         f" ({', '.join(self.risk.receivable_months)})"))
        items += [ItemState(gate="compliance", key=f"record-{i.record_id}", owner_role=Role.COMPLIANCE,
                            record_id=i.record_id, title=f"{i.kind}: {i.title}" + (f" ({i.amount})" if i.amount else ""))
                  for i in self.risk.compliance]
        items.append(ItemState(gate="hr_final", key="final", title="HR final approval", owner_role=Role.HR_MANAGER))
        self.items = {f"{i.gate}/{i.key}": i for i in items}
        await kernel.run(contract.OPEN_ITEMS, contract.OpenItems(workflow_id=self._wf(), items=[
            contract.Item(gate=i.gate, item_key=i.key, title=i.title, owner_role=i.owner_role or "any",
                 owner_user=i.owner_user, due_at=due) for i in items]), summary="open clearance items")
        for gate in GATES:
            if any(i.gate == gate for i in items) and gate != "hr_final":
                await self.book.open_task(f"gate-{gate}", f"离职交接：{GATE_ZH.get(gate, gate)}（{self.req.employee_id}）(Clearance: {gate} for"
                                          f" {self.req.employee_id})",
                                      GATE_ROLE[gate] or Role.HR_SPECIALIST, due_at=due)

    async def _until(self, moment: dt.datetime, what: str, *, escalate: bool = False) -> None:
        """Wait for ``moment``; escalate overdue gates the day before the last day."""
        escalated = not escalate
        while workflow.now() < moment and not self.withdrawal_accepted:
            deadline = kernel.at(self.last_day - timedelta(days=1), 18)
            target = moment if escalated or deadline >= moment else deadline
            try:
                await workflow.wait_condition(lambda: self.withdrawal_accepted is not None,
                                              timeout=max(target - workflow.now(), timedelta(0)), timeout_summary=what)
            except TimeoutError:
                if not escalated and target == deadline:
                    escalated = True
                    async with self._lock:
                        for gate in self._open_gates_now():
                            await self.book.open_task(f"escalation-{gate}", f"交接环节“{GATE_ZH.get(gate, gate)}”在最后工作日"
                                                  f"（{self.last_day}）前一天仍未完成 (Clearance gate '{gate}' not done the day"
                                                  f" before the last day ({self.last_day}))", Role.HR_MANAGER)

    async def _last_day_steps(self) -> None:
        """Done on the last day whatever is open; each registers its undo for a withdrawal."""
        async with self._lock:
            revoked = await kernel.run(contract.REVOKE_ACCESS, contract.AccessChange(
                workflow_id=self._wf(), step="access-revoked", employee_id=self.req.employee_id, at=workflow.now()), summary="revoke remaining access")

            async def restore() -> None:
                await kernel.run(contract.RESTORE_ACCESS, contract.AccessChange(
                    workflow_id=self._wf(), step="access-restored", employee_id=self.req.employee_id,
                    record_ids=revoked, at=workflow.now()), summary="restore access")
            self.undo.add("access restored", restore)

            if self.risk and self.risk.active_enrollment_city and self.req.si_policy is not None:
                self.enrollment_stop = await self._si_change(ChangeKind.STOP, "stop")

                async def restart() -> None:
                    await self._si_change(ChangeKind.ENROLLMENT, "restart")
                self.undo.add("enrollment restarted", restart)

            month = f"{self.last_day:%Y-%m}"
            try:
                self.housing_fund_stop = await kernel.run(contract.HOUSING_FUND, contract.HousingFund(
                    workflow_id=self._wf(), step="hf-stop", employee_id=self.req.employee_id, city=self.req.city,
                    action="stop", effective_month=month), summary="stop the housing fund", options=kernel.AGENCY_CALL)
            except ActivityError as err:  # refused or unreachable: by hand, and the last day goes on
                await self._manual("housing-fund", f"Stop the housing fund of {self.req.employee_id} at the"
                                   f" centre: {err.cause}")
            else:
                async def hf_restart() -> None:
                    await kernel.run(contract.HOUSING_FUND, contract.HousingFund(
                        workflow_id=self._wf(), step="hf-restart", employee_id=self.req.employee_id,
                        city=self.req.city, action="restart", effective_month=month), summary="restart the housing fund", options=kernel.AGENCY_CALL)
                self.undo.add("housing fund restarted", hf_restart)

            self.certificate_no = await kernel.run(contract.ISSUE_CERTIFICATE, contract.Certificate(
                workflow_id=self._wf(), employee_id=self.req.employee_id, kind=self.req.kind.value,
                last_day=self.last_day, at=workflow.now()), summary="issue the separation certificate")
            # Added after the first histories were recorded: running cases that issued their certificate
            # before this change keep their command sequence (patched is False when they replay).
            if workflow.patched("void-certificate-on-withdrawal"):
                async def void_certificate() -> None:
                    await case_ops.audit(self.book.next_step(), "offboarding.certificate_voided",
                                         subject=self.req.employee_id, after={"number": self.certificate_no})
                    self.certificate_no = None
                self.undo.add("certificate voided", void_certificate)

            item = self.items.get("finance/receivables")
            if self.receivables_by_claim and item is not None and item.outcome == "deducted_by_agreement":
                await self._claim_receivables("final-pay", "final_pay", item, SYSTEM,
                                              f"final pay {self.last_day}, agreed in writing")

                async def give_back() -> None:
                    await self._void_claim("final-pay")
                self.undo.add("final pay claim voided", give_back)
            self.final = self._final_pay()
            await case_ops.audit(self.book.next_step(), "offboarding.final_pay", subject=self.req.employee_id,
                                 after=self.final.model_dump(mode="json"))

            async def deductions_cancelled() -> None:
                await case_ops.audit(self.book.next_step(), "offboarding.deductions_cancelled",
                                     subject=self.req.employee_id,
                                     after={"agreed": self.final.agreed_deductions if self.final else None})
                self.final = None
            self.undo.add("deductions cancelled", deductions_cancelled)
            await self._stage(LAST_DAY_DONE, current=f"last day {self.last_day}: certificate {self.certificate_no}")

    def _final_pay(self) -> FinalPay:
        deductions = [Deduction(title=i.title, amount=i.amount, agreed_in_writing=i.agreed_in_writing)
                      for i in self.items.values() if i.outcome == "deducted_by_agreement" and i.amount]
        return final_pay(wages_due=self.req.monthly_wage, monthly_wage=self.req.monthly_wage,
                         minimum_wage=self.req.minimum_wage, deductions=deductions,
                         economic_compensation=self.req.economic_compensation,
                         handover_complete=self._gate_done("handover"), policy=self.req.policy)

    async def _si_change(self, kind: ChangeKind, label: str) -> str | None:
        """Stop (or restart) the enrollment through a child change, pre-approved and executed at once."""
        assert self.req.si_policy is not None and self.risk is not None
        facts = ChangeFacts(employee_id=self.req.employee_id, city=self.req.si_policy.city, kind=kind,
                            base=None if kind is ChangeKind.STOP else self.risk.contribution_base,
                            effective_month=f"{self.last_day:%Y-%m}")
        try:
            result = await workflow.execute_child_workflow(
                SocialInsuranceChangeWorkflow.run,
                SiChangeRequest(facts=facts, reason=f"offboarding {self._wf()}: {label}", maker=self.req.filed_by,
                                department=self.req.department, province=self.req.province,
                                today=workflow.now().date(), policy=self.req.si_policy,
                                rollback_window=timedelta(0), followup=timedelta(0),
                                correction_window=timedelta(0),  # a refusal comes straight back here
                                pre_approved=Actor(user="offboarding", role=Role.HR_MANAGER)),
                id=f"si-change-{self.req.employee_id}-{self._wf().removeprefix('offboarding-')}-{label}",
                static_summary=f"{kind.value} for {self.req.employee_id} (offboarding)")
        except ChildWorkflowError as err:
            await self._manual(f"{label}-enrollment", f"Enrollment {label} failed: {err.cause}; do it at the agency")
            return None
        if result.stage != "executed" and result.stage != "completed":
            await self._manual(f"{label}-enrollment", f"Enrollment {label} ended {result.stage}; do it at the agency")
            return None
        return result.acceptance_no

    async def _after_departure(self) -> None:
        """Watch the 15-day filings (reminder, escalation) and the items that carry on."""
        reminded = escalated = False
        while not self._finished():
            await self._replan_filings()
            await self._track_filings()
            events = []
            if not self._filings_done():
                if not reminded:
                    events.append((kernel.at(self.filing_due - timedelta(days=self.req.reminder_days), 9), "remind"))
                if not escalated:
                    events.append((kernel.at(self.filing_due + timedelta(days=1), 9), "escalate"))
            changed = partial(self._moved_since, self._progress())
            if not events:
                await workflow.wait_condition(changed)
                continue
            when, what = min(events)
            try:
                await workflow.wait_condition(changed, timeout=max(when - workflow.now(), timedelta(0)),
                                              timeout_summary=what)
                continue
            except TimeoutError:
                pass
            async with self._lock:
                missing = [f for f, ref in self.filings.items() if ref is None]
                if what == "remind":
                    reminded = True
                    await case_ops.notify(
                        "filings-reminder", [Recipient(kind="role", who=Role.HR_SPECIALIST)], "offboarding.filings_due",
                        {"employee_id": self.req.employee_id, "due": self.filing_due, "missing": missing},
                        via=MATERNITY_NOTIFY)  # the name its first histories recorded
                else:
                    escalated = True
                    await self.book.open_task("filings-overdue", f"自 {self.filing_due} 起逾期：{self.req.employee_id} 的 {'、'.join(missing)}"
                                          f"（劳动合同法第五十条）(Overdue since {self.filing_due}: {', '.join(missing)}"
                                          f" for {self.req.employee_id}, Labour Contract Law art. 50)", Role.HR_MANAGER)
                    await case_ops.audit(self.book.next_step(), "offboarding.filing_deadline_missed",
                                         subject=self.req.employee_id, after={"due": self.filing_due, "missing": missing})
        await self._track_filings()
        if workflow.patched(case_ops.TASKS_BY_DECISION):  # by-hand work stays with its owner
            await self.book.cancel_all("the offboarding has completed", keep=(
                "undo-", "housing-fund", "stop-enrollment", "restart-enrollment", "settle-", "ledger-"))
        else:
            await self.book.close_all("done", actor=SYSTEM)
        await self._stage(COMPLETED, status="completed")

    def _progress(self) -> tuple[dict[str, str | None], list[tuple[str, str | None]]]:
        """The filings and the items, as the watch after departure last saw them."""
        return dict(self.filings), [(i.status, i.outcome) for i in self.items.values()]

    def _moved_since(self, seen: tuple[dict[str, str | None], list[tuple[str, str | None]]]) -> bool:
        """An arrangement was approved, or a filing or an item moved since ``seen``: look again."""
        return bool(self.calendar_changes) or self._progress() != seen

    async def _replan_filings(self) -> None:
        """A holiday arrangement approved for the year of the filing date: plan it again through
        the deadline function and say so on the case (audited; the sweep's deadline moves too)."""
        while self.calendar_changes:
            change = self.calendar_changes.pop(0)
            if change.year not in (self.last_day.year, self.filing_due.year):
                continue
            async with self._lock:
                planned: PlannedDeadline = await kernel.run(
                    PLAN_DEADLINE, PlanDeadline(
                        rule=self.req.policy.deadlines["archive_and_insurance_transfer"], from_date=self.last_day,
                        arrangement_year=change.year, arrangement_notice=change.notice_id),
                    summary=f"re-plan the filings after the {change.year} arrangement")
                before = self.filing_due
                if (planned.due, planned.provisional) == (before, self.filing_due_provisional):
                    continue  # the arrangement does not move it
                self.filing_due, self.filing_due_provisional = planned.due, planned.provisional
                await case_ops.audit(self.book.next_step(), "offboarding.filings_replanned", subject=self.req.employee_id,
                                     before={"due": before}, after={"due": planned.due, "provisional": planned.provisional,
                                                                    "year": change.year, "notice": change.notice_id})
                if self.filings_tracked == "open":
                    await case_ops.track_deadline("departure_filing", self.req.employee_id, kernel.at(self.filing_due, 9),
                                                  status="open")
                workflow.set_current_details(f"申报期限按 {change.year} 年节假日安排重新计算：{before} → {self.filing_due}"
                                             f" (filing deadline re-planned on the {change.year} arrangement)")

    @workflow.signal(name=CALENDAR_SIGNAL)
    def calendar_changed(self, change: CalendarChanged) -> None:
        """An arrangement for a year was approved: the filing date is planned again after departure.
        (Behind a patch: a history in which an older worker buffered this signal replays unchanged.)"""
        if workflow.patched(CALENDAR_REPLAN):
            self.calendar_changes.append(change)

    async def _track_filings(self) -> None:
        """Tell the reminder sweep the filing deadline while filings are missing, and when they are
        done (cases from before the patch never recorded it, and do not start to)."""
        status = "met" if self._filings_done() else "open"
        if status == self.filings_tracked or (status == "met" and self.filings_tracked is None):
            return
        if not workflow.patched(case_ops.TRACK_DEADLINES):
            return
        await case_ops.track_deadline("departure_filing", self.req.employee_id, kernel.at(self.filing_due, 9), status=status)
        self.filings_tracked = status

    async def _withdraw(self) -> None:
        """Undo every completed step, newest first; an undo that fails is a manual task, never dropped."""
        decision = self.withdrawal_accepted
        assert decision is not None
        await self.undo.run(self._undo_by_hand)
        await self.book.close_all("cancelled", actor=decision.actor, reason="resignation withdrawn")
        if self.chain is not None:
            await self.chain.cancel("cancelled", "辞职已撤回 (resignation withdrawn)", decision.actor)
        await self._stage(WITHDRAWN, status="withdrawn", actor=decision.actor,
                          details={"reason": self.withdrawal.reason if self.withdrawal else None})
        if workflow.patched(case_ops.EMPLOYMENT_EVENTS):
            await case_ops.announce("notice_withdrawn", self.req.employee_id, kernel.today(),
                                    step="notice-withdrawn", actor=decision.actor)

    # ------------------------------------------------------------------ messages
    @workflow.update
    async def sign_off(self, msg: SignOff) -> OffboardingView:
        async with case_ops.deciding(self, lambda: self._check_sign_off(msg)) as item:
            if msg.gate == "hr_final" and self.chain is not None and not await self.chain.sign(msg.actor):
                return self.view()  # the route's next signatures are awaited
            signed: contract.Signed = await kernel.run(contract.SIGN_ITEM, contract.SignItem(
                workflow_id=self._wf(), employee_id=self.req.employee_id, gate=msg.gate, item_key=msg.item_key,
                outcome=msg.outcome, note=msg.note, record_id=item.record_id, at=workflow.now(), actor=msg.actor), summary=f"{msg.gate}: {msg.item_key} {msg.outcome}")
            item.status = "carried_on" if msg.outcome in CARRIED else "done"
            item.outcome, item.signed_by = msg.outcome, msg.actor.user
            if msg.amount is not None:
                item.amount = msg.amount
            item.agreed_in_writing = msg.agreed_in_writing
            if signed.evidence_events:
                item.title += f" [evidence: {len(signed.evidence_events)} audit events]"
            if (msg.gate, msg.item_key) == ("finance", "receivables") \
                    and msg.outcome in ("deducted_by_agreement", "repaid"):
                if workflow.patched(case_ops.LEDGER_CLAIMS):
                    self.receivables_by_claim = True
                    item.amount = msg.amount  # what she agreed to, at most; None: whatever is open then
                    if msg.outcome == "repaid":  # the money came in now: claimed now
                        await self._claim_receivables("repaid", "repayment", item, msg.actor,
                                                      f"repaid: {msg.note or 'confirmed by finance'}")
                elif workflow.patched("settle-receivable-cases"):
                    await self._settle_receivable_cases(msg)
            if msg.gate == "handover" and self._gate_done("handover") and self.final and self.final.compensation_held:
                self.final = self._final_pay()  # the handover is complete: the compensation is released
                await case_ops.audit(self.book.next_step(), "offboarding.compensation_released", actor=msg.actor,
                                     subject=self.req.employee_id,
                                     after={"economic_compensation": self.final.economic_compensation})
            if self._gate_done(msg.gate):
                await self.book.close_task(f"gate-{msg.gate}", "done", actor=msg.actor)
                await self.book.close_task(f"escalation-{msg.gate}", "done", actor=msg.actor)
            if all(self._gate_done(g) for g in GATES if g != "hr_final") and "gate-hr_final" not in self.book.tasks \
                    and self.chain is None and not self._gate_done("hr_final"):
                if workflow.patched(APPROVER_ROUTES):
                    await self._open_route(DECISION, self._route_fields(), FINAL_TITLE, why="clearance_done",
                                           maker=None, on=self.opened_on or kernel.today())
                else:
                    await self.book.open_task("gate-hr_final", f"人事终审：{self.req.employee_id} (HR final approval"
                                              f" for {self.req.employee_id})", Role.HR_MANAGER)
            if msg.gate == "hr_final":
                await self.book.close_task("gate-hr_final", "approved", actor=msg.actor)
            # What the UI shows: each gate's state (current details are not a command).
            workflow.set_current_details(f"{self.stage}, last day {self.last_day}. Gates: " + ", ".join(
                f"{g} {'done' if self._gate_done(g) else 'open'}" for g in GATES))
        return self.view()

    @sign_off.validator
    def _v_sign_off(self, msg: SignOff) -> None:
        case_ops.check_when_open(self, lambda: self._check_sign_off(msg))

    @workflow.update
    async def withdraw(self, msg: Withdrawal) -> OffboardingView:
        """She withdraws her resignation; it takes effect only if an hr_manager accepts."""
        async with case_ops.deciding(self, lambda: self._check_withdraw(msg)):
            self.withdrawal = msg
            await self.book.open_task("withdrawal", f"{self.req.employee_id} 撤回辞职：请同意或拒绝（{msg.reason}）({self.req.employee_id} withdraws the"
                                  f" resignation: accept or refuse ({msg.reason}))", Role.HR_MANAGER)
        return self.view()

    @withdraw.validator
    def _v_withdraw(self, msg: Withdrawal) -> None:
        case_ops.check_when_open(self, lambda: self._check_withdraw(msg))

    @workflow.update
    async def decide_withdrawal(self, msg: WithdrawalDecision) -> OffboardingView:
        async with case_ops.deciding(self, lambda: self._check_withdrawal_decision(msg)):
            await self.book.close_task("withdrawal", "approved" if msg.accept else "rejected", actor=msg.actor,
                                   reason=msg.reason)
            if msg.accept:
                self.withdrawal_accepted = msg
            else:
                self.withdrawal = None
                await case_ops.audit(self.book.next_step(), "offboarding.withdrawal_refused", actor=msg.actor,
                                     subject=self.req.employee_id, after={"reason": msg.reason})
        if msg.accept:
            await workflow.wait_condition(lambda: self.stage == WITHDRAWN)
        return self.view()

    @decide_withdrawal.validator
    def _v_decide_withdrawal(self, msg: WithdrawalDecision) -> None:
        case_ops.check_when_open(self, lambda: self._check_withdrawal_decision(msg))

    @workflow.update
    async def record_filing(self, msg: Filing) -> OffboardingView:
        async with case_ops.deciding(self, lambda: self._check_filing(msg)):
            self.filings[msg.filing] = msg.reference
            await case_ops.audit(self.book.next_step(), f"offboarding.{msg.filing}_done", actor=msg.actor,
                                 subject=self.req.employee_id,
                                 after={"reference": msg.reference, "due": self.filing_due,
                                        "on_time": workflow.now() <= kernel.at(self.filing_due + timedelta(days=1), 0)})
            if self._filings_done():
                await self.book.close_task("filings-overdue", "done", actor=msg.actor)
        return self.view()

    @record_filing.validator
    def _v_filing(self, msg: Filing) -> None:
        case_ops.check_when_open(self, lambda: self._check_filing(msg))

    @workflow.signal(name=EMPLOYMENT_SIGNAL)
    async def employment_changed(self, event: EmploymentEvent) -> None:
        """Her employment changed elsewhere (another offboarding of hers): it is recorded."""
        await case_ops.note_employment(self, KIND, self.req.employee_id, event, "noted on this offboarding")

    @workflow.update
    async def opened(self) -> OffboardingView:
        return await case_ops.opened(self, self.view)

    @workflow.query
    def view(self) -> OffboardingView:
        return OffboardingView(
            workflow_id=self._wf(), employee_id=self.req.employee_id, kind=self.req.kind.value, stage=self.stage,
            notice_date=self.req.notice_date, last_day=self.last_day, risk=self.risk,
            gates={g: ("done" if self._gate_done(g) else "open") for g in GATES},
            items=list(self.items.values()), lawful_holds=LAWFUL_HOLDS, final_pay=self.final,
            certificate_no=self.certificate_no, enrollment_stop=self.enrollment_stop,
            housing_fund_stop=self.housing_fund_stop, filings=dict(self.filings), filing_due=self.filing_due,
            filing_due_provisional=self.filing_due_provisional,
            withdrawal=self.withdrawal, manual_tasks=list(self.manual_tasks), non_compete_case=self.non_compete_case,
            approval=self.chain.view() if self.chain is not None else None)

    # ------------------------------------------------------------------ rules
    def _check_sign_off(self, msg: SignOff) -> ItemState:
        item = self.items.get(f"{msg.gate}/{msg.item_key}")
        if item is None:
            raise kernel.refuse(Refusal.NOT_FOUND, f"审核环节 {msg.gate} 中没有事项 {msg.item_key}"
                                                   f" (no item {msg.item_key} in gate {msg.gate})")
        if self.stage in (WITHDRAWN, COMPLETED):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，不能办理此操作 (the case is {self.stage})")
        if item.status != "open" and not (item.status == "carried_on" and msg.outcome not in CARRIED):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"事项 {msg.item_key} 已是“{item.status}”状态"
                                                     f" ({msg.item_key} is already {item.status})")
        if item.owner_user is not None and msg.actor.user != item.owner_user:
            raise kernel.refuse(Refusal.FORBIDDEN, f"事项 {msg.item_key} 须由接收人 {item.owner_user} 签收"
                                                   f" ({msg.item_key} is signed off by its receiver {item.owner_user})")
        routed = msg.gate == "hr_final" and self.chain is not None
        if item.owner_role is not None and msg.actor.role != item.owner_role and not routed:
            raise kernel.refuse(Refusal.WRONG_ROLE, f"{msg.gate} 环节须由 {item.owner_role} 签核"
                                                    f" (the {msg.gate} gate is signed off by {item.owner_role})")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if msg.outcome not in OUTCOMES[msg.gate]:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"办理结果须为以下之一：{sorted(OUTCOMES[msg.gate])}"
                                                           f" (outcome must be one of {sorted(OUTCOMES[msg.gate])})")
        if msg.outcome == "deducted_by_agreement" and not msg.agreed_in_writing:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, "从离职工资中扣款须经员工书面同意（《工资支付暂行规定》第十五条）"
                          " (a deduction from final pay needs her written agreement (Wage Payment Provisions"
                          " art. 15))")
        if msg.gate == "hr_final" and not all(self._gate_done(g) for g in GATES if g != "hr_final"):
            raise kernel.refuse(Refusal.WRONG_STAGE, "人事终审须在工作交接、IT、财务和合规环节完成之后"
                                                     " (HR final approval comes after handover, IT, finance and compliance)")
        if routed:
            assert self.chain is not None
            self.chain.check(msg.actor)  # whom the route's current step names, whatever her role
        return item

    # ------------------------------------------------------------------ the final approval's route
    def _route_fields(self) -> dict[str, Decimal | str | int]:
        return {"kind": self.req.kind.value, "ground": self.req.ground or "", "amount": self.req.economic_compensation}

    def _check_task_action(self, actor: Actor) -> ApprovalChain:
        chain = self._check_routed(self.stage)
        if not self._awaiting_signatures():
            raise kernel.refuse(Refusal.WRONG_STAGE, "终审不在签批中 (the final approval is not being signed)",
                                stage=self.stage)
        kernel.not_the_subject(actor, self.req.employee_id)
        chain.check(actor)
        return chain

    def _awaiting_signatures(self) -> bool:
        final = self.items.get("hr_final/final")
        return (self.chain is not None and not self.chain.done and final is not None and final.status == "open"
                and self.stage not in (WITHDRAWN, COMPLETED))

    def _subject_id(self) -> str:
        return self.req.employee_id

    def _next_step(self) -> str:
        return self.book.next_step()

    def _check_withdraw(self, msg: Withdrawal) -> None:
        if not msg.actor.is_employee(self.req.employee_id) and msg.actor.role not in (Role.HR_SPECIALIST, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.FORBIDDEN, "辞职只能由员工本人（或人事代她）撤回"
                                                   " (only she (or HR for her) withdraws a resignation)")
        if self.req.kind not in (OffboardingKind.RESIGNATION, OffboardingKind.PROBATION_RESIGNATION):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"{self.req.kind.value} 不能由员工撤回"
                                                     f" (a {self.req.kind.value} is not withdrawn by the employee)")
        if self.stage not in (CLEARANCE, LAST_DAY_DONE) or self.withdrawal is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，撤回须在最后工作日结束前提出"
                                                     f" (the case is {self.stage}; a withdrawal is possible until the end of the last day)")

    def _check_withdrawal_decision(self, msg: WithdrawalDecision) -> None:
        if msg.actor.role != Role.HR_MANAGER:
            raise kernel.refuse(Refusal.WRONG_ROLE, "撤回申请由人事经理决定是否同意 (an hr_manager accepts or refuses a withdrawal)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if self.withdrawal is None or self.withdrawal_accepted is not None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "没有等待决定的撤回申请 (no withdrawal is waiting)")
        if self.stage not in (CLEARANCE, LAST_DAY_DONE):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段：劳动关系已经结束"
                                                     f" (the case is {self.stage}: the employment has ended)")

    def _check_filing(self, msg: Filing) -> None:
        if msg.actor.role not in (Role.HR_SPECIALIST, Role.HR_MANAGER):
            raise kernel.refuse(Refusal.WRONG_ROLE, "备案事项由人事登记 (HR records the filings)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if msg.filing not in FILINGS:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"备案事项须为以下之一：{list(FILINGS)}"
                                                           f" (filing must be one of {list(FILINGS)})")
        if self.stage != DEPARTED:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"案件当前处于“{self.stage}”阶段，备案须在离职之后办理"
                                                     f" (the case is {self.stage}; filings follow the departure)")

    # ------------------------------------------------------------------ plumbing
    def _open_gates_now(self) -> list[str]:
        return [g for g in GATES if g != "hr_final" and not self._gate_done(g)]

    def _gate_done(self, gate: str) -> bool:
        return all(i.status != "open" for i in self.items.values() if i.gate == gate)

    def _filings_done(self) -> bool:
        return all(self.filings.values())

    def _finished(self) -> bool:
        return self._filings_done() and all(i.status == "done" for i in self.items.values())

    async def _claim_receivables(self, step: str, method: str, item: ItemState, actor: Actor, reference: str) -> None:
        """Recover her receivables in the ledger as they stand now, at most what she agreed to (the
        item's amount); the item then says what was taken, and each owning case is told."""
        claimed: contract.Claimed = await kernel.run(contract.CLAIM_RECEIVABLES, contract.ClaimReceivables(
            workflow_id=self._wf(), employee_id=self.req.employee_id, step=step, method=method, cap=item.amount,
            reference=reference, actor=actor, at=workflow.now()), summary=f"{method}: the receivables open now")
        item.amount = claimed.amount
        await self._tell_owning_cases(claimed.by_case, actor, f"{self._wf()}: {reference}")

    async def _void_claim(self, step: str) -> None:
        undone: contract.Claimed = await kernel.run(contract.VOID_CLAIM, contract.VoidClaim(
            workflow_id=self._wf(), employee_id=self.req.employee_id, step=f"{step}-voided", voided_step=step,
            reference="resignation withdrawn: final pay's deduction given back", actor=SYSTEM,
            at=workflow.now()), summary="give back final pay's claim")
        await self._tell_owning_cases(undone.by_case, SYSTEM, f"{self._wf()}: final pay voided")

    async def _tell_owning_cases(self, by_case: dict[str, Decimal], actor: Actor, reference: str) -> None:
        """The ledger already holds the claim; each owning case reads its balance again. A case that
        has closed cannot: finance is given the task to follow it up."""
        for case, amount in sorted(by_case.items()):
            if case == self._wf() or amount == 0:
                continue
            try:
                await workflow.get_external_workflow_handle(case).signal(
                    MaternityLeaveWorkflow.ledger_changed, LedgerChanged(actor=actor, amount=amount, reference=reference))
            except Exception:  # noqa: BLE001 - closed or unknown: the ledger is right; a person follows up
                await self.book.open_task(f"ledger-{case}", f"{amount} yuan of the receivables of {case} moved"
                                          " here; that case is closed and was not told: follow it up"[:200], Role.FINANCE, by_hand=True)

    async def _settle_receivable_cases(self, msg: SignOff) -> None:
        """Tell each case that owns the receivables what was recovered here, so it is not recovered
        there again (seed 000: the maternity advance)."""
        assert self.risk is not None
        left = msg.amount if msg.amount is not None else self.risk.receivables_outstanding
        method = "payroll_deduction" if msg.outcome == "deducted_by_agreement" else "repayment"
        for case, owed in self.risk.receivable_cases.items():
            share = min(left, owed)
            if share <= 0:
                break
            left -= share
            try:
                await workflow.get_external_workflow_handle(case).signal(
                    MaternityLeaveWorkflow.external_settlement,
                    ExternalSettlement(actor=msg.actor, amount=share, method=method,
                                       reference=f"{self._wf()}: {msg.note or msg.outcome}"))
            except Exception as err:  # noqa: BLE001 - the case is closed or unknown: finance settles it by hand
                await self._manual(f"settle-{case}", f"Record {share} recovered in {self._wf()} on {case}: {err}")

    async def _undo_by_hand(self, label: str, cause: BaseException) -> None:
        await self._manual(f"undo-{label}", f"Undo by hand: {label} ({cause})")

    async def _manual(self, purpose: str, title: str) -> None:
        await self.book.open_task(purpose, title, Role.HR_MANAGER, by_hand=True)
        self.manual_tasks.append(title)

    async def _stage(self, stage: str, *, status: str | None = None, actor: Actor = SYSTEM,
                     details: dict[str, Any] | None = None, current: str | None = None) -> None:
        due = {LAST_DAY_DONE: kernel.at(self.filing_due, 0), DEPARTED: kernel.at(self.filing_due, 0)}.get(stage)
        await case_ops.change_stage(self.book.next_step(), stage, status=status, actor=actor, details=details,
                                    current_details=current, next_due_at=due)
        self.stage = stage


    @staticmethod
    def _wf() -> str:
        return workflow.info().workflow_id
