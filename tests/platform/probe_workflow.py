"""A minimal case workflow for platform tests: it uses every case operation and one approval
update with a validator, the way process workflows do, without any process logic."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import case_ops

with workflow.unsafe.imports_passed_through():
    from domain.actors import Actor


class ProbeInput(BaseModel):
    employee_id: str
    name: str
    resident_id_number: str


class Decision(BaseModel):
    approve: bool
    reason: str | None = None
    actor: Actor


@workflow.defn
class ProbeWorkflow:
    @workflow.init
    def __init__(self, req: ProbeInput) -> None:
        self.decision: Decision | None = None

    @workflow.run
    async def run(self, req: ProbeInput) -> str:
        await case_ops.open_case(kind="probe", employee_id=req.employee_id, stage="submitted",
                                 summary=f"probe for {req.employee_id}", province="Beijing",
                                 department="IT")
        await case_ops.open_task("review", "Review the probe", "hr_manager")
        await workflow.wait_condition(lambda: self.decision is not None)
        assert self.decision is not None
        verdict = "approved" if self.decision.approve else "rejected"
        await case_ops.close_task("review", verdict, actor=self.decision.actor,
                                  reason=self.decision.reason)
        await case_ops.change_stage("final", verdict, status="completed", actor=self.decision.actor)
        return f"{verdict}: {req.name}"

    @workflow.update
    async def decide(self, decision: Decision) -> str:
        self.decision = decision
        return "recorded"

    @decide.validator
    def _validate(self, decision: Decision) -> None:
        if decision.actor.role != "hr_manager":
            raise ApplicationError(f"role {decision.actor.role} may not decide", type="Forbidden")
        if self.decision is not None:
            raise ApplicationError("already decided", type="AlreadyDecided")
