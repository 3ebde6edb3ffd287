"""MaternityLeaveWorkflow with fake activities and an in-memory ledger: the money it advances and
recovers (seed 000), in workflow time, without PostgreSQL.

The full stack is tested in ``tests/processes/test_maternity.py``. Each test here runs months of
leave, so each has a time-skipping server of its own starting today (``support.time_skipping_env``):
the leave is pinned on the real catalogue for the server's date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.actors import Actor
from domain.contracts.cases import CHANGE_STAGE, CLOSE_TASK, OPEN_TASK
from domain.contracts.maternity import BOOK_ADVANCE, OPEN_BALANCE, RECONCILE_RETURN, SET_SI_STATUS, SETTLE
from domain.contracts.outbox import MATERNITY_NOTIFY
from domain.policy import BirthFacts
from domain.policy.pinning import pin_maternity
from domain.refusals import Refusal
from domain.roles import Role
from hrflow.codec import EncryptionCodec
from tests.processes import support
from tests.processes.support import env_today, eventually, until
from tests.workflows_fast.fakes import MaternityFakes, running
from workflows.kernel import CHINA
from workflows.maternity import (
    ON_LEAVE_STATUS,
    Decision,
    Extension,
    ExtensionDecision,
    MaternityLeaveWorkflow,
    MaternityRequest,
    MaternityView,
    Money,
    ReturnReport,
)

WF = MaternityLeaveWorkflow
EMP = "E2001"
HER = Actor(user=EMP, role=Role.EMPLOYEE, employee_id=EMP)
HR = Actor(user="hr.li", role=Role.HR_SPECIALIST)
MANAGER = Actor(user="mgr.wang", role=Role.HR_MANAGER)
FINANCE = Actor(user="fin.zhao", role=Role.FINANCE)
CUTOFF_DAY = 25
MONTHLY_ADVANCE = Decimal("1053.00")  # Beijing, base 10,000: 8% + 2% + 3 yuan + 0.5%


@pytest.fixture
async def temporal_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    """One server per test, its clock at the real date (months of leave per test)."""
    async with support.time_skipping_env(codec) as env:
        yield env


async def leave_request(env: WorkflowEnvironment) -> MaternityRequest:
    """Her application as the API files it: birth expected in 20 days, no salary during leave
    (so the company advances her personal contribution), one payroll deduction after her return."""
    today = await env_today(env)
    facts = BirthFacts(birth_date=today + timedelta(days=20))
    return MaternityRequest(
        employee_id=EMP, manager_id="E0001", province="Beijing", city="Beijing", department="Sales",
        facts=facts, company_pays_salary=False, monthly_salary=Decimal("10000.00"),
        contribution_base=Decimal("10000.00"), filed_by=HER, today=today,
        policy=pin_maternity("Beijing", "Beijing", facts, on=today), payroll_cutoff_day=CUTOFF_DAY,
        deduction_installments=1)


def cutoffs(first: dt.date, last: dt.date) -> list[str]:
    """The months whose payroll cut-off falls on a day of leave (counted day by day)."""
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [f"{d:%Y-%m}" for d in days if d.day == CUTOFF_DAY]


async def view_of(handle: WorkflowHandle[Any, Any]) -> MaternityView:
    view: MaternityView = await handle.query(WF.view)
    return view


async def on_leave(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> MaternityView:
    """Approved, and the clock run to the start of her leave."""
    opened = await handle.execute_update(WF.opened)
    assert opened.stage == "applied"
    approved = await handle.execute_update(WF.approve, Decision(actor=HR))
    assert approved.stage == "approved"
    await until(env, approved.leave_start)
    view: MaternityView = await eventually(lambda: _stage(handle, "on_leave"), what="stage on_leave")
    return view


async def _stage(handle: WorkflowHandle[Any, Any], stage: str) -> MaternityView | None:
    view = await view_of(handle)
    return view if view.stage == stage else None


def refusal_of(err: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> str | None:
    cause = err.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause.type


async def test_a_decision_closes_the_approval_in_the_step_that_records_its_stage(
        temporal_env: WorkflowEnvironment) -> None:
    """HR's rejection closes the approval task in the step that moves the case to rejected (one
    local activity, one transaction), and nothing closes it apart; her correction task opens."""
    fakes, req = MaternityFakes(), await leave_request(temporal_env)
    async with running(temporal_env, WF, req, fakes, prefix="maternity-fast") as handle:
        await handle.execute_update(WF.opened)
        [approval] = [t for t in fakes.of(OPEN_TASK) if t.task_key.startswith("approve-")]
        rejected = await handle.execute_update(WF.reject, Decision(actor=HR, reason="出生医学证明未上传 (no birth certificate)"))
        assert rejected.stage == "rejected"
        [step] = [s for s in fakes.of(CHANGE_STAGE) if s.stage == "rejected"]
        assert [(c.task_key, c.decision, c.actor.user) for c in step.closes] == [(approval.task_key, "rejected", HR.user)]
        assert fakes.of(CLOSE_TASK) == step.closes
        assert [t for t in fakes.of(OPEN_TASK) if t.task_key.startswith("correct-")]
        await support.record_history(temporal_env.client, handle.id, "maternity", "rejected_closed_with_stage")


async def test_each_month_on_leave_is_advanced_once_at_its_cutoff(temporal_env: WorkflowEnvironment) -> None:
    """Her status changes once at leave start and finance is told the monthly figure; an
    extension mid-leave adds the months it covers, and no month is booked twice."""
    fakes, req = MaternityFakes(), await leave_request(temporal_env)
    async with running(temporal_env, WF, req, fakes, prefix="maternity-fast") as handle:
        started = await on_leave(temporal_env, handle)
        [status] = fakes.of(SET_SI_STATUS)
        assert status.status == ON_LEAVE_STATUS and status.employee_id == EMP
        [told] = [n for n in fakes.of(MATERNITY_NOTIFY) if n.template == "maternity.advance_starts"]
        assert [r.who for r in told.recipients] == [Role.FINANCE]
        assert Decimal(str(told.params["monthly_advance"])) == MONTHLY_ADVANCE

        await until(temporal_env, started.leave_start + timedelta(days=45))
        before = len(fakes.of(BOOK_ADVANCE))
        assert before >= 1
        await handle.execute_update(WF.request_extension, Extension(
            actor=HER, days=40, kind="medical_certificate", reason="doctor's certificate"))
        extended = await handle.execute_update(WF.decide_extension, ExtensionDecision(actor=MANAGER, approve=True))
        assert extended.last_day == started.last_day + timedelta(days=40)

        months = cutoffs(started.leave_start, extended.last_day)
        assert len(months) > len(cutoffs(started.leave_start, started.last_day))  # the extension adds one
        # the evening of her last day: past a cut-off that falls on it (18:00), before her return
        await until(temporal_env, extended.last_day, hour=20)
        view = await eventually(
            lambda: _booked(handle, len(months)), what=f"{len(months)} advances booked")

    booked = fakes.of(BOOK_ADVANCE)
    assert [b.month for b in booked] == months  # each month once, in order, none after her last day
    assert {b.amount for b in booked} == {MONTHLY_ADVANCE}
    for b in booked:  # at the cut-off, 18:00 China time
        local = b.at.astimezone(CHINA)
        assert (f"{local:%Y-%m}", local.day, local.hour) == (b.month, CUTOFF_DAY, 18)
    assert view.advances_booked == {m: MONTHLY_ADVANCE for m in months}
    assert view.outstanding == MONTHLY_ADVANCE * len(months)


async def _booked(handle: WorkflowHandle[Any, Any], count: int) -> MaternityView | None:
    view = await view_of(handle)
    return view if len(view.advances_booked) >= count else None


async def test_no_more_is_recovered_than_is_owed(temporal_env: WorkflowEnvironment) -> None:
    """After her return finance confirms the deductions: more than she owes is refused without
    touching the ledger; an amount another case recovered first is refused by the ledger and the
    case reads what is left; the exact remainder closes the case."""
    fakes, req = MaternityFakes(), await leave_request(temporal_env)
    async with running(temporal_env, WF, req, fakes, prefix="maternity-fast") as handle:
        started = await on_leave(temporal_env, handle)
        [month] = cutoffs(started.leave_start, started.leave_start + timedelta(days=31))[:1]
        await until(temporal_env, dt.date.fromisoformat(f"{month}-{CUTOFF_DAY}") + timedelta(days=1))
        await eventually(lambda: _booked(handle, 1), what="the first advance booked")

        back = await env_today(temporal_env)
        await handle.execute_update(WF.confirm_return, ReturnReport(actor=HR, date=back))
        [reconciled] = fakes.of(RECONCILE_RETURN)
        assert (reconciled.returned_on, reconciled.amount) == (back, MONTHLY_ADVANCE)
        deducting = await eventually(lambda: _stage(handle, "deducting"), what="stage deducting")
        assert deducting.outstanding == MONTHLY_ADVANCE and deducting.deductions_planned == [MONTHLY_ADVANCE]
        assert any(t.role == Role.FINANCE and t.task_key.startswith("confirm-deductions-")
                   for t in fakes.of(OPEN_TASK))

        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(WF.confirm_deduction, Money(actor=FINANCE, amount=MONTHLY_ADVANCE + Decimal("0.01")))
        assert refusal_of(err) == Refusal.OVER_SETTLEMENT.type_name
        assert fakes.of(SETTLE) == []  # refused before the ledger is touched

        fakes.settled += Decimal("1000.00")  # her final pay in another case recovered 1,000 first
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(WF.confirm_deduction, Money(actor=FINANCE, amount=MONTHLY_ADVANCE, reference="PAY-1"))
        assert refusal_of(err) == Refusal.OVER_SETTLEMENT.type_name
        assert len(fakes.of(OPEN_BALANCE)) == 1
        assert (await view_of(handle)).outstanding == Decimal("53.00")

        await handle.execute_update(WF.confirm_deduction, Money(actor=FINANCE, amount=Decimal("53.00"), reference="PAY-2"))
        final: MaternityView = await handle.result()

    assert final.stage == "closed" and final.outstanding == Decimal("0.00")
    assert [(s.amount, s.method) for s in fakes.of(SETTLE)] == [
        (MONTHLY_ADVANCE, "payroll_deduction"), (Decimal("53.00"), "payroll_deduction")]
    assert fakes.left() == Decimal("0.00")  # the ledger got exactly what she owed, no more
    last = fakes.of(CHANGE_STAGE)[-1]
    assert (last.stage, last.status) == ("closed", "completed")
    assert [s.status for s in fakes.of(SET_SI_STATUS)] == [ON_LEAVE_STATUS, "normal"]
    assert any(c.task_key.startswith("confirm-deductions-") and c.decision == "done" for c in fakes.of(CLOSE_TASK))


async def test_a_month_another_case_booked_is_not_owed_twice(temporal_env: WorkflowEnvironment) -> None:
    """The ledger already holds her advance for the month (another case booked it): this case owes
    nothing for it and finance gets a task to sort out which case recovers it; cancelled mid-leave
    with nothing owed, the case closes and her status is restored."""
    fakes, req = MaternityFakes(), await leave_request(temporal_env)
    async with running(temporal_env, WF, req, fakes, prefix="maternity-fast") as handle:
        started = await on_leave(temporal_env, handle)
        [month] = cutoffs(started.leave_start, started.leave_start + timedelta(days=31))[:1]
        fakes.booked_elsewhere.add(month)
        await until(temporal_env, dt.date.fromisoformat(f"{month}-{CUTOFF_DAY}") + timedelta(days=1))
        view = await eventually(lambda: _booked(handle, 1), what="the first month handled")
        assert view.advances_booked == {month: Decimal("0.00")} and view.outstanding == Decimal("0.00")
        [conflict] = [t for t in fakes.of(OPEN_TASK) if t.task_key.startswith(f"advance-conflict-{month}")]
        assert (conflict.role, conflict.by_hand) == (Role.FINANCE, True)

        cancelled = await handle.execute_update(WF.withdraw, Decision(actor=MANAGER, reason="miscarriage"))
        assert cancelled.stage == "cancelled"
        final: MaternityView = await handle.result()

    assert final.stage == "cancelled" and final.outstanding == Decimal("0.00")
    assert [b.month for b in fakes.of(BOOK_ADVANCE)] == [month]
    on, restored = fakes.of(SET_SI_STATUS)
    assert (on.status, restored.status) == (ON_LEAVE_STATUS, "normal")  # the undo restored what it replaced
    assert fakes.of(SETTLE) == []
    last = fakes.of(CHANGE_STAGE)[-1]
    assert (last.stage, last.status) == ("cancelled", "withdrawn")
