"""ErasureWorkflow: a request to erase a person's personal data (PIPL art. 47), its legal check, a
second person's approval, a hold while the law still keeps her records, then the erasure.

Why a workflow: the hold is long (two years after she left, Labour Contract Law art. 50) and must
end in an erasure nobody has to remember; the case sleeps on one durable timer and checks the
facts again when it wakes (she may have been rehired). The erasure is the destruction of her keys
(``db.person_keys``): every history of her cases becomes unreadable, this one stays readable (it is
under the master key, and holds only her employee number, never her name or ID number). The
processes' caches hold a key for at most ``key_cache_seconds``; the case reports her erased only
after that time.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from pydantic import BaseModel, Field
from temporalio import workflow

from workflows import case_ops, kernel

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.contracts.erasure import ERASE, GATHER_FACTS, Erased, EraseRequest, FactsRequest
    from domain.contracts.outbox import Recipient
    from domain.employment import SIGNAL as EMPLOYMENT_SIGNAL
    from domain.employment import EmploymentEvent
    from domain.erasure import Assessment, RetentionRule, Verdict, assess
    from domain.refusals import Refusal
    from domain.roles import Role

KIND = "erasure"
CHECKING, AWAITING, HELD, ERASING = "checking", "awaiting_approval", "held", "erasing"
ERASED, REFUSED, REJECTED, WITHDRAWN = "erased", "refused", "rejected", "withdrawn"
ENDED = (ERASED, REFUSED, REJECTED, WITHDRAWN)
DECIDERS = (Role.COMPLIANCE.value,)


class ErasureRequest(BaseModel):
    employee_id: str
    reason: str = Field(min_length=1)
    on_her_request: bool  # she asked (PIPL art. 47); otherwise the company's own retention review
    requested_by: Actor
    retention: list[RetentionRule]  # pinned from the catalogue on the day of the request
    key_cache_seconds: float = Field(ge=0)
    department: str = ""
    province: str = ""


class Decision(BaseModel):
    actor: Actor
    approve: bool
    reason: str | None = None


class Withdraw(BaseModel):
    actor: Actor
    reason: str | None = None


class ErasureView(BaseModel):
    workflow_id: str
    employee_id: str
    stage: str
    closed: bool
    reason: str
    on_her_request: bool
    requested_by: str
    assessment: Assessment | None
    decided_by: str | None
    decision_reason: str | None
    held_until: dt.date | None
    erased: Erased | None


@workflow.defn(name="Erasure")
class ErasureWorkflow:
    @workflow.init
    def __init__(self, req: ErasureRequest) -> None:
        self.req = req
        self.stage = CHECKING
        self.assessment: Assessment | None = None
        self.decision: Decision | None = None
        self.withdrawn: Withdraw | None = None
        self.erased: Erased | None = None
        self.book = case_ops.CaseBook("e")
        self.case_open = False
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, req: ErasureRequest) -> ErasureView:
        return await case_ops.run_to_end(self._lifecycle(req), self.view)

    async def _lifecycle(self, req: ErasureRequest) -> None:
        async with self._lock:
            asked = "本人请求" if req.on_her_request else "保存期审查"
            asked_en = "at her request" if req.on_her_request else "retention review"
            await case_ops.open_case(
                kind=KIND, employee_id=req.employee_id, stage=CHECKING, province=req.province,
                department=req.department, actor=req.requested_by,
                summary=f"删除 {req.employee_id} 的个人信息（{asked}） (Erase {req.employee_id}'s personal data, {asked_en})",
                details={"reason": req.reason, "on_her_request": req.on_her_request,
                         "retention": [r.model_dump() for r in req.retention]})
            self.assessment = await self._assess()
            self.case_open = True
            if self.assessment.verdict == Verdict.REFUSED:
                await self._end(REFUSED, "rejected", details={"reasons": self.assessment.reasons})
                return
            self.stage = AWAITING
            await self.book.open_task(
                "decide", f"删除 {req.employee_id} 的个人信息：请审批（{self._verdict_zh()}）"
                          f" (erase {req.employee_id}'s personal data: decide)", Role.COMPLIANCE.value)
            await case_ops.change_stage(self.book.next_step(), AWAITING, actor=req.requested_by,
                                        details=self.assessment.model_dump(mode="json"),
                                        current_details=f"awaiting compliance: {self.assessment.verdict}")
        await workflow.wait_condition(lambda: self.stage != AWAITING)
        if self.stage in ENDED:
            return
        while self.stage == HELD:  # approved, the law still keeps her records
            assert self.assessment is not None and self.assessment.held_until is not None
            wake = kernel.at(self.assessment.held_until, 9)
            try:
                await workflow.wait_condition(lambda: self.stage != HELD,
                                              timeout=max(wake - workflow.now(), dt.timedelta(seconds=1)))
                return  # withdrawn meanwhile
            except TimeoutError:
                pass  # the retention ended: check the facts again
            async with self._lock:
                self.assessment = await self._assess()
                if self.assessment.verdict == Verdict.REFUSED:  # rehired, a new case of hers, money again
                    await self._end(REFUSED, "rejected", details={"reasons": self.assessment.reasons})
                    return
                if self.assessment.verdict == Verdict.READY:
                    self.stage = ERASING
        await self._erase()

    async def _assess(self) -> Assessment:
        facts = await kernel.run(GATHER_FACTS, FactsRequest(workflow_id=workflow.info().workflow_id,
                                                            employee_id=self.req.employee_id),
                                 summary=f"facts for erasing {self.req.employee_id}")
        return assess(facts, self.req.retention, kernel.today())

    async def _erase(self) -> None:
        assert self.decision is not None
        async with self._lock:
            self.stage = ERASING
            await case_ops.change_stage(self.book.next_step(), ERASING, current_details="destroying her keys")
            self.erased = await kernel.run(
                ERASE, EraseRequest(workflow_id=workflow.info().workflow_id, employee_id=self.req.employee_id,
                                    at=case_ops.now(), approved_by=self.decision.actor),
                summary=f"erase {self.req.employee_id}: destroy her keys, overwrite her columns")
        # Every process drops its cached copy of her key within this time; only then is she erased.
        await workflow.sleep(dt.timedelta(seconds=self.req.key_cache_seconds))
        async with self._lock:
            await self._end(ERASED, "completed", details=self.erased.model_dump())
            await case_ops.notify(f"erased-{self.book.next_step()}", [Recipient(kind="role", who=Role.COMPLIANCE.value)],
                                  "erasure.done", {"employee_id": self.req.employee_id,
                                                   "keys_destroyed": self.erased.keys_destroyed,
                                                   "documents_cleared": self.erased.documents_cleared})

    async def _end(self, stage: str, status: str, *, actor: Actor = SYSTEM, details: dict[str, object]) -> None:
        self.stage = stage
        await case_ops.change_stage(self.book.next_step(), stage, status=status, actor=actor, details=details,
                                    current_details=f"{stage}")

    def _verdict_zh(self) -> str:
        assert self.assessment is not None
        if self.assessment.verdict == Verdict.HELD:
            return f"法定保存期至 {self.assessment.held_until}，批准后届时自动删除"
        return "保存期已满，批准后立即删除"

    # ------------------------------------------------------------------ messages
    @workflow.update
    async def decide(self, msg: Decision) -> ErasureView:
        """Compliance approves (erase now, or when the retention ends) or rejects, never the person
        who asked, nor the person to be erased."""
        async with case_ops.deciding(self, lambda: self._check_decide(msg)):
            assert self.assessment is not None
            self.decision = msg
            decision = "approved" if msg.approve else "rejected"
            await self.book.close_task("decide", decision, actor=msg.actor, reason=msg.reason)
            if not msg.approve:
                await self._end(REJECTED, "rejected", actor=msg.actor, details={"reason": msg.reason})
            elif self.assessment.verdict == Verdict.HELD:
                self.stage = HELD
                await case_ops.change_stage(self.book.next_step(), HELD, actor=msg.actor,
                                            details={"held_until": self.assessment.held_until},
                                            current_details=f"held until {self.assessment.held_until}")
            else:
                self.stage = ERASING
        return self.view()

    @decide.validator
    def _v_decide(self, msg: Decision) -> None:
        case_ops.check_when_open(self, lambda: self._check_decide(msg))

    @workflow.update
    async def withdraw(self, msg: Withdraw) -> ErasureView:
        """The request taken back (by the person who asked, or by her when it was hers) before the erasure."""
        async with case_ops.deciding(self, lambda: self._check_withdraw(msg)):
            self.withdrawn = msg
            await self.book.cancel_task("decide", "删除请求已撤回 (the request was withdrawn)", actor=msg.actor)
            await self._end(WITHDRAWN, "withdrawn", actor=msg.actor, details={"reason": msg.reason})
        return self.view()

    @withdraw.validator
    def _v_withdraw(self, msg: Withdraw) -> None:
        case_ops.check_when_open(self, lambda: self._check_withdraw(msg))

    @workflow.signal(name=EMPLOYMENT_SIGNAL)
    async def employment_changed(self, event: EmploymentEvent) -> None:
        """A change of her employment (she is rehired, say) is recorded here and weighed when the
        case next checks the facts: before the erasure, always."""
        await case_ops.note_employment(self, KIND, self.req.employee_id, event, f"weighed at the next check ({self.stage})")

    @workflow.update
    async def opened(self) -> ErasureView:
        return await case_ops.opened(self, self.view)

    @workflow.query
    def view(self) -> ErasureView:
        return ErasureView(
            workflow_id=workflow.info().workflow_id, employee_id=self.req.employee_id, stage=self.stage,
            closed=self.stage in ENDED, reason=self.req.reason, on_her_request=self.req.on_her_request,
            requested_by=self.req.requested_by.user, assessment=self.assessment,
            decided_by=self.decision.actor.user if self.decision else None,
            decision_reason=self.decision.reason if self.decision else None,
            held_until=self.assessment.held_until if self.assessment else None, erased=self.erased)

    # ------------------------------------------------------------------ rules
    def _check_decide(self, msg: Decision) -> None:
        if self.stage != AWAITING:
            raise kernel.refuse(Refusal.WRONG_STAGE, f"此删除请求当前为 {self.stage}，不能审批"
                                                     f" (this erasure request is {self.stage}: nothing to decide)")
        if msg.actor.role not in DECIDERS:
            raise kernel.refuse(Refusal.WRONG_ROLE, "删除个人信息须由合规审批 (compliance decides an erasure)")
        kernel.not_the_subject(msg.actor, self.req.employee_id)
        if msg.actor.user == self.req.requested_by.user:
            raise kernel.refuse(Refusal.SELF_APPROVAL, "提出删除请求的人不能审批自己的请求，请由另一位合规同事审批"
                                                       " (the person who asked may not approve; another compliance officer must)")

    def _check_withdraw(self, msg: Withdraw) -> None:
        if self.stage not in (AWAITING, HELD):
            raise kernel.refuse(Refusal.WRONG_STAGE, f"此删除请求当前为 {self.stage}，不能撤回"
                                                     f" (this erasure request is {self.stage}: it cannot be withdrawn)")
        hers = self.req.on_her_request and msg.actor.is_employee(self.req.employee_id)
        if not hers and msg.actor.user != self.req.requested_by.user:
            raise kernel.refuse(Refusal.FORBIDDEN, "只有提出请求的人可以撤回 (only the person who asked may withdraw)")
