"""ResignationWorkflow: her written notice of resignation, given in self-service, until HR opens her
departure on it or she takes it back first.

Why a workflow: the notice is a legal fact with a date (Labour Contract Law art. 37: thirty days'
written notice, three in probation, counted from the day she gives it). It must reach HR as a task
with a due date (the reminder sweep escalates it when nobody acts), and the departure HR opens must
rest on that date, not on the day HR got round to it: the API refuses a resignation offboarding for
her whose notice date differs. The offboarding announces her notice to her open cases, as it does
to every case of hers, and this one closes on that event, HR's task with it. Until then she may
take the notice back herself (``withdraw``); once the departure is open, a withdrawal is the
offboarding's, decided by an hr_manager. The case waits without a timer or a loop, so its history
stays a few dozen events however long HR takes.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from pydantic import BaseModel, Field
from temporalio import workflow

from workflows import case_ops, kernel

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.contracts.outbox import Recipient
    from domain.employment import SIGNAL as EMPLOYMENT_SIGNAL
    from domain.employment import EmploymentEvent
    from domain.refusals import Refusal
    from domain.roles import Role

KIND = "resignation"
NOTICE_GIVEN, TAKEN_UP, WITHDRAWN = "notice_given", "taken_up", "withdrawn"


class ResignationRequest(BaseModel):
    employee_id: str
    notice_date: dt.date = Field(description="the day she gave notice, China time: art. 37 counts from it")
    wished_last_day: dt.date | None = None
    reason: str | None = None
    department: str = ""
    province: str = ""
    hr_due: dt.datetime = Field(description="when HR should have opened her departure")
    filed_by: Actor


class Withdraw(BaseModel):
    actor: Actor
    reason: str | None = None


class ResignationView(BaseModel):
    workflow_id: str
    employee_id: str
    stage: str
    closed: bool
    notice_date: dt.date
    wished_last_day: dt.date | None
    reason: str | None
    offboarding_id: str | None
    withdrawn_reason: str | None


@workflow.defn(name="Resignation")
class ResignationWorkflow:
    @workflow.init
    def __init__(self, req: ResignationRequest) -> None:
        self.req = req
        self.stage = NOTICE_GIVEN
        self.offboarding_id: str | None = None
        self.withdrawn_reason: str | None = None
        self.decided_by: Actor | None = None  # she, when she withdraws
        self.taken_up_by: str | None = None  # the user who opened her departure
        self.book = case_ops.CaseBook("r")
        self.case_open = False
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, req: ResignationRequest) -> ResignationView:
        return await case_ops.run_to_end(self._lifecycle(req), self.view)

    async def _lifecycle(self, req: ResignationRequest) -> None:
        async with self._lock:
            wished = f"，希望最后工作日 {req.wished_last_day}" if req.wished_last_day else ""
            wished_en = f"; wished last day {req.wished_last_day}" if req.wished_last_day else ""
            await case_ops.open_case(
                kind=KIND, employee_id=req.employee_id, stage=NOTICE_GIVEN, province=req.province,
                department=req.department, actor=req.filed_by,
                summary=f"辞职通知：{req.notice_date} 提出{wished} (Notice of resignation given {req.notice_date}{wished_en})",
                details={"notice_date": req.notice_date, "wished_last_day": req.wished_last_day,
                         "reason": req.reason})
            await self.book.open_task(
                "take-up", f"{req.employee_id} 于 {req.notice_date} 书面提出辞职：请据此发起离职流程"
                           f" ({req.employee_id} gave written notice on {req.notice_date}: open her departure on it)",
                Role.HR_SPECIALIST, due_at=req.hr_due)
            await self._tell_her("resignation.received", {"notice_date": req.notice_date,
                                                          "wished_last_day": req.wished_last_day})
            workflow.set_current_details(f"notice given {req.notice_date}; waiting for HR by {req.hr_due:%Y-%m-%d}")
            self.case_open = True
        await workflow.wait_condition(lambda: self.stage != NOTICE_GIVEN)
        async with self._lock:
            if self.stage == TAKEN_UP:  # closed by the system on the event of her offboarding
                await self.book.close_task("take-up", "done", actor=SYSTEM, reason=self.offboarding_id)
                await case_ops.change_stage(self.book.next_step(), TAKEN_UP, status="completed",
                                            details={"offboarding_id": self.offboarding_id, "by": self.taken_up_by})
            else:
                actor = self.decided_by or req.filed_by
                await self.book.cancel_task("take-up", "员工已撤回辞职通知 (she withdrew her notice)", actor=actor)
                await case_ops.change_stage(self.book.next_step(), WITHDRAWN, actor=actor, status="withdrawn",
                                            details={"reason": self.withdrawn_reason})
                await self._tell_her("resignation.withdrawn", {"notice_date": req.notice_date})

    async def _tell_her(self, template: str, params: dict[str, object]) -> None:
        await case_ops.notify(f"{template}-{self.book.next_step()}",
                              [Recipient(kind="employee", who=self.req.employee_id)], template, params)

    # ------------------------------------------------------------------ messages
    @workflow.signal(name=EMPLOYMENT_SIGNAL)
    async def employment_changed(self, event: EmploymentEvent) -> None:
        """Her departure was opened (on this notice, or on another ground): the notice is taken up by
        it, and HR's task closes without anyone having to close it."""
        await case_ops.wait_until_open(self)
        async with self._lock:
            if self.stage != NOTICE_GIVEN or event.kind == "notice_withdrawn":
                await case_ops.note_employment(self, KIND, self.req.employee_id, event,
                                               f"nothing to do: the notice is {self.stage}")
                return
            self.offboarding_id, self.taken_up_by, self.stage = event.source, event.by, TAKEN_UP

    @workflow.update
    async def withdraw(self, msg: Withdraw) -> ResignationView:
        """She takes her notice back before HR has opened her departure."""
        async with case_ops.deciding(self, lambda: self._check_withdraw(msg)):
            self.withdrawn_reason, self.decided_by, self.stage = msg.reason, msg.actor, WITHDRAWN
        return self.view()

    @withdraw.validator
    def _v_withdraw(self, msg: Withdraw) -> None:
        case_ops.check_when_open(self, lambda: self._check_withdraw(msg))

    @workflow.update
    async def opened(self) -> ResignationView:
        return await case_ops.opened(self, self.view)

    @workflow.query
    def view(self) -> ResignationView:
        return ResignationView(
            workflow_id=workflow.info().workflow_id, employee_id=self.req.employee_id, stage=self.stage,
            closed=self.stage != NOTICE_GIVEN, notice_date=self.req.notice_date,
            wished_last_day=self.req.wished_last_day, reason=self.req.reason, offboarding_id=self.offboarding_id,
            withdrawn_reason=self.withdrawn_reason)

    # ------------------------------------------------------------------ rules
    def _check_open(self) -> None:
        if self.stage == TAKEN_UP:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"离职流程已据此通知开始（{self.offboarding_id}）"
                                                     f" (her departure is already open on this notice ({self.offboarding_id}))")
        if self.stage == WITHDRAWN:
            raise kernel.refuse(Refusal.WRONG_STAGE, "此辞职通知已撤回 (this notice was withdrawn)")

    def _check_withdraw(self, msg: Withdraw) -> None:
        if not msg.actor.is_employee(self.req.employee_id):
            raise kernel.refuse(Refusal.FORBIDDEN, "辞职通知只能由员工本人撤回 (only she withdraws her notice)")
        self._check_open()
