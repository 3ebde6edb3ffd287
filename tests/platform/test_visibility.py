"""On the real dev server, a case is findable by its search attributes and carries a summary."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from domain.actors import Actor
from tests.platform.probe_workflow import Decision, ProbeWorkflow
from tests.platform.test_case_workflow import add_employee, start_probe
from worker import build_worker
from workflows.search_attributes import PROVINCE


async def test_case_is_findable_by_employee_and_stage(dev_env: WorkflowEnvironment, settings,
                                                      session_factory) -> None:
    add_employee(session_factory, "E3003")
    client = dev_env.client
    async with build_worker(client, settings, session_factory, extra_workflows=[ProbeWorkflow]):
        handle = await start_probe(client, settings, "E3003", static_summary="Probe case for E3003")
        workflow_id = handle.id
        query = "EmployeeId = 'E3003' AND CaseKind = 'probe' AND CaseStage = 'submitted'"
        found: list[str] = []
        for _ in range(100):  # visibility is eventually consistent
            found = [wf.id async for wf in client.list_workflows(query)]
            if found:
                break
            await asyncio.sleep(0.1)
        assert found == [workflow_id]
        description = await handle.describe()
        assert description.typed_search_attributes.get(PROVINCE) == "Beijing"
        assert await description.static_summary() == "Probe case for E3003"
        await handle.execute_update(ProbeWorkflow.decide,
                                    Decision(approve=False, actor=Actor(user="w", role="hr_manager")))
        await handle.result()
