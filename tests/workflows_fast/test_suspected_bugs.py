"""Behaviour the workflows' own docstrings promise, found missing while writing these fast tests.
One still missing would be a strict xfail: it fails until the workflow is fixed, then its marker is
removed and it guards the fix from there on, as these do (the fixes are behind the patches
``revocation-failure-by-hand``, ``repin-records-stage`` and ``undo-tasks-stay-open``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.contracts.cases import CLOSE_TASK, OPEN_TASK
from domain.contracts.maternity import SET_SI_STATUS, SetSiStatus
from domain.contracts.si_change import REVOKE
from domain.refusals import Refusal
from hrflow.codec import EncryptionCodec
from tests.processes import support
from tests.processes.support import eventually
from tests.workflows_fast.fakes import MaternityFakes, SiChangeFakes, running
from tests.workflows_fast.test_maternity import MANAGER, leave_request, on_leave
from tests.workflows_fast.test_si_change import CHECKER, WF, WINDOW, policy, request, stage_is
from workflows.maternity import Decision, MaternityLeaveWorkflow
from workflows.si_change import Approve, Decide, NewPolicy, SiChangeResult


async def test_a_revocation_the_agency_cannot_process_becomes_a_manual_task(
        temporal_env: WorkflowEnvironment) -> None:
    fakes = SiChangeFakes()
    fakes.revoke_outcomes = [ApplicationError("the agency's records differ from ours",
                                              type=Refusal.RECORDS_OUT_OF_STEP.type_name, non_retryable=True)]
    async with running(temporal_env, WF, request(), fakes, prefix="si-bug") as handle:
        await handle.execute_update(WF.opened)
        await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        await temporal_env.sleep(WINDOW + timedelta(hours=1))
        await eventually(lambda: stage_is(handle, "executed"), what="stage executed")
        await handle.execute_update(WF.revoke, Decide(actor=CHECKER, reason="entered by mistake"))
        outcome: SiChangeResult = await handle.result()
        await support.record_history(temporal_env.client, handle.id, "si_change", "revocation_failed_done_by_hand")
    assert len(fakes.of(REVOKE)) == 1
    assert outcome.stage == "revocation_manual"
    assert fakes.of(OPEN_TASK)[-1].task_key.startswith("manual-revocation-")


async def test_a_repin_that_voids_an_approval_records_the_case_as_submitted(
        temporal_env: WorkflowEnvironment) -> None:
    fakes = SiChangeFakes()
    async with running(temporal_env, WF, request(), fakes, prefix="si-bug") as handle:
        await handle.execute_update(WF.opened)
        await handle.execute_update(WF.approve, Approve(actor=CHECKER))
        repinned = policy().model_copy(update={"version": "repinned-for-test"})
        await handle.signal(WF.repin_policy, NewPolicy(actor=CHECKER, reason="new figures", policy=repinned))
        await eventually(lambda: (fakes.of(OPEN_TASK)[-1].title.startswith("重新审批：政策数字已变更")), what="re-approval task")
        assert await stage_is(handle, "submitted")  # the workflow's own stage: voided, as it should
        await support.record_history(temporal_env.client, handle.id, "si_change", "repin_voids_approval_recorded")
    assert fakes.stages() == ["submitted", "approved", "submitted"]  # what the database is told


class _RestoreFails(MaternityFakes):
    @activity.defn(name=SET_SI_STATUS.name)
    async def set_si_status(self, req: SetSiStatus) -> str:
        if req.step == "si-status-restored":
            self.record(SET_SI_STATUS, req)
            raise ApplicationError(f"no employee {req.employee_id}", type=Refusal.EMPLOYEE_MISSING.type_name,
                                   non_retryable=True)
        return await super().set_si_status(req)


@pytest.fixture
async def own_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    async with support.time_skipping_env(codec) as env:
        yield env


async def test_a_failed_undo_stays_in_an_inbox_after_the_leave_is_cancelled(own_env: WorkflowEnvironment) -> None:
    fakes, req = _RestoreFails(), await leave_request(own_env)
    async with running(own_env, MaternityLeaveWorkflow, req, fakes, prefix="maternity-bug") as handle:
        await on_leave(own_env, handle)
        await handle.execute_update(MaternityLeaveWorkflow.withdraw, Decision(actor=MANAGER, reason="miscarriage"))
        await handle.result()
        await support.record_history(own_env.client, handle.id, "maternity", "failed_undo_stays_open")
    [undo] = [t for t in fakes.of(OPEN_TASK) if t.task_key.startswith("undo-")]
    assert undo.by_hand and undo.role == MANAGER.role
    assert undo.task_key not in [c.task_key for c in fakes.of(CLOSE_TASK)]  # open until a manager has done it
