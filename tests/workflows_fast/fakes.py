"""Same-named fake activities for fast workflow tests: no database, no agency, no real activity.

Each fake is registered under its contract's name (``REF.name`` from ``domain.contracts``), takes
the contract's request type and answers its result type, and records every request it receives in
``calls`` so a test can assert which steps the workflow took, with what, and how often. The real
workflow class runs on the time-skipping test server (``temporal_env`` of ``tests/conftest.py``)
with a worker that knows only these fakes (the pattern of temporalio's samples-python
``tests/hello/hello_activity_test.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.approval_routes import BUILT_IN, ResolvedRoute, ResolvedStep, Signer
from domain.contracts import ActivityRef
from domain.contracts.approval import RESOLVE_ROUTE, ResolveRoute
from domain.contracts.cases import (
    CHANGE_STAGE,
    CLOSE_TASK,
    OPEN_CASE,
    OPEN_TASK,
    RECORD_AUDIT,
    TRACK_DEADLINE,
    ChangeStage,
    CloseTask,
    OpenCase,
    OpenTask,
    RecordAudit,
    TrackDeadline,
)
from domain.contracts.maternity import (
    BOOK_ADVANCE,
    CLAIM_ALLOWANCE,
    OPEN_BALANCE,
    RECOMPUTE,
    RECONCILE_RETURN,
    SET_SI_STATUS,
    SETTLE,
    BookAdvance,
    ClaimAllowance,
    OpenBalance,
    Recompute,
    ReconcileReturn,
    SetSiStatus,
    Settle,
)
from domain.contracts.outbox import MATERNITY_NOTIFY, NOTIFY, Notify
from domain.contracts.si_change import (
    EXECUTE,
    REVOKE,
    TRANSITION,
    VALIDATE,
    Execute,
    Executed,
    Revoke,
    Revoked,
    Transition,
    ValidateChange,
)
from domain.policy.pinning import MaternitySnapshot, pin_maternity
from domain.refusals import Refusal

# An answer queued for a fake: a value to return, or an exception to raise.
Outcome = Any


class Recorder:
    """Every request the fakes received, in order, by activity name."""

    def __init__(self) -> None:
        self.log: list[tuple[str, BaseModel]] = []

    def record(self, ref: ActivityRef[Any, Any], req: BaseModel) -> None:
        self.log.append((ref.name, req))

    def of(self, ref: ActivityRef[Any, Any]) -> list[Any]:
        """The requests the activity ``ref`` names received, oldest first."""
        return [req for name, req in self.log if name == ref.name]

    def names(self) -> list[str]:
        return [name for name, _ in self.log]

    def activities(self) -> list[Callable[..., Any]]:
        """The fakes to register with a worker: every method carrying an activity definition."""
        found = []
        for attr in dir(type(self)):
            method = getattr(self, attr)
            if callable(method) and hasattr(method, "__temporal_activity_definition"):
                found.append(method)
        return found


class CaseFakes(Recorder):
    """The case bookkeeping every process records (``workflows.case_ops``)."""

    @activity.defn(name=OPEN_CASE.name)
    async def open_case(self, req: OpenCase) -> None:
        self.record(OPEN_CASE, req)

    @activity.defn(name=CHANGE_STAGE.name)
    async def change_stage(self, req: ChangeStage) -> None:
        self.record(CHANGE_STAGE, req)
        for closing in req.closes:  # as the real step: the tasks its decision closes, closed with the stage
            self.record(CLOSE_TASK, closing)

    @activity.defn(name=OPEN_TASK.name)
    async def open_task(self, req: OpenTask) -> None:
        self.record(OPEN_TASK, req)

    @activity.defn(name=CLOSE_TASK.name)
    async def close_task(self, req: CloseTask) -> None:
        self.record(CLOSE_TASK, req)

    @activity.defn(name=RECORD_AUDIT.name)
    async def audit(self, req: RecordAudit) -> None:
        self.record(RECORD_AUDIT, req)

    @activity.defn(name=TRACK_DEADLINE.name)
    async def track_deadline(self, req: TrackDeadline) -> None:
        self.record(TRACK_DEADLINE, req)

    @activity.defn(name=NOTIFY.name)
    async def notify(self, req: Notify) -> None:
        self.record(NOTIFY, req)

    @activity.defn(name=RESOLVE_ROUTE.name)
    async def resolve_route(self, req: ResolveRoute) -> ResolvedRoute:
        """hrflow's built-in route of the decision (one step, one role)."""
        self.record(RESOLVE_ROUTE, req)
        route = BUILT_IN[req.decision]
        return ResolvedRoute(decision=req.decision, version=route.version, source=route.source, on=req.on,
                             steps=[ResolvedStep(name=s.name, mode=s.mode, signers=[
                                 Signer(role=a.role.value if a.role else "hr_manager", label=a.label())
                                 for a in s.approvers]) for s in route.steps])

    def stages(self) -> list[str]:
        """The stages recorded through ``case.change_stage``, in order."""
        return [req.stage for req in self.of(CHANGE_STAGE)]


def _answer(queue: list[Outcome], default: Outcome) -> Any:
    outcome = queue.pop(0) if queue else default
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


class SiChangeFakes(CaseFakes):
    """The agency and the enrollment records of a social-insurance change, in memory.

    ``execute_outcomes`` / ``revoke_outcomes``: answers for successive calls (an ``Executed``, or an
    exception to raise); once used up, each call succeeds with a fresh acceptance number."""

    def __init__(self) -> None:
        super().__init__()
        self.execute_outcomes: list[Outcome] = []
        self.revoke_outcomes: list[Outcome] = []

    @activity.defn(name=VALIDATE.name)
    async def validate(self, req: ValidateChange) -> None:
        self.record(VALIDATE, req)

    @activity.defn(name=TRANSITION.name)
    async def transition(self, req: Transition) -> None:
        self.record(TRANSITION, req)
        for closing in req.closes:  # as the real step: the tasks its decision closes, closed with the stage
            self.record(CLOSE_TASK, closing)

    @activity.defn(name=EXECUTE.name)
    async def execute(self, req: Execute) -> Executed:
        self.record(EXECUTE, req)
        n = len(self.of(EXECUTE))
        answer: Executed = _answer(self.execute_outcomes, Executed(acceptance_no=f"SB-FAKE-{n}", previous_base=None))
        return answer

    @activity.defn(name=REVOKE.name)
    async def revoke(self, req: Revoke) -> Revoked:
        self.record(REVOKE, req)
        n = len(self.of(REVOKE))
        answer: Revoked = _answer(self.revoke_outcomes, Revoked(revocation_no=f"RV-FAKE-{n}"))
        return answer

    def stages(self) -> list[str]:
        """The stages recorded through ``si.transition``, in order."""
        return [req.stage for req in self.of(TRANSITION)]


class MaternityFakes(CaseFakes):
    """Her status and her receivables, an in-memory ledger: ``booked`` month -> amount, ``settled``.

    ``settle_outcomes``: exceptions to raise on successive settlements before the ledger is used
    (another case recovering part of it first, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.si_status = "normal"
        self.booked: dict[str, Decimal] = {}
        self.booked_elsewhere: set[str] = set()  # months another case booked first
        self.settled = Decimal("0.00")
        self.settle_outcomes: list[Outcome] = []

    def left(self) -> Decimal:
        return sum(self.booked.values(), Decimal("0.00")) - self.settled

    @activity.defn(name=MATERNITY_NOTIFY.name)
    async def maternity_notify(self, req: Notify) -> None:
        self.record(MATERNITY_NOTIFY, req)

    @activity.defn(name=SET_SI_STATUS.name)
    async def set_si_status(self, req: SetSiStatus) -> str:
        self.record(SET_SI_STATUS, req)
        previous, self.si_status = self.si_status, req.status
        return previous

    @activity.defn(name=BOOK_ADVANCE.name)
    async def book_advance(self, req: BookAdvance) -> bool:
        self.record(BOOK_ADVANCE, req)
        if req.month in self.booked_elsewhere or req.month in self.booked:
            return False
        self.booked[req.month] = req.amount
        return True

    @activity.defn(name=SETTLE.name)
    async def settle(self, req: Settle) -> Decimal:
        self.record(SETTLE, req)
        if self.settle_outcomes:
            _answer(self.settle_outcomes, None)
        if req.amount > self.left():
            raise ApplicationError(f"{req.amount} is more than the {self.left()} open",
                                   type=Refusal.OVER_SETTLEMENT.type_name, non_retryable=True)
        self.settled += req.amount
        return self.left()

    @activity.defn(name=OPEN_BALANCE.name)
    async def open_balance(self, req: OpenBalance) -> Decimal:
        self.record(OPEN_BALANCE, req)
        return self.left()

    @activity.defn(name=RECONCILE_RETURN.name)
    async def reconcile_return(self, req: ReconcileReturn) -> dict[str, Decimal]:
        self.record(RECONCILE_RETURN, req)
        return dict(self.booked)

    @activity.defn(name=RECOMPUTE.name)
    async def recompute(self, req: Recompute) -> MaternitySnapshot:
        self.record(RECOMPUTE, req)
        return pin_maternity(req.province, req.city, req.facts, on=req.on)

    @activity.defn(name=CLAIM_ALLOWANCE.name)
    async def claim_allowance(self, req: ClaimAllowance) -> str:
        self.record(CLAIM_ALLOWANCE, req)
        return "MA-FAKE-1"


# Real seconds a test may take (each takes a few): a workflow that never idles keeps the server from
# skipping time, and an update or a sleep then waits for ever; such a test must fail, not hang.
TEST_TIMEOUT = 90.0


@asynccontextmanager
async def running(env: WorkflowEnvironment, workflow: type, req: BaseModel, fakes: Recorder, *,
                  prefix: str, timeout: float = TEST_TIMEOUT) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    """Start ``workflow`` with ``req`` on a worker of its own that knows only ``fakes``, and give
    the test's body ``timeout`` real seconds. Terminate the workflow afterwards if it still runs (a
    timer left waiting for a worker that is gone would stop the shared time-skipping server from
    skipping time for the next test)."""
    queue = f"fast-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[workflow], activities=fakes.activities()):
        handle = await env.client.start_workflow(
            workflow.run, req, id=f"{prefix}-{uuid.uuid4().hex[:8]}", task_queue=queue)  # type: ignore[attr-defined]
        try:
            async with asyncio.timeout(timeout):
                yield handle
        finally:
            try:
                await handle.terminate("test finished")
            except RPCError:
                pass  # it finished

