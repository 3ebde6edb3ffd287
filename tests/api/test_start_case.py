"""A start is answered with the case it started even when the case ran to its end before its
start-up answer could be sent (every date in the past, a saturated worker): never 409 for a case
this very request started. An id whose case closed before the request still is one."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api import workflow_calls
from api.errors import ApiError
from api.workflow_calls import CaseWorkflow, start_case


class Req(BaseModel):
    name: str


class View(BaseModel):
    stage: str


@workflow.defn(name="TestInstantCase")
class InstantCase:
    """A case whose whole life fits in its first workflow task."""

    def __init__(self) -> None:
        self.stage = "started"

    @workflow.run
    async def run(self, req: Req) -> str:
        self.stage = "closed"
        return req.name

    @workflow.update
    async def opened(self) -> View:
        return View(stage=self.stage)

    @workflow.query
    def view(self) -> View:
        return View(stage=self.stage)


CASE = CaseWorkflow[Req, View](run=InstantCase.run, opened=InstantCase.opened, view=InstantCase.view)


async def test_a_case_that_closed_before_its_start_was_answered_is_answered(temporal_env: WorkflowEnvironment,
                                                                           monkeypatch) -> None:
    queue, wf = f"instant-{uuid.uuid4().hex[:6]}", f"instant-{uuid.uuid4().hex[:6]}"
    client = temporal_env.client
    real_opened = workflow_calls.opened

    async def late_opened(handle, method, request_id):  # the start-up answer is sent once the case ran out
        await handle.result()
        return await real_opened(handle, method, request_id)

    monkeypatch.setattr(workflow_calls, "opened", late_opened)
    handle = await client.start_workflow(InstantCase.run, Req(name="x"), id=f"{wf}-warm", task_queue=queue)
    # this module imports the API: the workflow runs outside the sandbox, which would re-import it
    async with Worker(client, task_queue=queue, workflows=[InstantCase], workflow_runner=UnsandboxedWorkflowRunner()):
        await handle.result()  # the worker is up and fast
        view = await start_case(client, CASE, Req(name="x"), id=wf, request_id="r-1", closed="conflict",
                                task_queue=queue)
        assert view.stage == "closed"
        with pytest.raises(ApiError) as again:  # the same id, now closed before this request
            await start_case(client, CASE, Req(name="x"), id=wf, request_id="r-2", closed="conflict", task_queue=queue)
    assert (again.value.status_code, again.value.error) == (409, "case_closed")
