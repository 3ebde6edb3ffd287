"""SocialInsuranceChangeWorkflow with fake activities: maker-checker, the cost confirmation, the
rollback window and the agency's answers, in workflow time, without PostgreSQL or the agency.

The full stack (API, real activities, PostgreSQL, the simulated agency) is tested in
``tests/processes/test_si_change.py``; here only the workflow's own decisions are: which activity
it calls, with what, how often, and which stage and refusal it ends in.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.actors import Actor
from domain.contracts.cases import CLOSE_TASK, OPEN_TASK
from domain.contracts.si_change import EXECUTE, REVOKE, TRANSITION, VALIDATE, ChangeFacts
from domain.policy.pinning import SiChangeSnapshot, pin_si_change
from domain.refusals import Refusal
from domain.roles import Role
from domain.si_change import ChangeKind
from tests.processes.support import eventually
from tests.workflows_fast.fakes import SiChangeFakes, running
from workflows.si_change import Approve, Correct, Decide, SiChangeRequest, SiChangeResult, SocialInsuranceChangeWorkflow

WF = SocialInsuranceChangeWorkflow
MAKER = Actor(user="hr.li", role=Role.HR_SPECIALIST, request_id="r-maker")
CHECKER = Actor(user="mgr.wang", role=Role.HR_MANAGER, request_id="r-checker")
OTHER_MANAGER = Actor(user="mgr.zhou", role=Role.HR_MANAGER, request_id="r-other")
WINDOW = timedelta(hours=72)
BACK_PAY_MONTHS = ["2026-08", "2026-09", "2026-10"]


@cache
def policy() -> SiChangeSnapshot:
    return pin_si_change("Beijing", dt.date(2026, 11, 1))


def request(kind: ChangeKind = ChangeKind.ENROLLMENT, *, months: list[str] | None = None,
            correction_window: timedelta = timedelta(days=30)) -> SiChangeRequest:
    facts = ChangeFacts(employee_id="E1001", city=policy().city, kind=kind, base=Decimal("10000.00"),
                        months=months or [], effective_month="2026-11")
    return SiChangeRequest(facts=facts, reason="new hire", maker=MAKER, department="Sales", province="Beijing",
                           today=dt.date(2026, 11, 1), policy=policy(), rollback_window=WINDOW,
                           correction_window=correction_window, followup=timedelta(days=1))


def refusal_of(err: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> str | None:
    cause = err.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause.type


async def stage_is(handle: WorkflowHandle[Any, Any], stage: str) -> bool:
    view = await handle.query(WF.view)
    return view.stage == stage


async def test_approved_change_reaches_the_agency_once_after_the_rollback_window(
        temporal_env: WorkflowEnvironment) -> None:
    fakes, req = SiChangeFakes(), request()
    async with running(temporal_env, WF, req, fakes, prefix="si-fast") as handle:
        opened = await handle.execute_update(WF.opened)
        assert opened.stage == "submitted"
        [task] = fakes.of(OPEN_TASK)
        assert task.role == Role.HR_MANAGER and task.task_key.startswith("approve-")
        assert [v.facts for v in fakes.of(VALIDATE)] == [req.facts]

        approved = await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        assert approved.stage == "approved" and approved.approver == CHECKER.user
        assert approved.execute_after is not None
        [closed] = fakes.of(CLOSE_TASK)
        assert (closed.task_key, closed.decision, closed.actor.user) == (task.task_key, "approved", CHECKER.user)
        assert fakes.of(TRANSITION)[-1].next_due_at == approved.execute_after
        assert fakes.of(TRANSITION)[-1].closes == [closed]  # one step: the close rides on the stage it leads to

        await temporal_env.sleep(WINDOW - timedelta(hours=1))
        assert await stage_is(handle, "approved")
        assert fakes.of(EXECUTE) == []  # still inside the window: nothing at the agency

        outcome: SiChangeResult = await handle.result()
    assert outcome.stage == "completed" and outcome.acceptance_no == "SB-FAKE-1"
    [executed] = fakes.of(EXECUTE)
    assert executed.facts == req.facts and executed.attempt == 1
    assert executed.at >= approved.execute_after
    assert fakes.of(REVOKE) == []
    assert fakes.stages() == ["submitted", "approved", "executing", "executed", "completed"]
    assert {t.approver for t in fakes.of(TRANSITION)[1:]} == {CHECKER.user}


@pytest.mark.parametrize("when", ["after_open", "before_open"])
async def test_the_maker_may_not_approve_her_own_change(temporal_env: WorkflowEnvironment, when: str) -> None:
    """Refused by the validator once the case is open, and by the handler for an approval that
    arrives with the start (before the case is open)."""
    fakes = SiChangeFakes()
    maker_as_manager = Actor(user=MAKER.user, role=Role.HR_MANAGER)
    async with running(temporal_env, WF, request(), fakes, prefix="si-fast") as handle:
        if when == "after_open":
            await handle.execute_update(WF.opened)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(WF.approve, Approve(actor=maker_as_manager))
        assert refusal_of(err) == Refusal.SELF_APPROVAL.type_name

        await temporal_env.sleep(WINDOW + timedelta(hours=1))
        view = await handle.query(WF.view)
        assert view.stage == "submitted" and view.approver is None and view.execute_after is None
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert fakes.stages() == ["submitted"]
    assert fakes.of(CLOSE_TASK) == [] and fakes.of(EXECUTE) == []


async def test_a_back_payment_is_approved_only_with_its_total_confirmed(temporal_env: WorkflowEnvironment) -> None:
    fakes, req = SiChangeFakes(), request(ChangeKind.BACK_PAYMENT, months=BACK_PAY_MONTHS)
    async with running(temporal_env, WF, req, fakes, prefix="si-fast") as handle:
        opened = await handle.execute_update(WF.opened)
        total = opened.estimate.total
        assert total == Decimal("7959.00")  # 3 months x 2,653.00 on a base of 10,000 in Beijing

        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        assert refusal_of(err) == Refusal.CONFIRMATION_REQUIRED.type_name
        assert isinstance(err.value.cause, ApplicationError)
        assert Decimal(err.value.cause.details[0]["estimate"]["total"]) == total  # the checker is shown the cost

        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(WF.approve, Approve(actor=CHECKER, confirm_total=Decimal("8000.00")))
        assert refusal_of(err) == Refusal.STALE_CONFIRMATION.type_name
        assert await stage_is(handle, "submitted")
        assert fakes.stages() == ["submitted"] and fakes.of(CLOSE_TASK) == []

        approved = await handle.execute_update(WF.approve, Approve(actor=CHECKER, confirm_total=total))
        assert approved.stage == "approved"
        outcome: SiChangeResult = await handle.result()
    assert outcome.stage == "completed" and outcome.estimate_total == total
    [executed] = fakes.of(EXECUTE)
    assert executed.facts.kind is ChangeKind.BACK_PAYMENT and executed.facts.months == BACK_PAY_MONTHS


def agency_refuses(message: str) -> ApplicationError:
    return ApplicationError(message, type=Refusal.AGENCY_REJECTED.type_name, non_retryable=True)


async def test_an_agency_rejection_returns_the_change_to_the_maker(temporal_env: WorkflowEnvironment) -> None:
    fakes, req = SiChangeFakes(), request()
    fakes.execute_outcomes = [agency_refuses("base below the insured's last declared wage")]
    async with running(temporal_env, WF, req, fakes, prefix="si-fast") as handle:
        await handle.execute_update(WF.opened)
        await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        await temporal_env.sleep(WINDOW + timedelta(hours=1))
        await eventually(lambda: stage_is(handle, "agency_rejected"), what="stage agency_rejected")

        assert len(fakes.of(EXECUTE)) == 1  # a business rejection is not retried
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING  # not a failed case
        view = await handle.query(WF.view)
        assert view.agency_reason == "base below the insured's last declared wage" and view.acceptance_no is None
        correct_task = fakes.of(OPEN_TASK)[-1]
        assert correct_task.task_key.startswith("correct-")
        assert (correct_task.role, correct_task.assignee) == (Role.HR_SPECIALIST, MAKER.user)

        # The maker corrects it; the correction needs a new approval and a new window.
        corrected = await handle.execute_update(
            WF.correct, Correct(actor=MAKER, reason="declared wage", base=Decimal("12000.00")))
        assert corrected.stage == "submitted" and corrected.approver is None and corrected.agency_reason is None
        assert fakes.of(VALIDATE)[-1].facts.base == Decimal("12000.00")
        await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        outcome: SiChangeResult = await handle.result()

    assert outcome.stage == "completed" and outcome.acceptance_no == "SB-FAKE-2"
    first, second = fakes.of(EXECUTE)
    assert first.facts == req.facts
    assert second.facts == req.facts.model_copy(update={"base": Decimal("12000.00")})
    assert second.attempt > first.attempt  # each approval round is its own agency submission
    assert fakes.stages() == ["submitted", "approved", "executing", "agency_rejected",
                              "submitted", "approved", "executing", "executed", "completed"]


async def test_an_uncorrected_agency_rejection_closes_the_case_without_failing_it(
        temporal_env: WorkflowEnvironment) -> None:
    fakes = SiChangeFakes()
    fakes.execute_outcomes = [agency_refuses("duplicate enrollment")]
    async with running(temporal_env, WF, request(correction_window=timedelta(days=2)), fakes,
                       prefix="si-fast") as handle:
        await handle.execute_update(WF.opened)
        await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        outcome: SiChangeResult = await handle.result()  # raises if the workflow failed
    assert outcome.stage == "agency_rejected" and outcome.agency_reason == "duplicate enrollment"
    assert outcome.acceptance_no is None
    assert len(fakes.of(EXECUTE)) == 1
    last = fakes.of(TRANSITION)[-1]
    assert (last.stage, last.status) == ("agency_rejected", "rejected")


async def test_a_revocation_inside_the_window_never_reaches_the_agency(temporal_env: WorkflowEnvironment) -> None:
    fakes = SiChangeFakes()
    async with running(temporal_env, WF, request(), fakes, prefix="si-fast") as handle:
        await handle.execute_update(WF.opened)
        await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        await temporal_env.sleep(timedelta(hours=24))

        with pytest.raises(WorkflowUpdateFailedError) as err:  # only the approver revokes her approval
            await handle.execute_update(WF.revoke, Decide(actor=OTHER_MANAGER, reason="not mine"))
        assert refusal_of(err) == Refusal.NOT_APPROVER.type_name

        revoked = await handle.execute_update(WF.revoke, Decide(actor=CHECKER, reason="wrong kind"))
        assert revoked.stage == "submitted" and revoked.approver is None and revoked.execute_after is None
        assert fakes.of(OPEN_TASK)[-1].task_key.startswith("approve-")  # back in a checker's inbox

        await temporal_env.sleep(WINDOW)  # past the end of the revoked approval's window
        assert await stage_is(handle, "submitted")
        assert fakes.of(EXECUTE) == []

        await handle.execute_update(WF.withdraw, Decide(actor=MAKER, reason="hire postponed"))
        outcome: SiChangeResult = await handle.result()
    assert outcome.stage == "withdrawn"
    assert fakes.of(EXECUTE) == [] and fakes.of(REVOKE) == []
    assert fakes.stages() == ["submitted", "approved", "submitted", "withdrawn"]


async def test_a_new_approval_starts_a_new_window(temporal_env: WorkflowEnvironment) -> None:
    """The first approval's timer must not execute the second approval early."""
    fakes = SiChangeFakes()
    async with running(temporal_env, WF, request(), fakes, prefix="si-fast") as handle:
        await handle.execute_update(WF.opened)
        first = await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        await temporal_env.sleep(timedelta(hours=24))
        await handle.execute_update(WF.revoke, Decide(actor=CHECKER, reason="check the base"))
        await temporal_env.sleep(timedelta(hours=24))
        second = await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        assert first.execute_after is not None and second.execute_after is not None
        assert second.execute_after - first.execute_after >= timedelta(hours=48)

        await temporal_env.sleep(timedelta(hours=25))  # past the first window's end, inside the second
        assert await stage_is(handle, "approved")
        assert fakes.of(EXECUTE) == []
        outcome: SiChangeResult = await handle.result()
    assert outcome.stage == "completed"
    [executed] = fakes.of(EXECUTE)
    assert executed.at >= second.execute_after


@pytest.mark.parametrize("agency", ["accepts", "refuses"])
async def test_a_revocation_after_execution_is_filed_at_the_agency_once(
        temporal_env: WorkflowEnvironment, agency: str) -> None:
    """The compensation: revoked at the agency while its window is open; refused there, it becomes
    a manual task for HR (by hand: it stays open after the case ends)."""
    fakes, req = SiChangeFakes(), request()
    if agency == "refuses":
        fakes.revoke_outcomes = [ApplicationError("contributions already collected",
                                                  type=Refusal.REVOCATION_REFUSED.type_name, non_retryable=True)]
    async with running(temporal_env, WF, req, fakes, prefix="si-fast") as handle:
        await handle.execute_update(WF.opened)
        await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        await temporal_env.sleep(WINDOW + timedelta(hours=1))
        await eventually(lambda: stage_is(handle, "executed"), what="stage executed")
        view = await handle.execute_update(WF.revoke, Decide(actor=CHECKER, reason="entered by mistake"))
        outcome: SiChangeResult = await handle.result()

    [revoke] = fakes.of(REVOKE)
    assert (revoke.acceptance_no, revoke.facts, revoke.actor.user) == ("SB-FAKE-1", req.facts, CHECKER.user)
    assert len(fakes.of(EXECUTE)) == 1
    if agency == "accepts":
        assert view.stage == outcome.stage == "revoked" and outcome.revocation_no == "RV-FAKE-1"
    else:
        assert view.stage == outcome.stage == "revocation_manual" and outcome.revocation_no is None
        manual = fakes.of(OPEN_TASK)[-1]
        assert manual.task_key == view.manual_task and manual.by_hand and manual.role == Role.HR_SPECIALIST
        assert "SB-FAKE-1" in manual.title
